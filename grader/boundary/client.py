"""The trusted side of the worker: a session that calls into the submission, and the proxy objects
tests use (`student.make_windows(x, 5, 2)`, `model = student.Autoencoder(); model.encode(x)`).

Every failure on the far side becomes a `StudentError` subclass with a message the student can
act on: the code raised (with the traceback mapped to notebook cells), a name is missing, a call
timed out, the worker died (and why: memory, CPU time, output flood, exit), or it sent garbage.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import re
import select
import shutil
import signal
import threading
import time
from pathlib import Path
from collections.abc import Callable

from grader.core.errors import (BadReply, GraderError, MissingName, StudentCodeRaised, StudentError, SubmissionUnloadable,
                           ToolkitError, WorkerDied, WorkerTimeout)
from grader.boundary.near_miss import names_in, nearest
from grader.boundary.protocol import (Channel, ChannelClosed, ChannelTimeout, Handle, Op, ProtocolError, WorkerErrorType, decode,
                                      encode)
from grader.boundary.cpu_time import cpu_seconds, machine_loaded, starved, wall_backstop
from grader.boundary.launch import WorkerProcess, start_worker
from grader.boundary.rungs import Isolation, engine_root
from grader.boundary.sandbox import DEFAULT_SANDBOX, require_isolation
from grader.core.spec import Limits
from grader.core.vocabulary import TestKind

OUTPUT_KEEP = 16 * 1024  # bytes of the worker's output kept from its start and from its end
POLL_S = 0.1  # how often a waiting call reads the worker's CPU clock


class WallClockTimeout(WorkerTimeout):
    """A call stopped by the wall-clock backstop while the machine was busy (or the worker starved):
    not yet the submission's fault; grading retries it alone before the timeout counts."""
    kind = TestKind.WALL_TIMEOUT


class TestLimit:
    """One test's time limit (`@pytest.mark.timeout`): CPU seconds its workers may use, with a wall backstop."""

    def __init__(self, seconds: float, started: float):
        self.seconds = seconds
        self.wall_deadline = started + wall_backstop(seconds)
        self.cpu_at_start: dict[int, float] = {}   # per session: its CPU clock when the test began


