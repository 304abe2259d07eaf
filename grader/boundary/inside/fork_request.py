"""What a zygote is asked to fork, as typed values checked on arrival (the zygote process reads them).

- `WorkerForkRequest`: the worker zygote's child enters `level`'s sandbox (`worker_fork`), boots with
  `boot` and serves in `workspace`;
- `PytestForkRequest`: the trusted zygote's child runs `pytest.main(args)` in `cwd` with exactly `env`.

Each is a frozen dataclass with a version; `to_json` writes plain JSON values, `from_json` rejects
what does not fit (another version, a missing field, a wrong type) with a ValueError naming the
field, before anything is forked: the zygote answers with that error, and the caller starts its
process cold. Standard library only: the zygote's children are sandboxed workers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.boundary.inside.boot import BootPlan

REQUEST_VERSION = 1
LEVELS = ("bwrap", "namespaces", "uid", "none", "off")   # the rungs (grader.boundary.rungs.RUNGS)


def _checked(data, kind: str) -> dict:
    if not isinstance(data, dict) or data.get("version") != REQUEST_VERSION:
        raise ValueError(f"a {kind} request of version {REQUEST_VERSION} was expected, got {str(data)[:80]}")
    return data


def _field(data: dict, name: str, kinds: tuple, kind: str):
    value = data.get(name)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"a {kind} request's {name!r} has the wrong type ({type(value).__name__})")
    return value


def _strings(value, name: str, kind: str) -> None:
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"a {kind} request's {name!r} holds something other than strings")


@dataclass(frozen=True)
class WorkerForkRequest:
    """One sandboxed worker: its rung, its workspace, its thread count, its boot, and what the rung's
    entry needs besides (`bwrap`: rung a's bubblewrap command line; `view`: rung b's
    `MountView.namespace_input()`; `uid`: rung c's uid)."""
    level: str
    workspace: str
    threads: int
    boot: BootPlan
    bwrap: tuple[str, ...] = ()
    view: dict | None = None
    uid: int | None = None

    def to_json(self) -> dict:
        return {"version": REQUEST_VERSION, "level": self.level, "workspace": self.workspace, "threads": self.threads,
                "boot": self.boot.to_json(), "bwrap": list(self.bwrap), "view": self.view, "uid": self.uid}

    @classmethod
    def from_json(cls, data) -> WorkerForkRequest:
        data, kind = _checked(data, "worker fork"), "worker fork"
        level = _field(data, "level", (str,), kind)
        if level not in LEVELS:
            raise ValueError(f"a worker fork request's level {level!r} is none of {', '.join(LEVELS)}")
        bwrap = _field(data, "bwrap", (list,), kind)
        _strings(bwrap, "bwrap", kind)
        needs = {"bwrap": ("bwrap", list), "namespaces": ("view", dict), "uid": ("uid", int)}.get(level)
        if needs is not None and not (isinstance(data.get(needs[0]), needs[1]) and data.get(needs[0]) != []):
            raise ValueError(f"a worker fork request on rung {level!r} needs its {needs[0]!r}")
        threads = _field(data, "threads", (int,), kind)
        if threads < 1:
            raise ValueError(f"a worker fork request's threads must be at least 1, got {threads}")
        return cls(level=level, workspace=_field(data, "workspace", (str,), kind), threads=threads,
                   boot=BootPlan.from_json(data.get("boot")), bwrap=tuple(bwrap),
                   view=_field(data, "view", (dict, type(None)), kind), uid=_field(data, "uid", (int, type(None)), kind))


@dataclass(frozen=True)
class PytestForkRequest:
    """One trusted pytest process: its arguments, its whole environment, its working folder."""
    args: tuple[str, ...]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"version": REQUEST_VERSION, "args": list(self.args), "cwd": self.cwd, "env": dict(self.env)}

    @classmethod
    def from_json(cls, data) -> PytestForkRequest:
        data, kind = _checked(data, "pytest fork"), "pytest fork"
        args, env = _field(data, "args", (list,), kind), _field(data, "env", (dict,), kind)
        _strings(args, "args", kind)
        _strings([*env, *env.values()], "env", kind)
        return cls(args=tuple(args), cwd=_field(data, "cwd", (str,), kind), env=dict(env))

