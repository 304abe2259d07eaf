"""Real student notebooks are graded on their functions, not on the grader's way of reading them.

Twenty real submissions once all scored 0, mostly through the grader's fault: lines kept whose
inputs were skipped (`input_dim = X.shape[1]` after a skipped `np.load`) failed "while importing
your submission"; torchvision/matplotlib imports were blamed on the student; `from model import
Autoencoder` could not find model.py; the untouched template beside a solved .py was graded. The
notebooks in tests/fixtures/real_notebooks/ are written like those (Colab, argparse, a helper
module, a solved script beside the template, Keras); each is graded on the public tests.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission
from grader.intake.workspace import MODULE_FILE, prepare_workspace

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "real_notebooks"
TEMPLATE = REPO / "templates" / "ae_bottleneck" / "ae_bottleneck.ipynb"
HONEST = ["colab_mnist.ipynb", "argparse_config.ipynb", "helper_module", "solved_beside_template"]


@pytest.fixture(scope="module")
def spec():
    return find_assignment("ae_bottleneck")


def _template_beside_solved(dest: Path) -> Path:
    """What the course bundle ships, solved in a .py: the template notebook is re-saved after the
    solution (newer), so the file's time alone cannot pick the solution."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "solved_beside_template" / "hf_megoldas.py", dest / "hf_megoldas.py")
    shutil.copy(TEMPLATE, dest / "ae_bottleneck.ipynb")
    os.utime(dest / "hf_megoldas.py", (1_700_000_000, 1_700_000_000))
    os.utime(dest / "ae_bottleneck.ipynb", (1_700_100_000, 1_700_100_000))
    return dest


@pytest.fixture(scope="module")
def graded(spec, tmp_path_factory):
    paths = {name: FIXTURES / name for name in HONEST + ["keras_autoencoder.ipynb"]}
    paths["solved_beside_template"] = _template_beside_solved(tmp_path_factory.mktemp("bundle") / "hf")
    options = RunOptions(include_hidden=False, threads=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda item: (item[0], grade_submission(spec, item[1], options)), paths.items())
        return dict(results)


def _failures(result) -> str:
    return "; ".join(f"{t.nodeid.rsplit('::', 1)[-1]}: {t.message[:200]}" for t in result.tests if t.score < t.points)


@pytest.mark.slow
@pytest.mark.parametrize("name", HONEST)
def test_honest_notebooks_keep_every_public_point(graded, name):
    r = graded[name]
    assert r.status == "graded" and not r.grader_errors, f"{name}: {r.status} {r.reason} {r.grader_errors}"
    assert r.score == r.max_score > 0, f"{name}: {r.score}/{r.max_score}: {_failures(r)}"
    assert not any("NameError" in t.message or "while importing" in t.message for t in r.tests)


@pytest.mark.slow
def test_colab_notes_say_what_was_skipped_and_why(graded):
    notes = graded["colab_mnist.ipynb"].notes
    text = "\n".join(notes)
    # the data-derived constants went with the data, each with the statement it depended on
    assert "input_dim = X.shape[1] -- reads `X`, which comes from a skipped statement (cell 5" in text
    assert "X /= 255 -- reads `X`" in text and "n = len(X) -- reads `X`" in text
    assert "data = np.load(DATA) -- calls `np.load`" in text
    assert "drive.mount('/content/drive')" in text and "Colab only" in text
    assert "n_epochs = len(df) -- reads `df`" in text
    # the default computed from the data is replaced, not the whole class dropped
    assert "default value: Autoencoder.__init__(... = input_dim) -- reads `input_dim`" in text
    # the packages the grader lacks are listed as stand-ins, not blamed on the student
    stand_ins = next(n for n in notes if n.startswith("third-party imports that bind a stand-in"))
    for package in ("torchvision (cell 4", "torchvision.transforms as T", "matplotlib.pyplot as plt",
                    "pandas as pd", "tqdm.auto.tqdm"):
        assert package in stand_ins, stand_ins
    # constants that need nothing skipped are not mentioned
    assert "HIDDEN = 256" not in text and "EPOCHS = 20" not in text


