"""The engine's integrity guarantees, each exercised by a small assignment written here and graded
for real (sandboxed workers, the trusted pytest process):

- every worker starts on a pristine copy of the submission: nothing one worker writes reaches another;
- `submission.private` files are read by the trusted tests (`artifacts`) but are in no worker's workspace;
- `handoff` carries checked weights and nothing else into a pristine worker: an extra buffer, a
  reshaped parameter or a `load_state_dict` that alters the weights is refused with a message naming it;
- the course key: `grade` keeps one per output folder (OUT/course.key, mode 0600), `release` never
  ships it, `validate` draws a new one per run, and a worker never sees it (environment, command
  lines, files, the key file by its path);
- a score never changes its scale: a mode without its data is refused before grading, a mode's
  maximum is fixed by the spec (and checked by `validate`), a skipped test still counts unless it
  belongs to another mode.
"""
from __future__ import annotations

import json
import shutil
import stat
import textwrap
import zipfile
from pathlib import Path

import pytest

from grader import cli
import grader.commands.validate as validate_module
from grader.core.assignments import find_assignment, marked_points
from grader.commands.grade import grade_submissions
from grader.scaffold.release import release_assignment
from grader.authoring import CourseKey
from grader.trusted.course_key import KEY_FILE, load_or_create
from grader.core.errors import EXIT_USAGE
from grader.core.results import SubmissionResult
from grader.grading.runner import RunOptions, grade_submission
from grader.boundary.sandbox import require_isolation

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
# where the sandbox hides the grader's folders from the worker (not on rung "none": a warned, unsafe setup)
HIDES_FILES = require_isolation("auto").level in ("bwrap", "namespaces", "uid")

SPEC = """\
title: "{name}: a toolkit self-test"
points: {points}
default_mode: embedded
modes:
  embedded: {{}}
limits:
  memory_mb: 3072
  call_timeout_s: 60
  submission_timeout_s: 300
  threads: 1
"""


def write_assignment(root: Path, name: str, *, points: float, tests: dict[str, str], extra_spec: str = "") -> Path:
    """An assignment folder `root/name` with these test files (paths relative to its tests/)."""
    folder = root / name
    for sub in ("public", "hidden"):
        (folder / "tests" / sub).mkdir(parents=True, exist_ok=True)
    (folder / "assignment.yaml").write_text(SPEC.format(name=name, points=points) + textwrap.dedent(extra_spec))
    (folder / "README.md").write_text(f"# {name}\n")
    for rel, text in tests.items():
        (folder / "tests" / rel).write_text(textwrap.dedent(text))
    return folder


def by_name(result: SubmissionResult) -> dict:
    return {t.nodeid.split("::")[-1]: t for t in result.tests}


# --- pristine workers and private files; handoff (two assignments, each graded once) --------------

SECRET = "private-log-line-8c1f2e"

WORKSPACE_TESTS = '''\
import pytest

SECRET = "%s"


@pytest.mark.points(1)
def test_a_fresh_worker_never_sees_what_another_wrote(student, fresh_worker):
    student.scribble("note.txt")
    student.patch_module()
    assert student.exists("note.txt") and student.patched(), "the first worker's writes did not happen"
    other = fresh_worker().module
    assert not other.exists("note.txt"), "a fresh worker sees a file the first worker wrote"
    assert not other.patched() and not other.has("PATCHED"), "a fresh worker runs the module another rewrote"


@pytest.mark.points(1)
def test_private_files_reach_the_tests_and_no_worker(student, fresh_worker, artifacts):
    assert artifacts.read_text("secret_log.jsonl") == SECRET + "\\n"
    assert artifacts.read_text("notes/analysis.md").startswith("# analysis")
    for module in (student, fresh_worker().module):
        names = module.files()
        assert "public.txt" in names and "integrity.py" in names, f"the workspace lacks the submission: {names}"
        assert "secret_log.jsonl" not in names and "notes/analysis.md" not in names, f"private files: {names}"
        assert module.holding(SECRET) == [], "a private file's content is in a workspace"
    assert student.read(str(artifacts.root / "secret_log.jsonl")) is None, "the worker reads the private file"
''' % SECRET

