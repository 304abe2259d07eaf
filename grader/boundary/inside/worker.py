"""The worker: runs inside the sandbox, imports the submission and answers calls.

Everything in this process is untrusted: the student's code shares it and may rewrite any of
it, including this loop. That is fine by design. The worker holds no test, no hidden data and no
expected value; it only executes what the trusted side asks for and returns plain data, which
the trusted side validates. It talks over one socket whose number is given on the command line;
its stdout and stderr are drained (and capped) by the grader.
"""
from __future__ import annotations

import os
import random
import socket
import sys
import traceback
import types

from grader.boundary.inside.protocol import Channel, Op, ProtocolError, WorkerErrorType, decode
from grader.boundary.inside.top_level import as_written, install_finder, run_top_level

MODULE_NAME = "submission"
PROBE_FILE = ".dlgrade-write-check"
FORKED = False  # True in a worker forked by the zygote: every engine module it needs is imported already


class Worker:
    def __init__(self, channel: Channel):
        self.channel = channel
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.module = types.ModuleType(MODULE_NAME)
        self.module_file = ""

    # handles: anything that is not plain data stays here and crosses as a number
    def handle_for(self, obj) -> int:
        key = id(obj)
        if key not in self.ids:
            hid = len(self.objects)
            self.objects[hid] = obj
            self.ids[key] = hid
        return self.ids[key]

    def resolve(self, hid: int):
        if hid not in self.objects:
            raise ProtocolError(f"unknown handle {hid}")
        obj = self.objects[hid]
        return obj.value if isinstance(obj, _Kept) else obj

    def serve(self) -> None:
        hello, _ = self.channel.recv()
        fault = preflight(hello.get("module_file", "submission.py"))
        if fault:
            # nothing of the submission has run yet; the trusted side confirms this with a worker that
            # runs no submission code at all before it blames the grader (see WorkerSession.ensure_started)
            self.channel.send_value({"ok": True}, {"loaded": False, "error": {
                "type": WorkerErrorType.GRADER_FAULT, "message": fault, "frames": []}})
            return
        seed_everything(int(hello.get("seed", 0)))
        self.handle_for(self.module)  # handle 0 is the submission module
        info = self.load(hello.get("module_file", "submission.py"))
        seed_everything(int(hello.get("seed", 0)))  # again: the submission has imported torch by now
        self.channel.send_value({"ok": True}, info)
        while True:
            body, buffers = self.channel.recv()
            op = body.get("op")
            if op == Op.BYE:
                return
            try:
                if op == Op.KEEP:
                    # store data in the worker once and hand back a handle (big training sets)
                    value = decode(body.get("value"), buffers, resolve_handle=self.resolve)
                    self.channel.send({"ok": True, "value": {"$handle": self.handle_for(_Kept(value)),
                                                             "type": type(value).__name__}})
                    continue
                if op == Op.SEED:
                    seed_everything(int(body["seed"]))
                    result = None
                elif op in (Op.CALL, Op.GETATTR, Op.HAS):
                    result = self.dispatch(op, body, buffers)
                else:
                    raise ProtocolError(f"unknown operation {op!r}")
            except BaseException as e:  # noqa: BLE001 - student code may raise anything, even SystemExit
                self.channel.send({"ok": False, "error": self.describe(e)})
                continue
            try:
                self.channel.send_value({"ok": True}, result, make_handle=self.handle_for)
            except ProtocolError as e:
                self.channel.send({"ok": False, "error": {
                    "type": WorkerErrorType.UNSENDABLE_RESULT, "message": f"the value your code returned cannot be sent back: {e}",
                    "frames": []}})

    def dispatch(self, op, body, buffers):
        target = self.resolve(body.get("target", 0))
        name = body.get("name")
        if op == Op.HAS:
            return hasattr(target, name)
        if name is not None:
            try:
                target = getattr(target, name)
            except AttributeError as e:
                raise MissingAttribute(name) from e
        if op == Op.GETATTR:
            return target
        call = decode(body.get("value"), buffers, resolve_handle=self.resolve)
        if not (isinstance(call, tuple) and len(call) == 2 and isinstance(call[0], tuple) and isinstance(call[1], dict)):
            raise ProtocolError("malformed call")
        args, kwargs = call
        return target(*args, **kwargs)

    def load(self, module_file: str) -> dict:
        """Import the (already filtered) submission, one top-level statement at a time (see
        grader.boundary.inside.top_level); report what happened instead of raising. `dropped` lists the
        statements that raised and were left out: [file ("" for this module), line, type, message]."""
        self.module_file = os.path.abspath(module_file)
        root = os.path.dirname(self.module_file)  # the submission's own modules (`from model import Net`)
        if root not in sys.path:
            sys.path.insert(0, root)
        self.module.__file__ = self.module_file
        sys.modules[MODULE_NAME] = self.module
        dropped: list = []
        install_finder(root, dropped, exclude=self.module_file)
        info = {"loaded": False, "error": None}
        try:
            with open(self.module_file, "rb") as f:
                source = f.read()
            run_top_level(self.module.__dict__, source, self.module_file, "", dropped)
            info["loaded"] = True
        except BaseException as e:  # noqa: BLE001 - SystemExit at import must be reported, not obeyed
            info["error"] = self.describe(e)
        info["dropped"] = [list(d) for d in dropped]
        torch = sys.modules.get("torch")
        info["cuda"] = bool(torch is not None and torch.cuda.is_available())
        return info

    def describe(self, e: BaseException) -> dict:
        """An exception as plain data, with only the student's own frames (the graded module's, each
        line's text as the student wrote it). An error that ends in one of the submission's other
        files names that file and line in the message: the trusted side maps only the graded
        module's lines."""
        root = os.path.dirname(self.module_file)
        tb = traceback.extract_tb(e.__traceback__)
        own = [[f.lineno or 0, f.name, (as_written(root, f.filename, f.lineno or 0) or f.line or "")[:300]]
               for f in tb if f.filename == self.module_file][-8:]
        if isinstance(e, MissingAttribute):
            return {"type": WorkerErrorType.MISSING_ATTRIBUTE, "message": e.name, "frames": []}
        message = str(e) if not isinstance(e, SystemExit) else f"exit code {e.code!r}"
        mine = [f for f in tb if _inside(f.filename, root)]  # a SyntaxError's message names its file already
        if mine and mine[-1].filename != self.module_file and not isinstance(e, SyntaxError):
            message += f" ({os.path.relpath(mine[-1].filename, root)}, line {mine[-1].lineno})"
        # the built-in classes it derives from, so `class WindowError(ValueError)` counts as the ValueError asked for
        builtin = [c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins" and issubclass(c, BaseException)][:8]
        return {"type": type(e).__name__, "message": message[:4000], "frames": own, "builtin_bases": builtin}


def _inside(filename: str | None, root: str) -> bool:
    """A file of the submission (its folder, not the grader's or a library's)."""
    return bool(filename) and os.path.abspath(filename).startswith(root + os.sep) and filename.endswith(".py")


class _Kept:
    """A value stored by the grader (`keep`); unwrapped whenever its handle is passed to a call."""

    def __init__(self, value):
        self.value = value


class MissingAttribute(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


def preflight(module_file: str) -> str | None:
    """Why this worker cannot run a submission through no fault of the submission's, or None.

    Checked before the submission is read: the workspace (readable, listable, writable, room to
    write), the module file, and the engine files the worker may still import. Without this, a
    sandbox that hides the workspace from its own worker makes every student's code "raise
    PermissionError"."""
    engine = os.path.dirname(os.path.abspath(__file__))
    step, path = "find its working directory", "."
    try:
        path = os.getcwd()
        step = "list its workspace"
        os.listdir(path)
        step, path = "read the submission's module", os.path.abspath(module_file)
        with open(path, "rb") as f:
            f.read(1)
        step, path = "write to its workspace", os.path.join(os.getcwd(), PROBE_FILE)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(4096))  # a full disk fails here, not in the student's first save
        finally:
            os.close(fd)
            os.unlink(path)
        step, path = "read the grader's engine files", engine
        for name in ([] if FORKED else sorted(os.listdir(engine))):
            if name.endswith(".py"):
                path = os.path.join(engine, name)
                with open(path, "rb") as f:
                    f.read(1)
    except OSError as e:
        return f"the worker cannot {step} ({path}): {e.strerror or e}"
    return None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed % 2 ** 32)
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    fd = int(argv[0])
    sys.setrecursionlimit(10_000)
    sock = socket.socket(fileno=fd)
    try:
        Worker(Channel(sock)).serve()
    except (ProtocolError, OSError):
        pass
    finally:
        os._exit(0)  # skip atexit hooks and threads the submission may have left behind
