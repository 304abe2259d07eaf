"""The trusted side of the worker: `WorkerSession`, one worker's lifecycle and its call/reply loop, and
(re-exported from `grader.boundary.remote`) the proxy objects tests use (`student.make_windows(x, 5, 2)`,
`model = student.Autoencoder(); model.encode(x)`).

Every failure on the far side becomes a `StudentError` subclass with a message the student can
act on: the code raised (with the traceback mapped to notebook cells), a name is missing, a call
timed out, the worker died (and why: memory, CPU time, output flood, exit), or it sent garbage.
"""
from __future__ import annotations

import contextlib
import itertools
import shutil
import time
from pathlib import Path
from collections.abc import Callable

from grader.core.errors import (BadReply, GraderError, MissingName, StudentCodeRaised, StudentError, SubmissionUnloadable,
                                ToolkitError, WorkerDied, WorkerTimeout)
from grader.boundary.inside.protocol import (Channel, ChannelClosed, ChannelTimeout, Handle, Op, ProtocolError, WorkerErrorType,
                                             decode, encode)
from grader.boundary.cpu_time import cpu_seconds, wall_backstop
from grader.boundary.launch import WorkerProcess, start_worker
from grader.boundary.output_reader import OUTPUT_KEEP, OutputReader
from grader.boundary.remote import RemoteMember, RemoteObject
from grader.boundary.rungs import Isolation, engine_root
from grader.boundary.sandbox import DEFAULT_SANDBOX, require_isolation
from grader.boundary.student_messages import StudentWording, why_it_stopped
from grader.boundary.time_limits import TestLimit, WallClockTimeout, await_reply
from grader.core.spec import Limits

# what other rooms and assignments use of a worker (the proxies, the time limits, the session)
__all__ = ["OUTPUT_KEEP", "RemoteMember", "RemoteObject", "TestLimit", "WallClockTimeout", "WorkerSession"]

_COPIES = itertools.count(1)


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
        self.wording = StudentWording(str(self.pristine / module_file), self.api, self.locate)
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
                          # statements dropped at import (grader.boundary.inside.top_level); checked where noted
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
            raise SubmissionUnloadable(self.wording.raised(err, "while importing your submission"),
                                       detail=self.wording.frames(err))

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
        limit, the test its own, or the wall-clock backstop ran out (grader.boundary.time_limits)."""
        await_reply(self.channel.sock, deadline, what, budget=self._timeout_override or self.limits.call_timeout_s,
                    cpu_seconds=self.cpu_seconds, test=self.test_limit, session=id(self))

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
                raise MissingName(self.wording.missing(str(err.get("message", "")), what))
            bases = err.get("builtin_bases")
            raise StudentCodeRaised(self.wording.raised(err, what), detail=self.wording.frames(err),
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
        engine_file = engine_root(self.isolation.level) / "grader" / "boundary" / "inside" / "__init__.py"  # what a worker reads
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
        why = why_it_stopped(code, oom=oom, flooded=bool(self.output and self.output.flooded), limits=self.limits,
                             cgroup_kind=proc.cgroup.kind)
        return WorkerDied(f"the worker stopped during {what}: {why}")