HANDOFF_TESTS = '''\
import torch
import pytest


@pytest.mark.points(1)
def test_honest_weights_evaluate_in_a_pristine_worker(student, handoff):
    model = student.Net(4)
    student.train(model)
    weights = handoff.take(model, "Net", 4)
    with handoff.load(weights) as [loaded]:
        assert loaded.trained_here() is False, "the evaluating worker is the one that trained"
        out = loaded(torch.ones(1, 4))
    assert torch.allclose(out, torch.full((1, 2), 0.5 * 4 + 0.25)), f"the loaded model computes {out}"


@pytest.mark.points(1)
def test_extra_buffer(student, handoff):
    model = student.Hoarder(4)
    student.train(model)
    model.remember(torch.arange(6.0))
    with handoff.load(handoff.take(model, "Hoarder", 4)) as [loaded]:
        loaded(torch.ones(1, 4))


@pytest.mark.points(1)
def test_reshaped_parameter(student, handoff):
    model = student.Grower(4)
    model.grow()
    with handoff.load(handoff.take(model, "Grower", 4)) as [loaded]:
        loaded(torch.ones(1, 4))


@pytest.mark.points(1)
def test_altering_load(student, handoff):
    model = student.Tamperer(4)
    student.train(model)
    with handoff.load(handoff.take(model, "Tamperer", 4)) as [loaded]:
        loaded(torch.ones(1, 4))
'''

WORKSPACE_SUBMISSION = '''\
import os


def scribble(name):
    with open(name, "w") as f:
        f.write("written by another worker")


def exists(name):
    return os.path.exists(name)


def patch_module():
    with open(__file__, "a") as f:
        f.write("\\nPATCHED = True\\n")


def patched():
    with open(__file__) as f:
        return "PATCHED = True" in f.read().splitlines()


def files():
    return sorted(os.path.relpath(os.path.join(d, n), ".") for d, _, names in os.walk(".") for n in names)


def holding(text):
    found = []
    for top in (".", "/tmp"):
        for d, _, names in os.walk(top):
            for n in names:
                try:
                    with open(os.path.join(d, n), "rb") as f:
                        if text.encode() in f.read():
                            found.append(os.path.join(d, n))
                except OSError:
                    pass
    return found


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
'''

HANDOFF_SUBMISSION = '''\
import torch
from torch import nn

TRAINED = False


class Net(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, 2)

    def forward(self, x):
        return self.lin(x).detach()

    def trained_here(self):
        return TRAINED


def train(model):
    global TRAINED
    TRAINED = True
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5 if p.dim() == 2 else 0.25)


class Hoarder(Net):
    def remember(self, x):
        self.register_buffer("memory", x.clone())   # created after construction: data, not weights


class Grower(Net):
    def grow(self):
        self.lin = nn.Linear(5, 2)                  # a fresh Grower(4) has a (2, 4) weight


class Tamperer(Net):
    def load_state_dict(self, state, strict=True):
        out = super().load_state_dict(state, strict)
        with torch.no_grad():
            self.lin.bias.add_(1.0)
        return out
'''


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory) -> SubmissionResult:
    root = tmp_path_factory.mktemp("workspaces")
    folder = write_assignment(root, "workspaces", points=2, tests={"public/test_workspaces.py": WORKSPACE_TESTS},
                              extra_spec="submission:\n  private: [secret_log.jsonl, notes/*.md]\n")
    sub = root / "anna"
    (sub / "notes").mkdir(parents=True)
    (sub / "integrity.py").write_text(WORKSPACE_SUBMISSION)
    (sub / "secret_log.jsonl").write_text(SECRET + "\n")
    (sub / "notes" / "analysis.md").write_text("# analysis\nprivate words\n")
    (sub / "public.txt").write_text("a file the worker may read\n")
    return _graded(folder, sub)


@pytest.fixture(scope="module")
def handed_over(tmp_path_factory) -> SubmissionResult:
    root = tmp_path_factory.mktemp("handoff")
    folder = write_assignment(root, "handoff", points=4, tests={"hidden/test_handoff.py": HANDOFF_TESTS})
    (root / "bela.py").write_text(HANDOFF_SUBMISSION)
    return _graded(folder, root / "bela.py")


def _graded(folder: Path, sub: Path) -> SubmissionResult:
    result = grade_submission(find_assignment(folder), sub, RunOptions())
    assert result.status == "graded", json.dumps(result.to_json(), indent=1, default=str)[:4000]
    return result


def _passed(result: SubmissionResult, name: str) -> None:
    t = by_name(result)[name]
    assert (t.status, t.score) == ("passed", 1.0), f"{t.kind}: {t.message}\n{t.detail}"


def _refused(result: SubmissionResult, name: str, *texts: str) -> None:
    t = by_name(result)[name]
    assert (t.status, t.kind, t.score) == ("failed", "assertion", 0.0), f"{t.status} {t.kind}: {t.message}"
    for text in texts:
        assert text in t.message, t.message


@pytest.mark.slow
def test_every_worker_starts_on_a_pristine_copy(workspaces):
    _passed(workspaces, "test_a_fresh_worker_never_sees_what_another_wrote")


@pytest.mark.slow
def test_private_files_are_read_by_the_tests_but_absent_from_every_workspace(workspaces):
    _passed(workspaces, "test_private_files_reach_the_tests_and_no_worker")


