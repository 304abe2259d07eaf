"""What a worker's failure says to the student, in the student's terms: the name, file and line of
their own code, the assignment's expected signature, the nearest name they did write.

`StudentWording` words what the worker reported (a missing name, an exception with its frames);
`why_it_stopped` words how the worker process ended (memory, CPU time, file size, a signal, an exit).
"""
from __future__ import annotations

import re
import signal
from collections.abc import Callable
from dataclasses import dataclass

from grader.boundary.inside.protocol import WorkerErrorType
from grader.boundary.near_miss import names_in, nearest
from grader.core.spec import Limits

# a call that does not fit the function: the message then says what the assignment expects
SIGNATURE_MISMATCH = re.compile(r"unexpected keyword argument|positional argument|required (positional|keyword-only) argument")


@dataclass(frozen=True)
class StudentWording:
    """The wording for one submission: `source` its module file, `api` the assignment's expected
    signatures by name, `locate(line)` where a line of the module is in the student's own file."""
    source: str
    api: dict[str, str]
    locate: Callable[[int], str]

    def missing(self, name: str, what: str) -> str:
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
        names = names_in(self.source)
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
        params = names_in(self.source).parameters_of(what.split("(")[0])
        found = nearest(m.group(1), params)
        if found is None:
            return ""
        return (f"; your parameter `{found.name}` ({self.locate(found.line)}) looks like a misspelling: "
                f"rename it to `{m.group(1)}`")

    def raised(self, err: dict, what: str) -> str:
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

    def frames(self, err: dict) -> str:
        lines = []
        for frame in (err.get("frames") or [])[-8:]:
            if isinstance(frame, list) and len(frame) == 3 and isinstance(frame[0], int):
                lines.append(f"  {self.locate(frame[0])}, in {str(frame[1])[:80]}\n    {str(frame[2])[:200]}")
        return "Traceback (your code, most recent call last):\n" + "\n".join(lines) if lines else ""


def why_it_stopped(code: int | None, *, oom: bool, flooded: bool, limits: Limits, cgroup_kind: str | None) -> str:
    """How a worker that ended with exit status `code` came to end, as the student can act on it."""
    if flooded:
        return f"your code printed more than {limits.max_output_mb:g} MB of output"
    if oom or code in (-signal.SIGKILL, 128 + signal.SIGKILL, 137):
        if oom:
            return f"it ran out of memory (limit {limits.memory_mb} MB)"
        # with a cgroup the kernel tells us whether memory ran out; without one, memory is the likely cause
        return (f"it was killed, most likely for using more than the {limits.memory_mb} MB memory limit"
                if not cgroup_kind else
                f"it was killed (signal 9) without reaching the {limits.memory_mb} MB memory limit; "
                "does your code kill processes (os.kill, os.killpg)?")
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return f"it used more than {limits.cpu_time_s} s of CPU time"
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return f"it wrote a file larger than {limits.max_file_mb} MB"
    if code is not None and code < 0:
        return f"it was ended by signal {signal.Signals(-code).name if -code in signal.valid_signals() else -code}"
    if code is not None and code > 128:
        return f"it was ended by signal {code - 128}"
    return f"it exited (exit code {code}); does your code call sys.exit(), exit() or os._exit()?"
