"""The isolation ladder, one object per rung: how it is probed, what the worker's filesystem shows
on it, how a worker is launched on it (cold, or forked by the worker zygote), and what it protects.

| rung | how | protects | does not protect |
|---|---|---|---|
| (a) `bwrap` | bubblewrap: user, mount, PID, network, IPC, UTS namespaces; uid 65534 | filesystem (only the system, Python, the worker's engine files and its own workspace are visible), processes, network, other submissions | kernel exploits |
| (b) `namespaces` | the same `MountView` built by `grader.boundary.inside.mountns` inside util-linux `unshare` namespaces; uid 65534 in a nested user namespace | the same as (a) | kernel exploits |
| (c) `uid` | root only, no namespaces allowed (Docker's default profile, Gradescope): a dedicated unprivileged uid per worker that owns its workspace; deny by default: while a command grades, the checkout, the inputs, the data and the output folder are closed to every user but root (`grader.boundary.closed_folders`), the worker imports a world-readable copy of its engine files, /proc hides other users' processes where the kernel allows; its processes are killed, and its files in /tmp, /var/tmp and /dev/shm deleted, by uid when it stops | everything of the grader's (checked before the first submission by `grader.boundary.canary`), other submissions' workspaces and processes | the network; the machine's own world-readable files; world-writable folders while two workers run at once; no disk quota |
| (d) `none` | nothing but rlimits (a normal user without namespaces; a student's own machine) | nothing: the code runs as the grader's user | everything; `grade` warns on every run, `--sandbox strict` refuses |

No uid 0 for student code: started by root, a worker on rungs (a) and (b) too runs as an unprivileged
host uid of its own (`UidSlot`), nobody in a user namespace of that uid (`mountns.become_nobody_as`,
called by the boot: `BootPlan.drop_to`), so RLIMIT_NPROC holds where no pids cgroup can be made.
Each rung hands the same `BootPlan` to `grader.boundary.inside.boot` on both ways a worker starts.
"""
from __future__ import annotations

import abc
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.boundary.inside.boot import BootPlan
from grader.boundary.mount_view import ENGINE_DIR, INSIDE_DIR, SUBMISSION_VIEW, MountView, mount_view
from grader.boundary.uid_slots import UidSlot

LEVELS = ("bwrap", "namespaces", "uid", "none")
STRICT_LEVELS = ("bwrap", "namespaces")


@dataclass(frozen=True)
class Isolation:
    """The rung this command runs on, probed once and passed to every worker (also through the run file)."""
    level: str                  # one of LEVELS, or "off"
    bwrap: str | None = None
    unshare: str | None = None
    setpriv: str | None = None
    cgroup: str | None = None   # "v2", "v1" or None
    unreachable: tuple = ()     # why the higher rungs are not used, one line each

    @property
    def full(self) -> bool:
        return self.level in STRICT_LEVELS

    @property
    def warning(self) -> str | None:
        if self.level in STRICT_LEVELS:
            return None
        why = "; ".join(self.unreachable)
        return LEVEL_TEXT[self.level] + (f" ({why})" if why else "")

    def describe(self) -> str:
        return LEVEL_TEXT[self.level]

    def to_json(self) -> dict:
        return {**asdict(self), "unreachable": list(self.unreachable)}

    @classmethod
    def from_json(cls, data: dict) -> Isolation:
        return cls(**{**data, "unreachable": tuple(data.get("unreachable") or ())})


def worker_uid_needed(level: str) -> bool:
    """Whether a worker on `level` runs as an unprivileged host uid of its own (a `UidSlot`):
    always on rung (c); on rungs (a) and (b) when the grader is root, whose uid 0 the kernel exempts
    from RLIMIT_NPROC (a fork bomb would pass max_processes wherever no pids cgroup can be made)."""
    return level == "uid" or (level in STRICT_LEVELS and os.geteuid() == 0)


def engine_root(level: str) -> Path:
    """Where a worker on `level` imports the engine from: rung (c) workers from a world-readable copy
    (grader.boundary.closed_folders), since the checkout is closed to them; the others from the checkout."""
    if level == "uid":
        from grader.boundary.closed_folders import worker_engine_copy
        return worker_engine_copy()
    return ENGINE_DIR.parent


