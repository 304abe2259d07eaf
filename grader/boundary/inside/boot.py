"""The worker's boot: its first steps on every rung, cold-started or forked, before it reads the submission.

One function, `boot`, for both ways a worker starts:

- cold: the launcher execs `python -I -c COLD_START <socket fd> <engine folder>` inside the rung's
  sandbox, the plan in its environment (`cold_start`); `main` reads the plan, boots, and serves;
- forked: the worker zygote's child enters the rung's sandbox (`grader.boundary.inside.worker_fork`), then
  calls `boot` with the plan that came in its request, and serves.

The steps, in order: for a root grader on rungs (a) and (b), the drop to the worker's own uid
(`drop_to`, `grader.boundary.inside.mountns.become_nobody_as`); no new privileges; exactly the scrubbed
environment; the copy into a quota'd workspace (`fill_from`); the rlimits, soft = hard so the
submission cannot raise them. Done in Python rather than with `prlimit`, so it also works where
util-linux is missing. Standard library only: it runs before the worker imports anything else.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field

PLAN_VERSION = 1
PR_SET_NO_NEW_PRIVS = 38
COPY_FAILED = 3   # exit status: the worker could not copy in the submission (a grader-side failure)
# what a cold start runs: the engine on the path first (rung c: its world-readable copy), then `main`
COLD_START = "import sys; sys.path.insert(0, sys.argv[2]); from grader.boundary.inside.boot import main; main(sys.argv[1])"
# a cold start's plan travels in its environment (readable by its own uid only, unlike a command line)
PLAN_ENV = "DLGRADE_BOOT_PLAN"


@dataclass(frozen=True)
class BootPlan:
    """What a worker's boot applies: the same value on a cold start (as an argument) and in a
    forked worker (in the zygote request)."""
    engine: str                                  # the folder the worker imports the engine from
    env: dict[str, str] = field(default_factory=dict)
    rlimits: tuple[tuple[str, int], ...] = ()    # ("RLIMIT_CPU", seconds), ...
    drop_to: int | None = None                   # a root grader's worker on rungs (a) and (b): its own uid
    fill_from: str | None = None                 # a quota'd workspace: where the read-only copy is shown

    def to_json(self) -> dict:
        return {"version": PLAN_VERSION, **asdict(self), "rlimits": [list(r) for r in self.rlimits]}

    @classmethod
    def from_json(cls, data: dict) -> BootPlan:
        """The plan, checked on arrival: a malformed one stops the worker before any submission code."""
        if not isinstance(data, dict) or data.get("version") != PLAN_VERSION:
            raise ValueError(f"a boot plan of version {PLAN_VERSION} was expected, got {str(data)[:80]}")
        env, rlimits = data.get("env"), data.get("rlimits")
        if not isinstance(data.get("engine"), str) or not isinstance(env, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ValueError("a boot plan needs an engine folder and an environment of strings")
        if not isinstance(rlimits, list) or not all(
                isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) and isinstance(r[1], int) for r in rlimits):
            raise ValueError("a boot plan's rlimits are [name, value] pairs")
        for key in ("drop_to", "fill_from"):
            if data.get(key) is not None and not isinstance(data[key], (int if key == "drop_to" else str)):
                raise ValueError(f"a boot plan's {key} has the wrong type")
        return cls(engine=data["engine"], env=dict(env), rlimits=tuple((n, v) for n, v in rlimits),
                   drop_to=data.get("drop_to"), fill_from=data.get("fill_from"))


def boot(plan: BootPlan) -> None:
    """The worker's first steps (see the module's docstring), in the process that will serve."""
    if plan.drop_to is not None:
        from grader.boundary.inside.mountns import become_nobody_as
        become_nobody_as(int(plan.drop_to))
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.environ.clear()
    os.environ.update(plan.env)
    if plan.fill_from:
        _fill_workspace(plan.fill_from)  # before any of the submission's code runs
    _set_rlimits(plan.rlimits)


def _fill_workspace(view: str) -> None:
    """Copy the submission from its read-only view into the quota'd workspace (the current folder)."""
    try:
        for name in os.listdir(view):  # entry by entry: the folder itself may be root's (bubblewrap's tmpfs, 0777)
            path = os.path.join(view, name)
            (shutil.copytree if os.path.isdir(path) else shutil.copy2)(path, name)
    except OSError as e:  # read as a grader-side failure (the clean worker fails the same way)
        print(f"dlgrade: the worker cannot copy in the submission: {e}", file=sys.stderr, flush=True)
        sys.exit(COPY_FAILED)


def _set_rlimits(rlimits: tuple[tuple[str, int], ...]) -> None:
    try:
        import resource
    except ImportError:  # Windows: no rlimits
        return
    for name, value in rlimits:
        kind = getattr(resource, name, None)
        if kind is not None:
            hard = resource.getrlimit(kind)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))


def cold_start(python: str, plan: BootPlan, fd: int) -> tuple[list[str], dict[str, str]]:
    """The command a cold start execs inside its rung's sandbox (this interpreter, isolated: -I) and
    the environment to exec it with: the worker's own plus the plan, which `boot` then removes."""
    return [python, "-I", "-c", COLD_START, str(fd), plan.engine], {**plan.env, PLAN_ENV: json.dumps(plan.to_json())}


def main(fd: str) -> None:
    """A cold start, serving on the socket `fd` once booted."""
    plan = BootPlan.from_json(json.loads(os.environ.get(PLAN_ENV, "null")))
    boot(plan)
    from grader.boundary.inside.worker import main as serve
    serve([fd])