@pytest.mark.slow
def test_honest_weights_load_and_evaluate_in_a_pristine_worker(handed_over):
    _passed(handed_over, "test_honest_weights_evaluate_in_a_pristine_worker")


@pytest.mark.slow
def test_a_buffer_a_fresh_model_lacks_is_refused_by_name(handed_over):
    _refused(handed_over, "test_extra_buffer", "cannot be handed over as weights alone",
             "extra entry 'memory' (6,) that a freshly built model does not have")


@pytest.mark.slow
def test_a_reshaped_parameter_is_refused_by_name(handed_over):
    _refused(handed_over, "test_reshaped_parameter", "'lin.weight' is float32(2, 5) after training, but "
                                                   "float32(2, 4) in a freshly built model")


@pytest.mark.slow
def test_a_load_state_dict_that_alters_the_weights_is_caught(handed_over):
    _refused(handed_over, "test_altering_load", "does not hold the trained weights bit for bit")


@pytest.mark.slow
def test_the_handoff_scores_add_up(handed_over):
    """The honest model earns its point, the three cheats none, on a scale of 4."""
    assert (handed_over.score, handed_over.max_score) == (1.0, 4.0)


# --- the course key --------------------------------------------------------------------------------

KEY_TESTS = '''\
import pytest


@pytest.mark.points(1)
def test_the_key_stays_on_the_trusted_side(student, course_key, feedback):
    seen = student.snoop()
    # the snoop worked: it saw its own command line, its module and the files it was told to try
    assert isinstance(seen, str) and "grader.boundary.inside.worker" in seen and "def snoop" in seen, "the snoop saw nothing"
    assert course_key._key.hex() not in seen, "the course key reached the worker"
    feedback.note(f"seed {course_key.seed('keyed', 'hidden data')}")
'''

KEY_SUBMISSION = '''\
import json
import os

TARGETS = %s   # the grader's files a cheat would try, by their real paths


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except OSError as e:
        return f"unreadable: {type(e).__name__}"


def snoop():
    seen = {"environ": dict(os.environ), "targets": {p: _read(p) for p in TARGETS}, "proc": {}, "files": {}}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            seen["proc"][pid] = [_read(f"/proc/{pid}/cmdline"), _read(f"/proc/{pid}/environ")]
    for top in (".", "/tmp"):
        for d, _, names in os.walk(top):
            for n in names:
                seen["files"][os.path.join(d, n)] = _read(os.path.join(d, n))
    return json.dumps(seen)
'''


def _keyed(root: Path, out: Path) -> tuple[Path, Path]:
    folder = write_assignment(root, "keyed", points=1, tests={"hidden/test_key.py": KEY_TESTS})
    targets = [str(out / KEY_FILE)] if HIDES_FILES else []
    sub = root / "keyed_sub.py"
    sub.write_text(KEY_SUBMISSION % repr(targets))
    return folder, sub


def _seed(result: SubmissionResult) -> int:
    t = by_name(result)["test_the_key_stays_on_the_trusted_side"]
    assert (t.status, t.score) == ("passed", 1.0), f"{t.kind}: {t.message}"
    (note,) = t.notes
    return int(note.removeprefix("seed "))


@pytest.mark.slow
def test_grade_keeps_one_secret_course_key_per_output_folder(tmp_path):
    out = tmp_path / "out"
    folder, sub = _keyed(tmp_path, out)

    def grade(**kw):
        report = grade_submissions(assignment=folder, submissions=[sub], jobs=1, **kw)
        (result,) = report.results
        assert result.status == "graded", result.reason
        return _seed(result)

    first = grade(out=out)
    key_file = out / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert first == CourseKey(bytes.fromhex(key)).seed("keyed", "hidden data")   # the data came from this key
    assert grade(out=out, force=True) == first and key_file.read_text() == key    # reused, not replaced
    assert grade(out=tmp_path / "other") != first                                 # another folder, another key
    given = tmp_path / "course-2026.key"
    load_or_create(given)
    assert grade(out=tmp_path / "third", key=given) == CourseKey(bytes.fromhex(given.read_text())).seed(
        "keyed", "hidden data")
    assert not (tmp_path / "third" / KEY_FILE).exists()


@pytest.mark.slow
def test_the_student_bundle_never_holds_the_course_key(tmp_path):
    for kind in ("assignments", "templates", "reference_solutions"):
        shutil.copytree(FIXTURES / kind / "tiny", tmp_path / kind / "tiny")
    assignment = tmp_path / "assignments" / "tiny"
    out = assignment / "graded"      # even an output folder inside the assignment's own folder
    report = grade_submissions(assignment=assignment, submissions=[FIXTURES / "reference_solutions" / "tiny" / "tiny.py"],
                               out=out, jobs=1)
    assert [r.status for r in report.results] == ["graded"]
    key = (out / KEY_FILE).read_text().strip()
    release = release_assignment(assignment=assignment, out=tmp_path / "dist")
    files = [p for p in release.folder.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.name == KEY_FILE]
    assert not [p for p in files if key in p.read_bytes().decode("utf-8", "replace")]
    with zipfile.ZipFile(release.archive) as zf:
        assert not [n for n in zf.namelist() if n.endswith(KEY_FILE)]
        assert not [n for n in zf.namelist() if key.encode() in zf.read(n)]