@pytest.mark.slow
def test_argparse_attributes_go_with_the_parser(graded):
    text = "\n".join(graded["argparse_config.ipynb"].notes)
    assert "args = parser.parse_args(args=[])" in text
    for line in ("args.lr = 3e-3", "args.hidden = 128", "args.device = "):
        assert f"{line}" in text and "reads `args`, which comes from a skipped statement (cell 2, line 5)" in text
    # a helper whose default reads args is kept (the graded training passes batch_size)
    assert "default value: batches(... = args.batch_size)" in text


@pytest.mark.slow
def test_a_helper_module_beside_the_notebook_is_imported(graded):
    r = graded["helper_module"]
    assert any(n.startswith("several code files: graded experiments.ipynb") and "not graded: model.py" in n
               for n in r.notes), r.notes


@pytest.mark.slow
def test_the_solved_script_is_graded_not_the_newer_template(graded):
    note = next(n for n in graded["solved_beside_template"].notes if n.startswith("several code files"))
    assert note.startswith("several code files: graded hf_megoldas.py (defines Autoencoder, train_autoencoder of "
                           "the API, implements 5 of 5 parts)"), note
    assert "not graded: ae_bottleneck.ipynb (defines Autoencoder, train_autoencoder of the API, implements 1 of 5" in note


@pytest.mark.slow
def test_keras_code_is_told_the_course_is_pytorch(graded):
    r = graded["keras_autoencoder.ipynb"]
    assert r.status == "graded" and r.score == 0
    for t in r.tests:
        assert "this assignment is graded in PyTorch; Keras/TensorFlow code cannot be graded" in t.message, t.message
        assert "No module named" not in t.message
    assert any("tensorflow imported: this assignment is graded in PyTorch" in n for n in r.notes)


# --- the code file of a folder, without running anything ------------------------------------------

def _solved(name: str) -> str:
    return (FIXTURES / "solved_beside_template" / "hf_megoldas.py").read_text().replace("my solution", name)


def test_between_equal_candidates_the_file_edited_last_is_graded(spec, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "first_try.py").write_text(_solved("first try"))
    (sub / "final.py").write_text(_solved("final"))
    os.utime(sub / "first_try.py", (1_700_100_000, 1_700_100_000))
    os.utime(sub / "final.py", (1_700_000_000, 1_700_000_000))
    ws = prepare_workspace(sub, spec, tmp_path / "ws")
    assert ws.error is None and ws.code_file == "first_try.py"
    assert any("graded first_try.py" in n and "edited last" in n and "not graded: final.py" in n for n in ws.notes)


def test_a_template_copy_in_a_subfolder_does_not_win(spec, tmp_path):
    sub = tmp_path / "sub"
    (sub / "materials").mkdir(parents=True)
    shutil.copy(TEMPLATE, sub / "materials" / "ae_bottleneck.ipynb")
    (sub / "materials" / "solution.py").write_text(_solved("deep"))
    ws = prepare_workspace(sub, spec, tmp_path / "ws")
    assert ws.code_file == os.path.join("materials", "solution.py"), ws.notes
    module = (ws.work / MODULE_FILE).read_text()
    assert "def train_autoencoder" in module


RUN_MODULE = """
import runpy, sys
sys.path.insert(0, {repo!r})
ns = runpy.run_path({module!r}, run_name="submission")
print(ns["Autoencoder"].__module__, ns["train_autoencoder"].__name__)
"""


def test_the_notebooks_own_modules_import_from_its_folder(spec, tmp_path):
    """From anywhere (the worker's cwd and sys.path are not the folder): the generated module puts
    the submission's folders on sys.path; its own module is never replaced by a stand-in."""
    ws = prepare_workspace(FIXTURES / "helper_module", spec, tmp_path / "ws")
    assert ws.error is None and ws.code_file == "experiments.ipynb"
    script = RUN_MODULE.format(repo=str(REPO), module=str(ws.work / MODULE_FILE))
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.split() == ["model", "train_autoencoder"], run.stderr[-2000:]
    (ws.work / "model.py").unlink()
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "ModuleNotFoundError: No module named 'model'" in run.stderr, run.stderr[-2000:]