def boot_probe(engine: Path, drop_to: int | None = None) -> str:
    """What each probe runs inside the rung: what a worker's boot needs (the interpreter, its packages,
    the engine files at `engine`; for a root grader on rungs a and b, the drop to `drop_to`)."""
    drop = (f"from grader.boundary.inside.mountns import become_nobody_as; become_nobody_as({drop_to}); "
            "import os; os.listdir('.'); ") if drop_to is not None else ""
    return f"import sys; sys.path.insert(0, {str(engine)!r}); {drop}import grader.boundary.inside.worker"


def try_command(argv: list[str], timeout: float = 60) -> str | None:
    """None if `argv` succeeds, else why not (its last line of output)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s"
    except OSError as e:
        return str(e)
    out = p.stdout.decode(errors="replace").strip()
    return None if p.returncode == 0 else (out.splitlines()[-1] if out else "")


@dataclass(frozen=True)
class Rung:
    """One level of the ladder. The base is rung (d): no sandbox, the grader's own user."""
    level: str
    text: str        # how every output names it
    protects: str
    exposes: str     # what it does not protect

    def why_not(self, folder: Path, slot: UidSlot | None) -> str | None:
        """None if a worker's boot runs on this rung here (tried for real, in `folder`), else why not.
        `slot`: the uid a root grader's worker runs as."""
        return None

    def isolation(self, unreachable: tuple, cgroup: str | None) -> Isolation:
        return Isolation(self.level, bwrap=shutil.which("bwrap") if self.level == "bwrap" else None,
                         unshare=shutil.which("unshare"), setpriv=shutil.which("setpriv"), cgroup=cgroup,
                         unreachable=unreachable)

    def view(self, workspace: Path, *, gpu: bool, disk_mb: int | None, masks: list,
             worker_uid: int | None) -> MountView | None:
        """The worker's filesystem on this rung; None: the machine's own (rungs c and d)."""
        return None

    def drop_to(self, slot: UidSlot | None) -> int | None:
        """The uid the boot drops to (rungs a and b for a root grader); rung (c) starts as its uid."""
        return slot.uid if slot is not None and self.level in STRICT_LEVELS else None

    def cold_argv(self, iso: Isolation, command: list[str], env: dict[str, str], view: MountView | None,
                  slot: UidSlot | None) -> list[str]:
        """How a cold start runs `command` (the boot) with `env` on this rung."""
        return ([iso.setpriv, "--no-new-privs"] if iso.setpriv else []) + command

    def fork_request(self, view: MountView | None, slot: UidSlot | None, iso: Isolation) -> dict:
        """What the zygote's child needs to enter this rung (grader.boundary.inside.worker_fork): the fields of
        its `WorkerForkRequest` besides the level, the workspace, the threads and the plan."""
        return {}


class WithMountView(Rung, abc.ABC):
    """Rungs (a) and (b): the worker sees its `MountView` only, set up by the rung's `tool`."""
    tool, missing, refused = "", "", ""   # the program; why the rung is out without it; ... when it fails

    @abc.abstractmethod
    def launcher(self, tool: str, view: MountView) -> list[str]:
        """The command line up to the command the sandbox runs."""

    def why_not(self, folder, slot):
        tool = shutil.which(self.tool)
        if not tool:
            return self.missing
        drop = self.drop_to(slot)
        view = self.view(folder, gpu=False, disk_mb=None, masks=[], worker_uid=drop)
        out = try_command([*self.launcher(tool, view), sys.executable, "-I", "-c", boot_probe(ENGINE_DIR.parent, drop)])
        return None if out is None else f"{self.refused}: {out[:200]}"

    def view(self, workspace, *, gpu, disk_mb, masks, worker_uid):
        return mount_view(workspace, gpu=gpu, disk_mb=disk_mb, masks=masks, worker_uid=worker_uid)


