"""What the definitions-only load leaves in the worker: the stand-ins for imports that failed and
for defaults it did not compute, and the import guard the filtered submission calls.

Runs inside the sandboxed worker (the filter in grader.intake.definitions writes calls to
`guarded_import`, `DefaultNotComputed`, `deferred_decorator` and `imports_done` into the submission),
so it imports only the standard library.
"""
from __future__ import annotations

import os
import sys

NOT_PYTORCH = {"keras", "tensorflow", "tf_keras"}  # frameworks the course does not use: always stand-ins


class PackageUnavailable(ImportError):
    """Graded code used a package the grading environment does not have (or a Keras/TensorFlow one)."""


DONE = "__dlgrade_imports_done__"  # set in the module's namespace once its top level has run
# beside the filtered files, the files the filter rewrote as the student wrote them (same relative
# paths), so an error names the student's line, not the grader's rewrite of it
AS_WRITTEN_DIR = ".dlgrade-as-written"


def _unavailable_message(package: str, used: str, cause: str) -> str:
    if package in NOT_PYTORCH:
        return (f"this assignment is graded in PyTorch; Keras/TensorFlow code cannot be graded (your code used "
                f"`{used}`): write the graded classes and functions with torch")
    return (f"{package} is not available when grading ({cause}); the graded functions must not need it (your "
            f"code used `{used}`): keep its use (plots, progress bars, data loading) outside them")


class StandIn:
    """What a missing package's import binds. While the module's top level runs, using it gives another
    stand-in (so `transform = transforms.Compose([...])` or `plt.rcParams[...] = ...` do not stop the
    import); afterwards, any use raises PackageUnavailable naming the package."""

    def __init__(self, package: str, used: str, cause: str, namespace: dict | None = None):
        object.__setattr__(self, "_dlgrade", (package, used, cause))
        object.__setattr__(self, "_namespace", namespace if namespace is not None else {DONE: True})

    def _fail(self, suffix: str = ""):
        package, used, cause = object.__getattribute__(self, "_dlgrade")
        raise PackageUnavailable(_unavailable_message(package, used + suffix, cause))

    def _child(self, suffix: str):
        package, used, cause = object.__getattribute__(self, "_dlgrade")
        namespace = object.__getattribute__(self, "_namespace")
        if namespace.get(DONE):
            self._fail(suffix)
        return StandIn(package, used + suffix, cause, namespace)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # protocols (copy, numpy, pickle) probe these: not a use
        return self._child(f".{name}")

    def __call__(self, *args, **kwargs):
        return self._child("(...)")

    def __getitem__(self, key):
        return self._child("[...]")

    def __setitem__(self, key, value):
        self._child("[...]")

    def __setattr__(self, name, value):
        self._child(f".{name}")

    def __mro_entries__(self, bases):
        """`class Net(keras.Model)`: the class is defined; making one raises."""
        stand_in = self

        class Missing:
            def __init_subclass__(cls, **kwargs):
                pass

            def __new__(cls, *args, **kwargs):
                stand_in._fail()
        Missing.__name__ = Missing.__qualname__ = object.__getattribute__(self, "_dlgrade")[1]
        return (Missing,)

    def __repr__(self):
        return f"<stand-in for {object.__getattribute__(self, '_dlgrade')[1]}: not available when grading>"

    def _refuse(self, *args, **kwargs):
        self._fail()

    __iter__ = __len__ = __bool__ = __contains__ = __enter__ = __exit__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __matmul__ = __rmatmul__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = _refuse
    __index__ = __array__ = _refuse


class DefaultUnavailable(PackageUnavailable):
    """Graded code used a default value computed from a statement the definitions-only load skipped."""


