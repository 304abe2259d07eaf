"""What grading one submission produces, and its Gradescope `results.json` form."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from grader.core.lateness import Lateness, apply_late_policy
from grader.core.vocabulary import StrEnum, TestKind, Visibility


class TestStatus(StrEnum):
    """A test's outcome. Members equal their strings, which is what JSON files and the gradebook hold."""
    __test__ = False  # not a pytest test class, whatever its name
    PASSED = "passed"
    PARTIAL = "partial"      # some of its points (credit.linear)
    FAILED = "failed"
    SKIPPED = "skipped"
    RUNNING = "running"      # only while the trusted process runs it: a report cut short still says so


class SubmissionStatus(StrEnum):
    """What became of a submission as a whole."""
    GRADED = "graded"        # its tests ran (whatever they scored)
    REJECTED = "rejected"    # it could not be read: the student's to fix
    TIMEOUT = "timeout"      # the whole-submission time limit ran out
    ERROR = "error"          # the grader's fault: graded again on the next run
    MISSING = "missing"      # a roster student without a submission


NOT_FULL = (TestStatus.FAILED, TestStatus.PARTIAL)   # a test that lost points


@dataclass
class TestResult:
    """One test's outcome, as computed by the trusted side."""
    name: str                  # shown to the student (the test's docstring, or its name)
    nodeid: str                # pytest's id, stable across runs (the gradebook's column key)
    points: float              # what the test is worth
    score: float               # what the submission earned (partial credit allowed)
    status: TestStatus
    visibility: Visibility
    message: str = ""          # why it failed, or the partial-credit computation
    detail: str = ""           # a traceback mapped to notebook cells, or an assertion's comparison
    kind: TestKind = TestKind.NONE   # why it scored what it did
    duration: float = 0.0      # seconds, setup included
    images: list = field(default_factory=list)   # [{"title", "file"}] relative to the submission's folder
    notes: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    other_mode: bool = False   # skipped because it belongs to other data modes: not on this mode's scale

    @property
    def max_score(self) -> float:
        # any other skip (data the test could not find, a check that did not apply) still counts:
        # the scale of a mode never shrinks with what happened to run
        return 0.0 if self.other_mode else self.points


@dataclass
class SubmissionResult:
    """The verdict for one submission. Always produced, even when nothing could run."""
    submission: str            # the submission id (file or folder name without extension)
    assignment: str
    mode: str
    tests: list[TestResult] = field(default_factory=list)
    status: str = SubmissionStatus.GRADED
    reason: str = ""           # one line for the gradebook when something went wrong
    notes: list[str] = field(default_factory=list)   # what the loader skipped or neutralised
    total_points: float = 0.0  # the mode's maximum (spec.max_points), fixed whatever ran; 0 = the tests' sum
    duration: float = 0.0
    worker_output: str = ""
    grader_errors: list[str] = field(default_factory=list)
    isolation: str = ""        # the sandbox rung it was graded on (grader.boundary.sandbox.LEVELS)
    isolation_warning: str | None = None
    late: dict = field(default_factory=dict)   # Lateness.to_json() where the spec has a deadline

    @property
    def score(self) -> float:
        """The automatic score: the tests' points, before any late penalty."""
        return round(sum(t.score for t in self.tests), 4)

    def after_late_policy(self) -> tuple[float, str]:
        """The score after the late policy, and what it took (grader.core.lateness.apply_late_policy)."""
        return apply_late_policy(self.score, self.max_score, Lateness.from_json(self.late))

    @property
    def max_score(self) -> float:
        if self.total_points or not self.tests:
            return self.total_points
        return round(sum(t.max_score for t in self.tests), 4)

    def to_gradescope(self) -> dict:
        tests = []
        for t in self.tests:
            output = t.message if t.status != TestStatus.SKIPPED else f"SKIPPED: {t.message}"
            if t.detail:
                output += "\n\n" + t.detail
            tests.append({
                "name": t.name, "score": t.score, "max_score": t.max_score,
                "status": "passed" if t.status == TestStatus.PASSED else "failed",
                "output": output, "visibility": t.visibility,
                "extra_data": {"nodeid": t.nodeid, "kind": t.kind, "status": t.status, "duration": round(t.duration, 3)},
            })
        output = self.reason
        final, late_note = self.after_late_policy()
        if self.late:
            output = Lateness.from_json(self.late).describe() + (f" Late policy: {late_note}." if late_note else "") \
                + ("\n\n" + output if output else "")
        if self.notes:
            output += ("\n\n" if output else "") + "Notes:\n" + "\n".join(f"- {n}" for n in self.notes)
        return {"score": final, "max_score": self.max_score, "execution_time": round(self.duration, 2),
                "output": output, "tests": tests,
                "extra_data": {"submission": self.submission, "assignment": self.assignment, "mode": self.mode,
                               "status": self.status, "automatic_score": self.score, "late": self.late}}

    def to_json(self) -> dict:
        final, late_note = self.after_late_policy()
        return asdict(self) | {"score": self.score, "max_score": self.max_score, "final_score": final,
                               "late_note": late_note}