def test_validate_draws_a_new_key_on_every_run(monkeypatch):
    """Each run grades the reference and the template with one new key, never the same twice."""
    keys = []

    def spy(spec, submission, options, **kw):
        keys.append(options.course_key)
        return SubmissionResult("x", spec.name, options.mode or spec.default_mode, total_points=spec.points)

    monkeypatch.setattr(validate_module, "grade_submission", spy)
    for _ in range(2):
        validate_module.validate_assignment(assignment=FIXTURES / "assignments" / "tiny")
    assert len(keys) == 4 and all(isinstance(k, bytes) and len(k) == 32 for k in keys)
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[2]


# --- the scale of a score --------------------------------------------------------------------------

SCALE_TESTS = '''\
import pytest


@pytest.mark.points(1)
def test_answer(student):
    assert student.answer() == 42


@pytest.mark.points(1)
def test_on_the_data(student, data_dir):
    if data_dir is None:
        pytest.skip("this check needs the data set")
    assert student.answer() == 42


@pytest.mark.points(1)
@pytest.mark.modes("full")
def test_only_in_full(student):
    assert student.answer() == 42
'''

SCALE_MODES = """\
default_mode: embedded
modes:
  embedded:
    points: 2                # test_only_in_full is not part of it
  full:
    requires: [digits/train.npz]
"""


def _scale(root: Path) -> Path:
    folder = write_assignment(root, "scale", points=3, tests={"public/test_scale.py": SCALE_TESTS})
    spec = (folder / "assignment.yaml").read_text()
    (folder / "assignment.yaml").write_text(spec.replace("default_mode: embedded\nmodes:\n  embedded: {}\n", SCALE_MODES))
    (root / "answer.py").write_text("def answer():\n    return 42\n")
    return folder


@pytest.mark.parametrize("verb", ["grade", "check", "validate"])
def test_a_full_mode_without_its_data_is_refused_before_anything_is_graded(tmp_path, capsys, verb):
    folder = _scale(tmp_path)
    argv = {"grade": ["grade", folder, tmp_path / "answer.py", "--out", tmp_path / "out"],
            "check": ["check", folder, tmp_path / "answer.py"], "validate": ["validate", folder]}[verb]
    code = cli.main([str(a) for a in argv] + ["--mode", "full"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_USAGE
    assert "mode 'full' of scale grades on data sets: give --data-dir, a folder holding digits/train.npz" in err
    (tmp_path / "data" / "digits").mkdir(parents=True)
    code = cli.main([str(a) for a in argv] + ["--mode", "full", "--data-dir", str(tmp_path / "data")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_USAGE and "needs digits/train.npz there, missing (0 of 1 found)" in err
    assert not (tmp_path / "out").exists(), "graded before the data was checked"


@pytest.mark.slow
def test_a_skipped_test_keeps_its_points_on_the_scale_unless_it_belongs_to_another_mode(tmp_path):
    folder = _scale(tmp_path)
    result = grade_submission(find_assignment(folder), tmp_path / "answer.py", RunOptions())
    tests = by_name(result)
    assert [tests[n].status for n in ("test_answer", "test_on_the_data", "test_only_in_full")] == \
        ["passed", "skipped", "skipped"]
    assert (result.score, result.max_score) == (1.0, 2.0)         # the mode's fixed maximum, not 1 / 1
    gradescope = {t["extra_data"]["nodeid"].split("::")[-1]: t for t in result.to_gradescope()["tests"]}
    assert gradescope["test_on_the_data"]["max_score"] == 1 and gradescope["test_only_in_full"]["max_score"] == 0
    assert gradescope["test_on_the_data"]["output"].startswith("SKIPPED: this check needs the data set")


def test_validate_checks_each_modes_maximum(tmp_path):
    folder = _scale(tmp_path)
    spec = find_assignment(folder)
    assert validate_module._mode_points(spec, marked_points(spec)[0]) == []
    yaml = folder / "assignment.yaml"
    yaml.write_text(yaml.read_text().replace("    points: 2 ", "    points: 3 "))
    spec = find_assignment(folder)
    assert validate_module._mode_points(spec, marked_points(spec)[0]) == [
        "embedded: spec 3, its tests 2 (set modes.embedded.points: 2)"]