class Bubblewrap(WithMountView):
    tool, refused = "bwrap", "bubblewrap cannot start here"
    missing = "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"

    def launcher(self, tool, view):
        return [tool, *view.bwrap_args(), "--"]

    def cold_argv(self, iso, command, env, view, slot):
        setenv = [a for k, v in env.items() for a in ("--setenv", k, v)]
        return [iso.bwrap, *view.bwrap_args(), "--clearenv", *setenv, "--", *command]

    def fork_request(self, view, slot, iso):
        return {"bwrap": (iso.bwrap, *view.bwrap_args())}


class Namespaces(WithMountView):
    tool, missing, refused = "unshare", "util-linux unshare is not installed", "kernel namespaces are not allowed here"

    def launcher(self, tool, view):
        return namespace_prefix(tool, view)

    def cold_argv(self, iso, command, env, view, slot):
        return [*self.launcher(iso.unshare, view), *command]

    def fork_request(self, view, slot, iso):
        return {"view": view.namespace_input()}


def namespace_prefix(unshare: str, view: MountView) -> list[str]:
    """Rung (b): unshare's namespaces, then grader.boundary.inside.mountns builds `view`. For root (the view
    has a worker_uid) no user namespace: the worker's boot drops to that uid itself."""
    spec = {**view.namespace_input(), "unshare": os.path.realpath(unshare)}
    users = ["--user", "--map-root-user"] if view.worker_uid is None else []
    return [unshare, *users, "--mount", "--pid", "--net", "--ipc", "--uts", "--fork",
            "--kill-child", "--", sys.executable, "-I", str(INSIDE_DIR / "mountns.py"), json.dumps(spec), "--"]


class SeparateUid(Rung):
    def why_not(self, folder, slot):
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0:
            return "a separate uid needs root"
        if not setpriv:
            return "util-linux setpriv is not installed"
        os.chown(folder, slot.uid, slot.uid)
        out = try_command([*self._setpriv(setpriv, slot), sys.executable, "-I", "-c",
                           f"import os; os.listdir({str(folder)!r}); {boot_probe(engine_root('uid'))}"])
        return None if out is None else (
            f"an unprivileged uid cannot run this Python ({out[:160]}); make {sys.prefix} "
            "readable for all users (chmod o+rx on it and o+x on its parent folders)")

    @staticmethod
    def _setpriv(setpriv: str, slot: UidSlot) -> list[str]:
        return [setpriv, f"--reuid={slot.uid}", f"--regid={slot.uid}", "--clear-groups", "--no-new-privs"]

    def cold_argv(self, iso, command, env, view, slot):
        return [*self._setpriv(iso.setpriv, slot), *command]

    def fork_request(self, view, slot, iso):
        return {"uid": slot.uid}


_A = "filesystem (only the system, Python, the worker's engine files and its own workspace are visible), " \
     "processes, network, other submissions"
RUNGS: dict[str, Rung] = {r.level: r for r in (
    Bubblewrap("bwrap", "sandboxed with bubblewrap (filesystem, processes, network and users isolated)",
               _A, "kernel exploits"),
    Namespaces("namespaces", "sandboxed with kernel namespaces (filesystem, processes, network and users "
               "isolated; bubblewrap not installed)", _A, "kernel exploits"),
    SeparateUid("uid", "sandboxed by a separate unprivileged user only (no namespaces on this machine: the "
                "grader's folders are closed to it, but the network and the machine's world-readable files "
                "are not hidden)", "everything of the grader's, other submissions' workspaces and processes",
                "the network, the machine's world-readable files, world-writable folders, disk quota"),
    Rung("none", "NOT sandboxed: student code runs as this user and can read and change anything this user can",
         "nothing", "everything"),
    Rung("off", "sandbox turned off (--sandbox off): student code runs as this user", "nothing", "everything"),
)}
LEVEL_TEXT = {level: rung.text for level, rung in RUNGS.items()}


def boot_plan(rung: Rung, *, env: dict[str, str], rlimits: dict[str, int], slot: UidSlot | None,
              quota: bool) -> BootPlan:
    """The boot a worker on `rung` gets, cold or forked alike."""
    return BootPlan(engine=str(engine_root(rung.level)), env=env, rlimits=tuple(sorted(rlimits.items())),
                    drop_to=rung.drop_to(slot), fill_from=SUBMISSION_VIEW if quota else None)

