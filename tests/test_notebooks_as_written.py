"""Notebooks are read as written (issue #19): what an honest notebook does at top level never costs it
its grade. The workspace filters the graded file and the student's own modules it imports; the
worker (grader/boundary/inside/worker.py, grader/boundary/inside/top_level.py) runs their top level one statement
at a time, drops a kept statement that raises and says so; errors name the student's file and line
as the student wrote them.

tests/fixtures/notebooks_as_written/weather_style is the honest solution of
tests/fixtures/real_notebooks/solved_beside_template written as a Colab notebook: loops filling
`temps` and `results`, a batch size divided by the GPU count, a class attribute running a
"warm-up", and two helper modules (one imports imageio, which the grader does not have).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission
from grader.intake.workspace import MODULE_FILE, dropped_notes, prepare_workspace

REPO = Path(__file__).resolve().parent.parent
AS_WRITTEN = REPO / "tests" / "fixtures" / "notebooks_as_written" / "weather_style"
PLAIN = REPO / "tests" / "fixtures" / "real_notebooks" / "solved_beside_template" / "hf_megoldas.py"

# the worker's import, in a process of its own (it changes sys.modules and sys.meta_path), without a
# sandbox or a channel; `probe` runs afterwards with the worker as `w` and fills `out`
LOAD = """
import json, sys
sys.path.insert(0, {repo!r})
from grader.boundary.inside.worker import Worker
w = Worker(None)
out = {{"info": w.load({module!r})}}
m = w.module
def attempt(key, call):
    try:
        out[key] = repr(call())
    except BaseException as e:
        out[key] = w.describe(e)
{probe}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def spec():
    return find_assignment("ae_bottleneck")


