"""Messages that help an honest student (issue #19, section 5): a misspelt name gets "did you mean",
Keras code and a notebook cell skipped for a syntax error are the headline (the reason and the first
line of every report), feedback.md has no heading with nothing under it, and ae_bottleneck tells a
log that reports MSE instead of BCE what it is, for a small deduction, instead of calling it false."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.boundary.client import WorkerSession
from grader.core.assignments import find_assignment
from grader.core.errors import MissingName, StudentCodeRaised
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.grading.runner import RunOptions, grade_submission
from grader.intake.headline import reading_headline
from grader.reports.html import feedback_html
from grader.reports.markdown import feedback_markdown
from grader.reports.safe_text import md_inline

REPO = Path(__file__).resolve().parents[1]
SPEC = find_assignment("ae_bottleneck")
API = {sig.split("(")[0].strip(): sig for sig in SPEC.api}
MISSPELT = '''import torch


class AutoEncoder(torch.nn.Module):
    def __init__(self, input_dim=784, bottleneck_dim=32):
        super().__init__()
        self.layer = torch.nn.Linear(input_dim, bottleneck_dim)

    def encoder(self, x):
        return self.layer(x)


class Autoencoder2(torch.nn.Module):
    def __init__(self, input_dim=784, bottlenek_dim=32):
        super().__init__()


def Train_AutoEncoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    return []
'''


@pytest.fixture(scope="module")
def misspelt(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("misspelt")
    (tmp / "pristine").mkdir()
    (tmp / "pristine" / "submission.py").write_text(MISSPELT)
    with WorkerSession(tmp / "pristine", SPEC.limits, module_file="submission.py", api=API,
                       locate=lambda line: f"hw.py, line {line}", scratch=tmp / "workers") as session:
        yield session


def test_a_class_named_in_another_letter_case_is_suggested(misspelt):
    with pytest.raises(MissingName) as caught:
        misspelt.module.Autoencoder(input_dim=4, bottleneck_dim=2)
    assert str(caught.value) == ("expected `Autoencoder(input_dim=784, bottleneck_dim=32)`, not found in your "
                                 "submission; did you mean `AutoEncoder` (hw.py, line 4)? Names must match exactly: "
                                 "rename it to `Autoencoder`")


def test_a_function_and_a_method_spelt_differently_are_suggested(misspelt):
    with pytest.raises(MissingName) as caught:
        misspelt.module.train_autoencoder(None, None, None, epochs=1, batch_size=1, lr=1.0, device="cpu")
    assert str(caught.value).endswith("did you mean `Train_AutoEncoder` (hw.py, line 18)? Names must match "
                                      "exactly: rename it to `train_autoencoder`")
    model = misspelt.module.AutoEncoder(input_dim=4, bottleneck_dim=2)
    with pytest.raises(MissingName) as caught:
        model.encode(None)
    assert str(caught.value).endswith("did you mean `encoder` (hw.py, line 9)? Names must match exactly: "
                                      "rename it to `encode`")


def test_a_misspelt_keyword_parameter_is_named_with_its_line(misspelt):
    with pytest.raises(StudentCodeRaised) as caught:
        misspelt.module.Autoencoder2(input_dim=4, bottleneck_dim=2)
    assert "got an unexpected keyword argument 'bottleneck_dim'; your parameter `bottlenek_dim` (hw.py, line 14) " \
           "looks like a misspelling: rename it to `bottleneck_dim`" in str(caught.value)


def test_a_name_with_nothing_near_it_gets_no_guess(misspelt):
    with pytest.raises(MissingName) as caught:
        misspelt.module.Decoder()
    assert str(caught.value) == "expected `Decoder`, not found in your submission"


# --- the headline: the reason and the first line of every report -----------------------------------

def _public(path: Path) -> SubmissionResult:
    return grade_submission(SPEC, path, RunOptions(include_hidden=False, threads=1))


def _first_banner(md: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("> "))


@pytest.fixture(scope="module")
def keras():
    return _public(REPO / "tests" / "fixtures" / "real_notebooks" / "keras_autoencoder.ipynb")


def test_keras_code_is_the_headline_not_a_note_at_the_bottom(keras):
    lead = ("this assignment is graded in PyTorch, but your code uses tensorflow (cell 1, line 2): Keras/TensorFlow "
            "code cannot be graded; write the graded classes and functions with torch")
    assert keras.reason == f"{lead} (7 of 7 tests not fully passed)"
    md = feedback_markdown(keras, title=SPEC.title)
    assert _first_banner(md) == f"> **Why you lost points**: {lead}"
    page = feedback_html(keras, title=SPEC.title, images={})
    assert page.index("Why you lost points") < page.index("<table>")


@pytest.fixture(scope="module")
def broken_cell(tmp_path_factory):
    """anna_good.ipynb with the colon of `class Autoencoder(nn.Module):` deleted (cell 7, line 1)."""
    nb = json.loads((REPO / "examples" / "ae_bottleneck" / "anna_good.ipynb").read_text())
    cell = nb["cells"][6]
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    assert source.startswith("class Autoencoder(nn.Module):\n")
    cell["source"] = source.replace("class Autoencoder(nn.Module):", "class Autoencoder(nn.Module)", 1)
    path = tmp_path_factory.mktemp("nb") / "broken_cell.ipynb"
    path.write_text(json.dumps(nb))
    return _public(path)


def test_a_cell_skipped_for_a_syntax_error_is_the_reason_not_a_missing_class(broken_cell):
    lead = ("syntax error in cell 7, line 1 in `class Autoencoder(nn.Module)`: expected ':'; the grader skipped "
            "that cell, so nothing it defines exists when grading: fix the line and run every cell again")
    assert broken_cell.reason.startswith(lead + " (")
    assert "did you mean" not in broken_cell.tests[0].message   # `train_autoencoder` is no near miss of `Autoencoder`
    md = feedback_markdown(broken_cell, title=SPEC.title)   # the student's line is text there, not Markdown
    assert _first_banner(md) == f"> **Why you lost points**: {md_inline(lead)}"


def test_no_headline_when_the_notes_explain_nothing():
    passed = OneTest(name="shape", nodeid="t.py::a", points=1.0, score=1.0, status="passed", visibility="visible")
    failed = OneTest(name="quality", nodeid="t.py::b", points=1.0, score=0.0, status="failed", visibility="visible",
                     kind="assertion", message="too blurry")
    syntax = "cell 4: syntax error at line 2: invalid syntax (`plt.plot(x`); the cell was skipped"
    assert reading_headline([syntax], [passed]) == ""        # nothing lost
    assert reading_headline([syntax], [passed, failed]) == ""  # a plotting cell does not explain a blurry model


# --- feedback.md: no heading with nothing under it -------------------------------------------------

def test_feedback_md_has_no_empty_heading():
    cause = "expected `Autoencoder(...)`, not found in your submission"
    tests = [OneTest(name=f"check {i}", nodeid=f"tests/public/test_api.py::test_{i}", points=1.0, score=0.0,
                     status="failed", visibility="visible", kind="missing", message=cause) for i in range(3)]
    tests.append(OneTest(name="timed", nodeid="tests/public/test_api.py::test_t", points=1.0, score=0.0,
                         status="skipped", visibility="visible", message=""))
    md = feedback_markdown(SubmissionResult("dora", "ae", "embedded", tests=tests), title="Demo")
    assert "## Details" not in md and "### " not in md
    lines = md.splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("#")]
    for i in headings:   # every heading has text before the next heading
        following = next((j for j in headings if j > i), len(lines))
        assert any(line.strip() for line in lines[i + 1:following]), f"empty heading: {lines[i]}"


# --- ae_bottleneck: a log in MSE is told so, for a small deduction ---------------------------------

@pytest.mark.slow
def test_a_log_in_mse_is_a_format_mistake_told_plainly(tmp_path):
    reference = (REPO / "reference_solutions" / "ae_bottleneck" / "ae_bottleneck.py").read_text()
    honest_mse = reference.replace("F.binary_cross_entropy(model(xb), xb)", "F.mse_loss(model(xb), xb)") \
        .replace("val_loss = reconstruction_bce(model, val_x, device=device)",
                 "val_loss = float(F.mse_loss(model(val_x.to(device)), val_x.to(device)))")
    assert honest_mse.count("mse_loss") == 2
    (tmp_path / "mse_log.py").write_text(honest_mse)
    result = grade_submission(SPEC, tmp_path / "mse_log.py", RunOptions(threads=1))
    log = next(t for t in result.tests if t.nodeid.endswith("test_training_log"))
    assert (log.status, log.score, log.points) == ("partial", 1.5, 2.0), log.message
    first = log.message.splitlines()[0]
    assert first.startswith("bottleneck 32: your log reports what looks like MSE (0.0")
    assert "; the grader's MSE of your weights is 0.0" in first
    assert "); the assignment asks for the BCE per pixel (the grader measures 0." in first
    assert log.message.endswith("Your weights do reach the loss your log reports, so this is a format mistake: 0.5 "
                                "of the 2 points are deducted. The assignment asks for the BCE per pixel in "
                                "train_loss and val_loss.")
    assert "must report the loss the training really reached" not in log.message and not log.detail