class OutputReader(threading.Thread):
    """Drains the worker's stdout+stderr so it can never block, keeping the head and the tail."""

    def __init__(self, stream, cap_bytes: int, on_flood: Callable[[], None]):
        super().__init__(daemon=True)
        self.stream, self.cap, self.on_flood = stream, cap_bytes, on_flood
        self.head = bytearray()
        self.tail: collections.deque = collections.deque()
        self.tail_len = 0
        self.total = 0
        self.flooded = False

    def run(self):
        while True:
            try:
                chunk = self.stream.read1(65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.total += len(chunk)
            if len(self.head) < OUTPUT_KEEP:
                take = OUTPUT_KEEP - len(self.head)
                self.head += chunk[:take]
                chunk = chunk[take:]
            if chunk:
                self.tail.append(chunk)
                self.tail_len += len(chunk)
                while self.tail_len - len(self.tail[0]) > OUTPUT_KEEP:
                    self.tail_len -= len(self.tail.popleft())
            if self.total > self.cap and not self.flooded:
                self.flooded = True
                self.on_flood()

    def text(self) -> str:
        tail = b"".join(self.tail)[-OUTPUT_KEEP:]
        skipped = self.total - len(self.head) - len(tail)
        middle = f"\n[... {skipped} bytes of output skipped ...]\n" if skipped > 0 else ""
        return (bytes(self.head) + middle.encode() + tail).decode("utf-8", "replace")


_COPIES = itertools.count(1)
# a call that does not fit the function: the message then says what the assignment expects
SIGNATURE_MISMATCH = re.compile(r"unexpected keyword argument|positional argument|required (positional|keyword-only) argument")


class WorkerSession:
    """One sandboxed worker with the submission imported in it.

    `pristine` is the prepared submission, which no worker ever mounts: every start of a worker
    gets its own fresh copy of it under `scratch`, deleted when the worker stops. So nothing one
    worker writes (a file of test images, a patched module) reaches another worker.
    """

    def __init__(self, pristine: Path, limits: Limits, *, module_file: str = "submission.py",
                 isolation: Isolation | None = None, gpu: str | None = None, threads: int = 1, seed: int = 0,
                 api: dict[str, str] | None = None, locate: Callable[[int], str] | None = None,
                 scratch: Path | None = None):
        self.pristine, self.limits, self.module_file = Path(pristine), limits, module_file
        self.scratch = Path(scratch) if scratch is not None else self.pristine.parent / "workers"
        self.workspace: Path | None = None   # this start's copy of `pristine`
        # the rung the command probed once; a session made on its own (tests, tools) probes here
        self.isolation = isolation or require_isolation(DEFAULT_SANDBOX)
        self.gpu, self.threads, self.seed_value = gpu, threads, seed
        self.api = api or {}
        self.locate = locate or (lambda line: f"line {line}")
        self.process: WorkerProcess | None = None
        self.output: OutputReader | None = None
        self.earlier_output = ""
        self.generation = 0
        self.restarts = 0
        self.load_info: dict = {}
        self.test_limit: TestLimit | None = None   # set by the plugin for the test that is running
        self.cpu_clock: Callable[[], float] = self._worker_cpu_seconds   # replaceable (tests inject a slow one)
        self._cpu_before = 0.0                     # CPU seconds of this session's earlier worker processes
        self._timeout_override: float | None = None
        self._module: RemoteObject | None = None
        self._clean_start_ok = False  # a worker without the submission's code started here once

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.launch()
        self.handshake()

    def launch(self) -> None:
        """Start the process. Call it from the thread that lives longest (the main thread):
        the sandbox kills the worker when the thread that started it ends (PR_SET_PDEATHSIG)."""
        self.close()
        self.generation += 1
        if self.output is not None and self.output.total:
            self.earlier_output += f"[output of an earlier worker, stopped after a failure]\n{self.output.text()}\n"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.workspace = self.scratch / f"w{next(_COPIES)}"
        shutil.copytree(self.pristine, self.workspace, symlinks=True)
        self.process = start_worker(self.workspace, self.limits, isolation=self.isolation, gpu=self.gpu,
                                    threads=self.threads)
        self.output = OutputReader(self.process.proc.stdout, int(self.limits.max_output_mb * 2 ** 20), self._kill)
        self.output.start()
        self.channel = Channel(self.process.sock, max_frame_bytes=self.limits.max_message_mb * 2 ** 20)
        self._module = RemoteObject(self, Handle(0, "module"), "your submission")

    def handshake(self) -> None:
        """Wait until the worker has imported the submission (may run in a background thread)."""
        body = self._request({"op": Op.HELLO, "module_file": self.module_file, "seed": self.seed_value},
                             what="importing your submission")
        info = body if isinstance(body, dict) else {}
        self.load_info = {"loaded": info.get("loaded") is True, "cuda": info.get("cuda") is True,
                          "error": info.get("error") if isinstance(info.get("error"), dict) else None,
                          # statements dropped at import (grader.boundary.top_level); checked where noted
                          "dropped": info.get("dropped") if isinstance(info.get("dropped"), list) else []}

    def ensure_started(self) -> None:
        if self.process is None or self.process.proc.poll() is not None:
            if self.process is not None:
                self.restarts += 1
            try:
                self.start()
            except (WorkerDied, WorkerTimeout) as e:  # before it said hello: maybe no worker can start here
                raise self._start_failure(e) from None
            except (OSError, ToolkitError) as e:  # no worker process at all (copying, spawning)
                raise GraderError(f"the grader could not start a worker: {e}") from None
        if not self.load_info.get("loaded"):
            err = self.load_info.get("error") or {}
            if err.get("type") == WorkerErrorType.GRADER_FAULT:
                raise self._start_failure(SubmissionUnloadable(
                    f"the worker running your code reported a fault of the grader's ({str(err.get('message'))[:300]}), "
                    "but a worker without your code starts normally: does your code tamper with the worker?"))
            raise SubmissionUnloadable(self._raised_message(err, "while importing your submission"),
                                       detail=self._frames(err))

    def close(self) -> None:
        if self.process is not None:
            self._cpu_before = self.cpu_seconds()   # what this process used still counts towards the test
            with contextlib.suppress(Exception):
                if self.process.proc.poll() is None:
                    self.channel.send({"op": Op.BYE}, deadline=time.monotonic() + 1)
                    self.process.proc.wait(timeout=1)
            self.process.kill()
            if self.output is not None:
                self.output.join(timeout=2)
            self.process = None
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def module(self) -> RemoteObject:
        if self._module is None:
            self._module = RemoteObject(self, Handle(0, "module"), "your submission")
        return self._module

    @property
    def output_text(self) -> str:
        return (self.earlier_output[-OUTPUT_KEEP * 2:] + (self.output.text() if self.output else ""))

    @contextlib.contextmanager
    def timeout(self, seconds: float):
        """Calls inside this block may each run for `seconds` instead of the spec's call timeout."""
        previous, self._timeout_override = self._timeout_override, seconds
        try:
            yield
        finally:
            self._timeout_override = previous

    def keep(self, value, label: str = "data") -> RemoteObject:
        """Send `value` once and get a handle to pass to later calls (saves re-sending big arrays)."""
        self.ensure_started()
        body, buffers = encode(value)
        sizes = [len(b) if isinstance(b, bytes) else b.nbytes for b in buffers]
        handle = self._request({"op": Op.KEEP, "value": body, "buffers": sizes}, buffers, what=f"receiving {label}")
        if not isinstance(handle, Handle):
            raise BadReply("the worker did not store the data it was sent")
        return RemoteObject(self, handle, label)

    def seed(self, value: int) -> None:
        """Seed random, numpy and torch in the worker (the trusted side seeds itself the same way)."""
        self.ensure_started()
        self._request({"op": Op.SEED, "seed": int(value)}, what="seeding")

    # --- calls ----------------------------------------------------------------------------------
    def call(self, target: RemoteObject, name: str | None, args: tuple, kwargs: dict, label: str):
        self.ensure_started()
        self._check_generation(target, label)
        body, buffers = encode((args, kwargs), make_handle=self._handle_arg)
        sizes = [len(b) if isinstance(b, bytes) else b.nbytes for b in buffers]
        return self._request({"op": Op.CALL, "target": target._handle.id, "name": name, "value": body,
                              "buffers": sizes}, buffers, what=label)

    def getattr(self, target: RemoteObject, name: str, label: str):
        self.ensure_started()
        self._check_generation(target, label)
        return self._request({"op": Op.GETATTR, "target": target._handle.id, "name": name}, what=label)

    def has(self, target: RemoteObject, name: str) -> bool:
        self.ensure_started()
        result = self._request({"op": Op.HAS, "target": target._handle.id, "name": name}, what=f"looking up {name}")
        if not isinstance(result, bool):
            raise BadReply("the worker answered a yes/no question with something else")
        return result

    def _handle_arg(self, obj):
        if isinstance(obj, RemoteObject) and obj._session is self:
            return obj._handle.id
        raise ProtocolError(f"cannot send a {type(obj).__name__} to the worker")

    def _check_generation(self, target: RemoteObject, label: str):
        if target._generation not in (0, self.generation) and target._handle.id != 0:
            raise WorkerDied(f"{label}: this object was lost when the worker was restarted after an earlier failure")

    # --- time limits: the worker's CPU time, wall-clock time only as a backstop (grader.boundary.cpu_time)
    def _worker_cpu_seconds(self) -> float:
        """CPU seconds the current worker process (and its cgroup or children) used; 0 before it starts."""
        if self.process is None:
            return 0.0
        return cpu_seconds(self.process.proc.pid, self.process.cgroup.dirs)

    def cpu_seconds(self) -> float:
        """CPU seconds this session's workers have used, the current one and those it replaced."""
        return self._cpu_before + self.cpu_clock()

    def start_test(self, limit: TestLimit | None) -> None:
        """The plugin starts a test (None: a test without its own limit)."""
        self.test_limit = limit
        if limit is not None:
            limit.cpu_at_start.setdefault(id(self), self.cpu_seconds())

    def _deadline(self) -> float:
        """The wall-clock backstop of one call, and of the running test."""
        deadline = time.monotonic() + wall_backstop(self._timeout_override or self.limits.call_timeout_s)
        if self.test_limit is not None:
            deadline = min(deadline, self.test_limit.wall_deadline)
        return deadline

    def _await_reply(self, deadline: float, what: str) -> None:
        """Return once the worker starts to answer; raise WorkerTimeout once the call has used its CPU
        limit, the test its own, or the wall-clock backstop ran out. A starved worker's CPU clock
        stands still, so a busy machine cannot push an honest call over its limit."""
        budget = self._timeout_override or self.limits.call_timeout_s
        wall_start, cpu_start = time.monotonic(), self.cpu_seconds()
        while True:
            left = deadline - time.monotonic()
            try:
                ready = select.select([self.channel.sock], [], [], max(0.0, min(POLL_S, left)))[0]
            except (ValueError, OSError):   # the socket was closed meanwhile: recv says why
                return
            if ready:
                return
            used = self.cpu_seconds() - cpu_start
            if used > budget:
                raise WorkerTimeout(f"{what} did not finish within the {budget:g} s limit (CPU time it used); "
                                    "the worker was stopped")
            test = self.test_limit
            if test is not None and self.cpu_seconds() - test.cpu_at_start.get(id(self), cpu_start) > test.seconds:
                raise WorkerTimeout(f"{what} did not finish within the test's time limit ({test.seconds:g} s of CPU "
                                    "time); the worker was stopped")
            if time.monotonic() >= deadline:
                wall = deadline - wall_start   # the backstop, as the spec's numbers give it
                if machine_loaded() or starved(used, time.monotonic() - wall_start):
                    raise WallClockTimeout(f"{what} did not finish within {wall:.3g} s of wall-clock time while the "
                                           f"machine was busy (it got {used:.1f} s of CPU); it is graded again alone "
                                           "before this counts")
                raise WorkerTimeout(f"{what} did not finish within {wall:.3g} s of wall-clock time, using only "
                                    f"{used:.1f} s of CPU: it waited on something (sleep, input, a lock); "
                                    "the worker was stopped")

    def _request(self, head: dict, buffers=(), *, what: str):
        deadline = self._deadline()
        try:
            self.channel.send(head, buffers, deadline=deadline)
            self._await_reply(deadline, what)
            body, bufs = self.channel.recv(deadline=deadline)
        except WorkerTimeout:
            self._kill()
            raise
        except ChannelTimeout:   # it began to answer, then stalled until the backstop
            self._kill()
            raise WorkerTimeout(f"{what}: the worker began to answer but stopped sending before the wall-clock "
                                "limit; the worker was stopped") from None
        except (ChannelClosed, OSError):  # (OSError: the output reader stopped it and closed the socket meanwhile)
            raise self._death(what) from None
        except ProtocolError as e:
            # did it die on its own? (asked before we kill it: afterwards it is always dead)
            died = self.process is not None and self.process.proc.poll() is not None
            self._kill()
            if died and not self.output.flooded:
                raise self._death(what) from None
            raise BadReply(f"{what}: the worker sent an invalid reply ({e})") from None
        ok = body.get("ok")
        if ok is True:
            try:
                return decode(body.get("value"), bufs, resolve_handle=None, bounded=True) if "value" in body else None
            except ProtocolError as e:
                raise BadReply(f"{what}: the value your code returned could not be read ({e})") from None
            finally:
                pass
        if ok is False and isinstance(body.get("error"), dict):
            err = body["error"]
            if err.get("type") == WorkerErrorType.MISSING_ATTRIBUTE:
                raise MissingName(self._missing_message(str(err.get("message", "")), what))
            bases = err.get("builtin_bases")
            raise StudentCodeRaised(self._raised_message(err, what), detail=self._frames(err),
                                    exc_type=str(err.get("type", ""))[:100],
                                    exc_bases=tuple(str(b)[:100] for b in bases[:8]) if isinstance(bases, list) else ())
        raise BadReply(f"{what}: the worker sent a reply without a result")

    def wrap(self, value, label: str):
        """Turn handles inside a decoded value into proxies."""
        if isinstance(value, Handle):
            return RemoteObject(self, value, label)
        if isinstance(value, list):
            return [self.wrap(v, label) for v in value]
        if isinstance(value, tuple):
            return tuple(self.wrap(v, label) for v in value)
        if isinstance(value, dict):
            return {k: self.wrap(v, label) for k, v in value.items()}
        return value

    # --- diagnosis ------------------------------------------------------------------------------
    def _start_failure(self, student_error: StudentError) -> Exception:
        """`student_error` if a worker that runs none of the submission's code starts normally here;
        otherwise a GraderError: the sandbox, the disk or the grader's folders are at fault, and the
        submission must not get a zero for it. The clean worker proves it, not the failed worker's
        own words (the submission may have forged those)."""
        if self._clean_start_ok:
            return student_error
        problem = self._clean_start_problem()
        if problem is None:
            self._clean_start_ok = True
            return student_error
        return GraderError(f"no worker can start here, not even one that runs none of the submission's code: {problem}")

    def _clean_start_problem(self) -> str | None:
        """Why a worker importing only an engine file (never the submission) fails here, or None."""
        engine_file = engine_root(self.isolation.level) / "grader" / "boundary" / "__init__.py"  # what a worker reads
        probe = WorkerSession(self.pristine, self.limits, module_file=str(engine_file),
                              isolation=self.isolation, gpu=self.gpu, threads=1, scratch=self.scratch)
        try:
            probe.start()
        except StudentError as e:
            code = probe.process.proc.poll() if probe.process else None
            what = "it did not answer in time" if isinstance(e, WorkerTimeout) else f"it ended (exit code {code})"
            if probe.output is not None:
                probe.output.join(timeout=2)  # its last words are still in the pipe when it has just ended
            lines = [line.strip() for line in probe.output_text.splitlines() if line.strip()]
            return what + (f"; its last words: {lines[-1][:200]}" if lines else "")  # a traceback's last line says why
        except (OSError, ToolkitError) as e:
            return f"it could not be started: {e}"
        finally:
            probe.close()
        err = probe.load_info.get("error") or {}
        if not probe.load_info.get("loaded"):
            return str(err.get("message") or err.get("type") or "it could not import an engine file")[:500]
        return None

    def _kill(self):
        if self.process is not None:
            self.process.kill()

    def _death(self, what: str) -> WorkerDied:
        proc = self.process
        if proc is None:
            return WorkerDied(f"{what}: the worker is not running")
        try:
            code = proc.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            code = None
        oom = proc.cgroup.oom_killed()
        self._kill()
        if self.output and self.output.flooded:
            why = f"your code printed more than {self.limits.max_output_mb:g} MB of output"
        elif oom or code in (-signal.SIGKILL, 128 + signal.SIGKILL, 137):
            # with a cgroup the kernel tells us whether memory ran out; without one, memory is the likely cause
            why = (f"it was killed, most likely for using more than the {self.limits.memory_mb} MB memory limit"
                   if not proc.cgroup.kind else
                   f"it was killed (signal 9) without reaching the {self.limits.memory_mb} MB memory limit; "
                   "does your code kill processes (os.kill, os.killpg)?")
            if oom:
                why = f"it ran out of memory (limit {self.limits.memory_mb} MB)"
        elif code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            why = f"it used more than {self.limits.cpu_time_s} s of CPU time"
        elif code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
            why = f"it wrote a file larger than {self.limits.max_file_mb} MB"
        elif code is not None and code < 0:
            why = f"it was ended by signal {signal.Signals(-code).name if -code in signal.valid_signals() else -code}"
        elif code is not None and code > 128:
            why = f"it was ended by signal {code - 128}"
        else:
            why = f"it exited (exit code {code}); does your code call sys.exit(), exit() or os._exit()?"
        return WorkerDied(f"the worker stopped during {what}: {why}")

    def _missing_message(self, name: str, what: str) -> str:
        owner = what.split("(")[0]
        expected = owner
        for key in (owner, name, owner.rsplit(".", 1)[0] + "." + name if "." in owner else name):
            if key in self.api:
                expected = self.api[key]
                break
        return f"expected `{expected}`, not found in your submission" + self._did_you_mean(name or owner, owner)

    def _did_you_mean(self, missing: str, owner: str) -> str:
        """"; did you mean `AutoEncoder` (cell 3, line 1)? ...", or "": the submission's own name nearest
        to `missing`, among its top-level names or, for `Class.method`, that class's members."""
        names = names_in(str(self.pristine / self.module_file))
        cls = owner.rsplit(".", 1)[0] if "." in owner else ""
        found = nearest(missing.split(".")[-1], names.of_class(cls) if cls else names.top)
        if found is None:
            return ""
        return (f"; did you mean `{found.name}` ({self.locate(found.line)})? Names must match exactly: "
                f"rename it to `{missing.split('.')[-1]}`")

    def _keyword_hint(self, message: str, what: str) -> str:
        """For "got an unexpected keyword argument 'bottleneck_dim'": the submission's parameter that
        is nearest to it, with where it is defined, or ""."""
        m = re.search(r"unexpected keyword argument '(\w+)'", message)
        if not m:
            return ""
        params = names_in(str(self.pristine / self.module_file)).parameters_of(what.split("(")[0])
        found = nearest(m.group(1), params)
        if found is None:
            return ""
        return (f"; your parameter `{found.name}` ({self.locate(found.line)}) looks like a misspelling: "
                f"rename it to `{m.group(1)}`")

    def _raised_message(self, err: dict, what: str) -> str:
        kind = str(err.get("type", "Exception"))[:100]
        message = str(err.get("message", ""))[:2000]
        if kind == "SystemExit":
            return f"your code called sys.exit() ({message}) {what}; remove it so the grader can continue"
        if kind == WorkerErrorType.UNSENDABLE_RESULT:
            return f"{what}: {message}"
        where = ""
        frames = err.get("frames") or []
        if frames and isinstance(frames[-1], list) and frames[-1] and isinstance(frames[-1][0], int):
            where = f" (at {self.locate(frames[-1][0])})"
        # `what` is a call ("answer") or a phase ("while importing your submission")
        phase = what if what.startswith("while ") else "in " + what
        if kind in ("PackageUnavailable", "DefaultUnavailable"):  # the loader's stand-ins explain themselves
            return f"{message}{where} {phase}"
        if kind == "TypeError" and SIGNATURE_MISMATCH.search(message):
            expected = self.api.get(what.split("(")[0])
            if expected:
                message += f"; the assignment expects `{expected}`"
            message += self._keyword_hint(message, what)
        return f"your code raised {kind}: {message}{where} {phase}"

    def _frames(self, err: dict) -> str:
        lines = []
        for frame in (err.get("frames") or [])[-8:]:
            if isinstance(frame, list) and len(frame) == 3 and isinstance(frame[0], int):
                lines.append(f"  {self.locate(frame[0])}, in {str(frame[1])[:80]}\n    {str(frame[2])[:200]}")
        return "Traceback (your code, most recent call last):\n" + "\n".join(lines) if lines else ""


class RemoteObject:
    """An object living in the worker. Attribute access gives a `RemoteMember`; calling runs there."""

    __slots__ = ("_session", "_handle", "_label", "_generation")

    def __init__(self, session: WorkerSession, handle: Handle, label: str):
        self._session, self._handle, self._label = session, handle, label
        self._generation = session.generation if handle.id else 0

    def __getattr__(self, name: str) -> RemoteMember:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteMember(self, name)

    def __call__(self, *args, **kwargs):
        label = f"{self._label}(...)"
        return self._session.wrap(self._session.call(self, None, args, kwargs, label), label)

    def fetch(self, name: str):
        """The value of an attribute (plain data is copied; other objects come back as proxies)."""
        label = f"{self._type_label()}.{name}"
        return self._session.wrap(self._session.getattr(self, name, label), label)

    def has(self, name: str) -> bool:
        return self._session.has(self, name)

    @property
    def type_name(self) -> str:
        return self._handle.type_name

    def _type_label(self) -> str:
        return self._label if self._handle.id == 0 else self._handle.type_name

    def __repr__(self) -> str:
        return f"<remote {self._handle.type_name} #{self._handle.id}>"


class RemoteMember:
    """`obj.name` on a remote object: call it, or `fetch()` its value."""

    __slots__ = ("_parent", "_name")

    def __init__(self, parent: RemoteObject, name: str):
        self._parent, self._name = parent, name

    @property
    def _label(self) -> str:
        owner = self._parent._type_label()
        return self._name if self._parent._handle.id == 0 else f"{owner}.{self._name}"

    def __call__(self, *args, **kwargs):
        session = self._parent._session
        label = self._label
        value = session.call(self._parent, self._name, args, kwargs, label)
        return session.wrap(value, f"{label}(...)")

    def fetch(self):
        return self._parent.fetch(self._name)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteMember(self.fetch(), name)

    def __repr__(self) -> str:
        return f"<remote member {self._label}>"