def _load(work: Path, probe: str = "") -> dict:
    script = LOAD.format(repo=str(REPO), module=MODULE_FILE, probe=textwrap.dedent(probe))
    run = subprocess.run([sys.executable, "-c", script], cwd=work, capture_output=True, text=True, timeout=300,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_kept_statement_that_raises_is_dropped_with_a_note_and_the_functions_still_work(spec, tmp_path):
    ws = prepare_workspace(AS_WRITTEN, spec, tmp_path / "ws")
    assert ws.error is None and ws.code_file == "hf.ipynb"
    out = _load(ws.work, """
        attempt("shape", lambda: tuple(m.Autoencoder(64, 8)(__import__("torch").zeros(2, 64)).shape))
        attempt("batch", lambda: m.BATCH + 1)
        attempt("per_device", lambda: m.utils.PER_DEVICE * 2)
    """)
    info = out["info"]
    assert info["loaded"] is True and info["error"] is None
    # on the student's Colab GPU `256 // N_GPUS` worked; the grader has none: that line goes, not the grade
    assert info["dropped"] == [["utils.py", 6, "ZeroDivisionError", "integer division or modulo by zero"],
                               ["", 12, "ZeroDivisionError", "integer division or modulo by zero"]]
    assert dropped_notes(ws, info["dropped"]) == [
        "dropped while grading (utils.py, line 6): PER_DEVICE = 64 // torch.cuda.device_count() -- it raised "
        "ZeroDivisionError: integer division or modulo by zero; the rest was loaded without it (names it binds say so "
        "if used)",
        "dropped while grading (cell 3, line 3): BATCH = 256 // N_GPUS  # one batch per GPU on Colab -- it raised "
        "ZeroDivisionError: integer division or modulo by zero; the rest was loaded without it (names it binds say so "
        "if used)"]
    assert out["shape"] == "(2, 64)"
    assert out["batch"]["type"] == "DefaultUnavailable" and out["batch"]["message"].startswith(
        "`BATCH` was not computed while grading: it comes from a statement that raised ZeroDivisionError")
    assert out["per_device"]["message"].startswith("`PER_DEVICE` was not computed while grading")


def test_a_definition_that_raises_still_fails_the_import_with_the_students_line(spec, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(PLAIN, sub / "hf.py")
    with open(sub / "hf.py", "a") as f:
        f.write("\n\nclass Broken:\n    size = [1, 2][5]\n")
    ws = prepare_workspace(sub, spec, tmp_path / "ws")
    info = _load(ws.work)["info"]
    assert info["loaded"] is False and info["dropped"] == []
    assert info["error"] == {"type": "IndexError", "message": "list index out of range",
                             "frames": [[55, "<module>", "class Broken:"], [56, "Broken", "size = [1, 2][5]"]],
                             "builtin_bases": ["IndexError", "LookupError", "Exception", "BaseException"]}


def test_statement_by_statement_keeps_what_a_whole_module_import_gives(tmp_path):
    (tmp_path / MODULE_FILE).write_text(textwrap.dedent('''\
        """My homework."""
        from __future__ import annotations
        LIMIT = 3


        def scale(x: NotDefinedAnywhere) -> AlsoNotDefined:
            return x * LIMIT
        '''))
    out = _load(tmp_path, 'attempt("doc", lambda: m.__doc__); attempt("scale", lambda: m.scale(2))')
    assert out["info"]["loaded"] is True  # annotations stay lazy after the __future__ import, as in one module
    assert out["doc"] == "'My homework.'" and out["scale"] == "6"


def test_the_rows_a_worker_sends_back_are_checked(spec, tmp_path):
    ws = prepare_workspace(AS_WRITTEN, spec, tmp_path / "ws")
    hostile = ["x", [1, 2, 3, 4], ["../../etc/passwd", 1, "E", "m"], ["/etc/passwd", 1, "E", "m"], ["", "1", "E", "m"],
               ["", 10 ** 9, "OSError", "gone"], ["", 0, "OSError", "gone"], ["plotting.py", 99, "E", "m"]]
    assert dropped_notes(ws, hostile + [["", 12, "KeyError", "'k'"]]) == [
        "dropped while grading (cell 3, line 3): BATCH = 256 // N_GPUS  # one batch per GPU on Colab -- it raised "
        "KeyError: 'k'; the rest was loaded without it (names it binds say so if used)"]
    assert dropped_notes(ws, {"not": "a list"}) == []


# --- the student's own modules get the graded file's treatment -------------------------------------

def test_a_helper_module_importing_a_missing_package_gets_a_stand_in_named_by_its_file_and_line(spec, tmp_path):
    ws = prepare_workspace(AS_WRITTEN, spec, tmp_path / "ws")
    notes = "\n".join(ws.notes)
    assert "imageio (plotting.py, line 2) (not installed here: imageio)" in notes
    # the helper's own top-level loop is skipped with its readers (it would raise IndexError at import)
    assert ("not run while grading (plotting.py, line 8): statement: STACK = np.array(FRAMES) -- reads `FRAMES`, "
            "which a skipped statement changes (plotting.py, line 6)") in notes
    assert "not run while grading (plotting.py, line 9): statement: DEPTH = STACK.shape[2]" in notes
    out = _load(ws.work, 'attempt("save", lambda: m.save_reconstruction([[0]], "x.png"))')
    assert out["info"]["loaded"] is True
    assert out["save"] == {
        "type": "PackageUnavailable", "frames": [], "builtin_bases": ["ImportError", "Exception", "BaseException"],
        "message": "imageio is not available when grading (it is not installed there; imported at plotting.py, line 2); "
                   "the graded functions must not need it (your code used `imageio.imwrite`): keep its use (plots, "
                   "progress bars, data loading) outside them (plotting.py, line 18)"}


def test_an_error_in_a_helper_module_names_its_file_and_line_not_the_graders_rewrite(spec, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(PLAIN, sub / "hf.py")
    text = PLAIN.read_text().replace("import torch.nn as nn\n", "import torch.nn as nn\nfrom plotting import show\n", 1)
    (sub / "hf.py").write_text(text)
    (sub / "plotting.py").write_text("import imageio\nfrom helpers import ready\nfrom helpers import MISSING\n\n\n"
                                     "def show(x):\n    return imageio.imread(x)\n")
    (sub / "helpers.py").write_text("ready = True\n")
    ws = prepare_workspace(sub, spec, tmp_path / "ws")
    info = _load(ws.work)["info"]
    assert info["error"] == {"type": "ImportError",
                             "message": "cannot import name 'MISSING' from 'helpers' (plotting.py, line 3)",
                             "frames": [[5, "<module>", "from plotting import show"]],
                             "builtin_bases": ["ImportError", "Exception", "BaseException"]}


# --- end to end: the notebook as written scores what its plain functions score ----------------------

@pytest.mark.slow
def test_the_notebook_as_written_scores_the_same_as_its_plain_functions(spec, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(PLAIN, plain / "hf.py")
    options = RunOptions(include_hidden=False, threads=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        as_written, reference = pool.map(lambda path: grade_submission(spec, path, options), [AS_WRITTEN, plain])
    assert reference.status == "graded" and reference.score == reference.max_score > 0
    assert as_written.status == "graded" and not as_written.grader_errors, as_written.reason
    assert [(t.name, t.score) for t in as_written.tests] == [(t.name, t.score) for t in reference.tests]
    notes = "\n".join(as_written.notes)
    for line in ("dropped while grading (cell 3, line 3): BATCH = 256 // N_GPUS",
                 "dropped while grading (utils.py, line 6): PER_DEVICE = 64 // torch.cuda.device_count()",
                 "not run while grading (cell 5, line 2): class attribute: Autoencoder.WARMED = warm_up() -- calls "
                 "`warm_up`, defined in your code, when the class is created; using it fails",
                 "not run while grading (cell 7, line 6): statement: series = np.array(temps) -- reads `temps`, which "
                 "a skipped statement changes (cell 7, line 4)",
                 "not run while grading (cell 8, line 5): statement: best = min(results, key=results.get) -- reads "
                 "`results`, which a skipped statement changes (cell 8, line 2)"):
        assert line in notes, notes
    assert not any("while importing" in t.message for t in as_written.tests)