class DefaultNotComputed(StandIn):
    """A value the definitions-only load did not compute (a default value, a class attribute, a name a
    dropped statement binds); any use says why and what to do."""

    def __init__(self, why: str, what: str = "a default value of your function",
                 advice: str = "pass the argument, or make the default a constant"):
        object.__setattr__(self, "_dlgrade", ("", what, why))
        object.__setattr__(self, "_namespace", {DONE: True})
        object.__setattr__(self, "_advice", advice)

    def _fail(self, suffix: str = ""):
        _, what, why = object.__getattribute__(self, "_dlgrade")
        advice = object.__getattribute__(self, "_advice")
        raise DefaultUnavailable(f"{what} was not computed while grading: it {why}; {advice}")

    def _child(self, suffix: str):
        self._fail()

    def __repr__(self):
        return f"<{object.__getattribute__(self, '_dlgrade')[1]}: not computed while grading>"


def deferred_decorator(make):
    """`@timer` where `timer` is the submission's own: applied at the decorated function's first call,
    not at import in every worker (`make` evaluates the decorator expression)."""
    import functools

    def decorate(fn):
        applied = []

        @functools.wraps(fn)
        def call(*args, **kwargs):
            if not applied:
                applied.append(make()(fn))
            return applied[0](*args, **kwargs)
        return call
    return decorate


def _add_paths(namespace: dict, dirs: list[str]) -> None:
    """The submission's folders first on sys.path: its own modules import as they did beside it."""
    base = os.path.dirname(os.path.abspath(namespace.get("__file__") or "x"))
    for d in reversed(dirs):
        path = os.path.normpath(os.path.join(base, d))
        if path not in sys.path:
            sys.path.insert(0, path)


def _stand_in(module: str, used: str, error: BaseException, namespace: dict, where: str = "") -> StandIn:
    top = module.split(".")[0]
    cause = ("it is not installed there" if isinstance(error, ModuleNotFoundError) and
             (error.name or "").split(".")[0] == top else f"importing it failed: {str(error)[:200]}")
    return StandIn(top, used, cause + (f"; imported at {where}" if where else ""), namespace)


def guarded_import(namespace: dict, dirs: list[str], spec, where: str = "") -> list:
    """Run in the worker by the line that replaced a top-level import; returns what it binds, in order.
    spec: ("import", [(dotted, alias or None, optional), ...]) or ("from", module, [(name, bound as), ...],
    optional). Only optional (third-party) modules become stand-ins; the submission's own raise.
    `where`: the import as the student wrote it ("plotting.py, line 2"), named by its stand-ins."""
    import importlib
    _add_paths(namespace, dirs)
    if spec[0] == "star":  # `from fastai.vision.all import *`: binds what it exports, or nothing
        _, module, optional = spec
        try:
            mod = importlib.import_module(module)
        except ImportError:
            if not optional:
                raise
            return []
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        namespace.update({n: getattr(mod, n) for n in names if hasattr(mod, n)})
        return []
    if spec[0] == "from":
        _, module, names, optional = spec
        top = module.split(".")[0]
        if optional and top in NOT_PYTORCH:
            return [StandIn(top, bound, "", namespace) for _, bound in names]
        try:
            mod = __import__(module, fromlist=tuple(n for n, _ in names), level=0)
        except ImportError as e:
            if not optional:
                raise
            return [_stand_in(module, bound, e, namespace, where) for _, bound in names]
        out = []
        for n, bound in names:
            try:
                out.append(getattr(mod, n))
            except AttributeError:
                if not optional:
                    raise ImportError(f"cannot import name {n!r} from {module!r}", name=module) from None
                out.append(_stand_in(module, bound, ImportError(f"this version of {top} has no {n!r}"), namespace, where))
        return out
    out = []
    for dotted, alias, optional in spec[1]:
        top = dotted.split(".")[0]
        used = alias or top
        if optional and top in NOT_PYTORCH:
            out.append(StandIn(top, used, "", namespace))
            continue
        try:
            mod = importlib.import_module(dotted)
            out.append(mod if alias else sys.modules[top])
        except ImportError as e:
            if not optional:
                raise
            out.append(_stand_in(dotted, used, e, namespace, where))
    return out


def imports_done(namespace: dict) -> None:
    """The module's top level has run: from now on, a stand-in's use is the graded code's."""
    namespace[DONE] = True
