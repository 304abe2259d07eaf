"""The hpo log-content and analysis checks on hand-made variants of the reference's log and analysis:
padding a log with jittered copies or unmeasured accuracies does not earn trainings, and an analysis
earns its points only in its own words and with the correlation its log really shows. The hidden test
functions are called directly with the fixtures' real classes (no worker: these tests read files only)."""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from grader.core.assignments import find_assignment
from grader.trusted.artifacts import Artifacts
from grader.trusted.feedback import Feedback
from grader.authoring.checks import Credit

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "assignments" / "hpo" / "tests"
REFERENCE = REPO / "reference_solutions" / "hpo" / "example_output"
sys.path[:0] = [str(TESTS), str(TESTS / "hidden")]

import hpo_checks  # noqa: E402
import hpo_support  # noqa: E402

with warnings.catch_warnings():   # the grading marks (points, visibility) are registered only when grading
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    import test_log_content as log_tests  # noqa: E402
    import test_writeup as writeup_tests  # noqa: E402

SPEC = find_assignment("hpo")
N_VAL = 287   # the digits validation split the reference log was made on
# the `verification` fixture when no trial was re-run: these tests read files only, so the claims are
# checked against the log alone (tests/test_hpo_integrity.py checks them against re-runs)
NOT_RE_RUN = SimpleNamespace(verdict=None, not_done="these tests re-run no training", failed="")


def lines(path: Path) -> tuple[dict, list[dict]]:
    header, *trials = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    return header, trials


def submission(tmp_path: Path, header: dict, trials: list[dict], analysis: str | None = None) -> Artifacts:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "hpo_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [header, *trials]))
    if analysis is not None:
        (tmp_path / "analysis.md").write_text(analysis)
    return Artifacts(tmp_path)


def enough(artifacts: Artifacts, mode: str = "embedded") -> Credit:
    credit = Credit()
    log_tests.test_enough_trainings(hpo_support.read_log(artifacts), SPEC.mode(mode).settings,
                                    SPEC.mode(mode).thresholds, NOT_RE_RUN, credit)
    return credit


def analysis_credit(artifacts: Artifacts, tmp_path: Path, mode: str = "embedded") -> tuple[Credit, Feedback]:
    credit, feedback = Credit(), Feedback(tmp_path / "images", "analysis")
    writeup_tests.test_analysis(artifacts, hpo_support.read_log(artifacts), SPEC, SPEC.mode(mode).settings,
                                SPEC.mode(mode).thresholds, feedback, credit, NOT_RE_RUN)
    return credit, feedback


# --- distinct trainings ----------------------------------------------------------------------------

def jittered(trials: list[dict], copies: int, seed: int = 0) -> list[dict]:
    """Each trial `copies` times, every float of its config nudged by up to 1e-7, renumbered."""
    rng = random.Random(seed)
    out = []
    for t in trials:
        for _ in range(copies):
            config = {k: v + rng.uniform(-1e-7, 1e-7) if isinstance(v, float) else v for k, v in t["config"].items()}
            out.append({**t, "trial": len(out), "seed": t["seed"], "config": config})
    return out


def test_jittered_copies_of_ten_configs_count_as_ten(tmp_path):
    header, trials = lines(REFERENCE / "digits" / "hpo_log.jsonl")
    padded = jittered(trials[:10], 10)
    assert len({json.dumps(t["config"], sort_keys=True) for t in padded}) == 100   # 100 different lines ...
    assert hpo_checks.distinct_configs(padded) == 10                                # ... ten trainings
    art = submission(tmp_path, header, padded)
    credit = enough(art)
    assert credit.fraction == 0.0 and "only 10 different (config, seed) pairs" in credit.message
    with pytest.raises(AssertionError, match="only 10 different configs among 100"):
        log_tests.test_configs_vary(hpo_support.read_log(art), SPEC.mode("embedded").thresholds)


def test_the_reference_log_keeps_every_training(tmp_path):
    header, trials = lines(REFERENCE / "digits" / "hpo_log.jsonl")
    assert hpo_checks.distinct_configs(trials) == 100
    art = submission(tmp_path, header, trials)
    assert enough(art).fraction == 1.0
    log_tests.test_configs_vary(hpo_support.read_log(art), SPEC.mode("embedded").thresholds)


def test_near_twins_merge_but_real_neighbours_and_sweeps_do_not():
    base = {"width": 16, "depth": 2, "lr": 1e-3, "dropout": 0.0, "weight_decay": 1e-6}
    twins = [base, {**base, "lr": 1e-3 + 1e-7, "dropout": 1e-7, "weight_decay": 1e-6 + 1e-7},
             {"weight_decay": 1e-6, "lr": 1e-3, "dropout": 0.0, "depth": 2.0, "width": 16}]  # key order, 2.0
    # the absolute floor scales with the range the log searches (here dropout up to 0.5, weight decay to 0.1)
    other = {**base, "lr": 3e-2, "dropout": 0.5, "weight_decay": 0.1}
    assert hpo_checks.distinct_configs([{"config": c} for c in twins + [other]]) == 2
    assert hpo_checks.distinct_configs([{"config": {**base, "lr": 1.02e-3}}, {"config": base}]) == 2  # 2 % apart
    assert hpo_checks.distinct_configs([{"config": {**base, "width": 17}}, {"config": base}]) == 2   # ints exact
    # a fine sweep in steps of 0.09 %: a transitive merge would make it one config; leaders keep about half
    sweep = [{"config": {**base, "lr": 1e-3 * 1.0009 ** i}} for i in range(100)]
    assert 45 <= hpo_checks.distinct_configs(sweep) <= 55


# --- accuracies that were not measured -------------------------------------------------------------

def test_accuracies_between_validation_steps_do_not_count(tmp_path):
    header, trials = lines(REFERENCE / "digits" / "hpo_log.jsonl")
    edited = [{**t, "val_accuracy": round(t["val_accuracy"] + 0.0021, 6)} if t["trial"] % 10 == 3 else t
              for t in trials]
    credit = enough(submission(tmp_path / "edited", header, edited))
    assert credit.fraction == pytest.approx(0.8)   # 90 of the 100 count: (90 - 50) / (100 - 50)
    assert "not counted: 10 complete trials whose val_accuracy is not a whole number of the 287" in credit.message
    assert "trial 3 (seed 3)" in credit.message
    # the header cannot move the grid: the grader knows its own split
    lying = {**header, "n_val": 10 ** 6}
    assert enough(submission(tmp_path / "lying", lying, edited)).fraction == pytest.approx(0.8)


def test_rounded_accuracies_are_still_measured_ones(tmp_path):
    header, trials = lines(REFERENCE / "digits" / "hpo_log.jsonl")
    for digits in (4, 6):
        rounded = [{**t, "val_accuracy": round(t["val_accuracy"], digits)} for t in trials]
        assert enough(submission(tmp_path / str(digits), header, rounded)).fraction == 1.0
    # (pred == y).float().mean().item(): correct / 287 rounded to a float32, written with 17 digits
    as_float32 = [{**t, "val_accuracy": float(np.float32(t["val_accuracy"]))} for t in trials]
    assert as_float32[0]["val_accuracy"] != trials[0]["val_accuracy"]
    assert enough(submission(tmp_path / "float32", header, as_float32)).fraction == 1.0
    assert not hpo_checks.accuracy_off_grid(282 / 287, N_VAL)
    assert hpo_checks.accuracy_off_grid(282 / 287 + 1e-7, N_VAL)
    assert hpo_checks.accuracy_off_grid(0.9836, N_VAL) and not hpo_checks.accuracy_off_grid(0.9826, N_VAL)


def test_the_cifar_log_is_checked_against_the_split_its_header_names(tmp_path):
    header, trials = lines(REFERENCE / "cifar10_subset" / "hpo_log.jsonl")
    assert enough(submission(tmp_path / "ok", header, trials), "full").fraction == 1.0
    nudged = [{**t, "val_accuracy": t["val_accuracy"] + 0.0004} for t in trials]   # a third of an image
    credit = enough(submission(tmp_path / "nudged", header, nudged), "full")
    assert credit.fraction == 0.0 and "not counted: 20 complete trials" in credit.message


# --- the analysis --------------------------------------------------------------------------------

def reference(name: str = "digits") -> tuple[dict, list[dict], str]:
    header, trials = lines(REFERENCE / name / "hpo_log.jsonl")
    return header, trials, (REFERENCE / name / "analysis.md").read_text()


@pytest.mark.parametrize("name, mode", [("digits", "embedded"), ("cifar10_subset", "full")])
def test_honest_analyses_earn_full_marks(tmp_path, name, mode):
    header, trials, text = reference(name)
    credit, feedback = analysis_credit(submission(tmp_path, header, trials, text), tmp_path, mode)
    assert credit.fraction is None, credit.message       # passed, nothing withheld
    assert any("the grader's Spearman rho" in n for n in feedback.notes)


def test_the_readme_pasted_as_the_analysis_earns_nothing(tmp_path):
    header, trials, _ = reference()
    readme = (SPEC.path / "README.md").read_text()
    assert hpo_support.words(readme) > 600 and hpo_checks.english_score(readme) > 0.3   # it would pass on length
    art = submission(tmp_path, header, trials, readme)
    with pytest.raises(AssertionError, match="words of its own .text copied from the assignment is not counted"):
        analysis_credit(art, tmp_path)


def test_an_honest_analysis_that_quotes_the_task_keeps_its_marks(tmp_path):
    header, trials, text = reference()
    task = "how does the network size (parameter count) relate to the accuracy? Give the rank correlation"
    quoted = f"> {task}\n\n{text}"
    credit, _ = analysis_credit(submission(tmp_path, header, trials, quoted), tmp_path)
    assert credit.fraction is None
    own, share = hpo_checks.strip_copied(quoted, writeup_tests.assignment_texts(SPEC))
    assert "Give the rank correlation" not in own and 0.01 < share < 0.05   # the quote goes, the analysis stays


def test_a_correlation_the_log_does_not_show_earns_nothing(tmp_path):
    header, trials, text = reference()   # the log gives rho = +0.44
    invented = text.replace("rho = +0.44", "rho = -0.35").replace("moderate positive", "moderate negative")
    with pytest.raises(AssertionError, match=r"states a size-accuracy correlation of -0.35 .* Spearman rho \+0.44"):
        analysis_credit(submission(tmp_path / "a", header, trials, invented), tmp_path)
    # the same analysis handed in with another log (the other trials' accuracies reversed in rank)
    accs = sorted(t["val_accuracy"] for t in trials)
    by_size = sorted(trials, key=lambda t: t["params"])
    other = [{**t, "val_accuracy": a} for t, a in zip(by_size, reversed(accs))]
    with pytest.raises(AssertionError, match="the analysis must describe this log"):
        analysis_credit(submission(tmp_path / "b", header, other, text), tmp_path)


def drop_sentences(text: str, pattern: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not re.search(pattern, ln, re.I))


def test_a_worded_claim_is_checked_by_sign_and_strength(tmp_path):
    header, trials, text = reference()
    numberless = drop_sentences(text, r"rho|correlation|relation")
    assert hpo_checks.stated_size_correlation(numberless)[0] is None
    worded = numberless + "\nNetwork size and accuracy show a moderate positive correlation in this search.\n"
    credit, _ = analysis_credit(submission(tmp_path / "ok", header, trials, worded), tmp_path)
    assert credit.fraction is None
    wrong = numberless + "\nNetwork size and accuracy show a strong negative correlation in this search.\n"
    with pytest.raises(AssertionError, match="describes the size-accuracy relation as strong negative"):
        analysis_credit(submission(tmp_path / "wrong", header, trials, wrong), tmp_path)
    credit, _ = analysis_credit(submission(tmp_path / "none", header, trials, numberless), tmp_path)
    assert credit.fraction == 0.5 and "does not state the correlation" in credit.message


@pytest.mark.parametrize("sentence, value", [
    ("The Spearman ρ = 0.44 between parameter count and accuracy.", 0.44),
    ("Network size has a correlation of +0.44 with accuracy.", 0.44),
    ("For the parameter count, r=0.4.", 0.4),
    ("Parameters vs accuracy: 0.44 (Spearman).", 0.44),
    ("Spearman's ρ_s between log10(parameters) and accuracy is 0.44.", 0.44),
    ("R² of a linear fit of accuracy on log10 parameters is 0.19; the rank correlation is 0.44.", 0.44),
    ("The rank correlation of size and accuracy is −0.21 (p < 0.05).", -0.21),
    ("Batch size has the largest correlation (rho = -0.52). Network size: rho = 0.44.", 0.44),
    ("The correlation with network size is significant (p < 0.001).", None),
])
def test_stated_correlations_are_read(sentence, value):
    assert hpo_checks.stated_size_correlation(sentence)[0] == value


def test_the_reference_analyses_state_the_correlation_their_logs_show():
    for folder in sorted(REFERENCE.iterdir()):
        _, trials = lines(folder / "hpo_log.jsonl")
        stated, sentence = hpo_checks.stated_size_correlation((folder / "analysis.md").read_text())
        rho = hpo_checks.spearman([t["params"] for t in trials], [t["val_accuracy"] for t in trials])
        assert stated == round(rho, 2) and "parameter count" in sentence, (folder.name, stated, rho)


# --- the analysis as a person writes it: Markdown, wrapped lines, words ---------------------------

def test_markdown_is_read_as_sentences_without_markup():
    """Each sentence, heading, list item and table row becomes one line of plain text; code is dropped."""
    import markdown_prose

    text = ("# Size *vs* accuracy\n\nBigger networks were\nbetter. The `batch_size` and ρ_s stay;\n"
            "[a link](http://x) too.\n\n- first item\n  wrapped\n* second\n\n```\nrho = 0.99\n```\n\n"
            "    indented = 'code'\n\n| a | b |\n|---|---|\n| x | **1** |\n\n> quoted\n> text\n")
    assert markdown_prose.prose_units(text) == [
        "Size vs accuracy", "Bigger networks were better.", "The batch_size and ρ_s stay; a link too.",
        "first item wrapped", "second", "a x; b: 1", "quoted text"]
    assert markdown_prose.prose_units("plain text. Two sentences.") == ["plain text.", "Two sentences."]


@pytest.mark.parametrize("markdown, value", [
    # hard-wrapped, the number in bold on the next line (issue #19: an honest Optuna search lost a point)
    ("The Spearman correlation between the parameter count and the validation accuracy is\n**0.62**, so size helps.",
     0.62),
    ("Between network size and accuracy I get Spearman ρ = **+0.41**.", 0.41),
    ("Network size vs accuracy: Spearman $\\rho = 0.38$ over the 100 trials.", 0.38),
    ("- the rank correlation of the parameter count with accuracy is `0.57`\n- learning rate matters most", 0.57),
    ("> The correlation between *model size* and accuracy is\n> __-0.12__ in my search.", -0.12),
    ("| quantity | value |\n|---|---|\n| Spearman ρ (parameters vs accuracy) | **0.62** |", 0.62),
    ("|  | Spearman ρ | Kendall τ |\n|:--|--:|--:|\n| parameter count vs accuracy | 0.55 | 0.40 |", 0.55),
    # a table of every hyperparameter: the row about the whole network's size, not width or batch size
    ("| hyperparameter | Spearman rho with accuracy |\n|---|---:|\n| width | +0.31 |\n| batch size | -0.52 |\n"
     "| parameter count | +0.47 |", 0.47),
    ("```python\nrho = spearman(params, acc)  # 0.99\n```\nThe correlation is not computed for network size.", None),
])
def test_correlations_written_in_markdown_are_read(markdown, value):
    assert hpo_checks.stated_size_correlation(markdown)[0] == value


@pytest.mark.parametrize("sentence, strength, sign", [
    ("Network size and accuracy show a moderate positive relation.", "moderate", "positive"),
    ("There is a very strong positive relationship between the parameter count and accuracy.", "very strong", "positive"),
    ("I found a weak negative correlation between model size and accuracy.", "weak", "negative"),
    ("Parameter count and accuracy are moderately positively correlated.", "moderate", "positive"),
    ("The correlation between network size and accuracy is strong and positive.", "strong", "positive"),
    ("There is no clear relation between the number of parameters and accuracy.", "none", None),
    ("Accuracy does not depend on the network size in this search.", "none", None),
    ("The parameter count is positively correlated with the validation accuracy.", "some", "positive"),
    ("Larger networks tend to be more accurate.", "some", "positive"),
    ("Bigger models were less accurate in my search.", "some", "negative"),
    ("Smaller networks did better here, as they train faster.", "some", "negative"),
    ("Accuracy increases with the number of parameters.", "some", "positive"),
    ("Larger networks are not more accurate than small ones.", "none", None),
    ("Parameter count and accuracy have a medium, positive association.", "moderate", "positive"),
    ("There is a clear positive trend between network size and accuracy.", "moderate", "positive"),
    ("Model size and accuracy have a high negative correlation.", "strong", "negative"),
    ("Width is strongly negatively correlated with accuracy.", "strong", "negative"),
    ("Network size and accuracy are uncorrelated.", "none", None),
    ("There is little correlation between network size and accuracy.", "none", None),
    ("Validation accuracy decreases with the parameter count.", "some", "negative"),
    ("The parameter count has a positive relationship with accuracy.", "some", "positive"),
    ("A larger batch size gives a weak negative correlation.", None, None),   # another knob: not a size claim
])
def test_worded_size_claims_are_read(sentence, strength, sign):
    assert hpo_checks.stated_size_strength(sentence)[:2] == (strength, sign)


def test_a_hard_wrapped_analysis_with_a_bold_number_keeps_its_marks(tmp_path):
    """The reference's analysis rewritten as a student writes Markdown: its correlation sentence wrapped
    mid-sentence with the value in bold, and the same with the relation in (wrapped, emphasised) words only."""
    header, trials, text = reference()   # the log gives rho = +0.44
    rho_line = next(ln for ln in text.splitlines() if ln.startswith("Spearman rank correlation"))
    wrapped = text.replace(rho_line, "The Spearman rank correlation between the parameter count and the\n"
                                     "validation accuracy of the 100 trials is\n**+0.44** (p < 0.001).")
    numberless = drop_sentences(wrapped, r"rho|\*\*\+0\.44") + (
        "\nIn short, network size and accuracy show\na *moderate positive* relation: larger networks\n"
        "tend to be more accurate.\n")
    assert hpo_checks.stated_size_correlation(numberless)[0] is None
    for name, analysis in (("wrapped", wrapped), ("worded", numberless)):
        credit, _ = analysis_credit(submission(tmp_path / name, header, trials, analysis), tmp_path)
        assert credit.fraction is None, (name, credit.message)
    wrong = wrapped.replace("**+0.44**", "**-0.44**")
    with pytest.raises(AssertionError, match="states a size-accuracy correlation of -0.44"):
        analysis_credit(submission(tmp_path / "wrong", header, trials, wrong), tmp_path)


# --- filler earns nothing: repetition and text unrelated to the search ----------------------------

ZEN_OF_PYTHON = """Beautiful is better than ugly.
Explicit is better than implicit.
Simple is better than complex.
Complex is better than complicated.
Flat is better than nested.
Sparse is better than dense.
Readability counts.
Special cases aren't special enough to break the rules.
Although practicality beats purity.
Errors should never pass silently.
Unless explicitly silenced.
In the face of ambiguity, refuse the temptation to guess.
There should be one-- and preferably only one --obvious way to do it.
Although that way may not be obvious at first unless you're Dutch.
Now is better than never.
Although never is often better than *right* now.
If the implementation is hard to explain, it's a bad idea.
If the implementation is easy to explain, it may be a good idea.
Namespaces are one honking great idea -- let's do more of those!
"""
RHO_SENTENCE = "The Spearman rank correlation between parameter count and validation accuracy is rho = +0.44.\n\n"
WEATHER = "It rained all week in Budapest, and the tram to the university was late every single morning."
HONEST_EXAMPLES = [p for p in sorted((REPO / "populations" / "hpo").glob("*/analysis.md"))
                   + sorted((REPO / "examples" / "hpo").glob("*/analysis.md"))
                   if p.parent.name != "istvan_hungarian_analysis"]   # istvan's is in Hungarian: it loses its points


def test_the_zen_of_python_after_one_correlation_sentence_earns_nothing(tmp_path):
    """issue #20: one sentence quoting the log's rho plus seventeen copies of the Zen of Python scored 2/2."""
    header, trials, _ = reference()   # the log gives rho = +0.44
    attack = RHO_SENTENCE + "\n\n".join([ZEN_OF_PYTHON] * 17)
    assert hpo_support.words(attack) > 2000 and hpo_checks.english_score(attack) > 0.2   # it passed on both
    substance = hpo_checks.analysis_substance(attack, trials)
    assert substance.kept == hpo_support.words(RHO_SENTENCE) == 12     # the rho sentence, once
    assert substance.filler_share > 0.99 and substance.compression_ratio < 0.05
    with pytest.raises(AssertionError, match=r"has 12 words of its own about the search .repeated text and "
                                             r"sentences unrelated to the search are not counted."):
        analysis_credit(submission(tmp_path, header, trials, attack), tmp_path)


def test_an_honest_analysis_buried_in_filler_earns_nothing(tmp_path):
    """Long enough on its own, the reference's analysis followed by 17 Zens is still mostly filler."""
    header, trials, text = reference()
    padded = text + "\n\n" + "\n\n".join([ZEN_OF_PYTHON] * 17)
    with pytest.raises(AssertionError, match=r"analysis.md is mostly filler: 8\d% of its \d+ words"):
        analysis_credit(submission(tmp_path, header, trials, padded), tmp_path)


def test_a_paragraph_said_ten_times_earns_no_more_than_once(tmp_path):
    header, trials, text = reference()
    paragraph = text[text.index("## Observations"):text.index("## Caveats")]
    once, ten = (hpo_checks.analysis_substance(t, trials) for t in (paragraph, "\n\n".join([paragraph] * 10)))
    assert ten.kept == once.kept > 200 and ten.filler_share > 0.85
    messages = []
    for name, analysis in (("once", paragraph), ("ten", "\n\n".join([paragraph] * 10))):
        with pytest.raises(AssertionError, match="words of its own about the search") as failure:
            analysis_credit(submission(tmp_path / name, header, trials, analysis), tmp_path)
        messages.append(re.search(r"has (\d+) words", str(failure.value)).group(1))
    assert messages[0] == messages[1]


def test_a_phrase_said_over_and_over_counts_once():
    """Repetition inside one sentence (no full stop to split on) is repetition too."""
    _, trials, _ = reference()
    chant = "The validation accuracy grows with the parameter count " * 60 + "."
    substance = hpo_checks.analysis_substance(chant, trials)
    assert substance.words == 480 and substance.kept <= 12 and substance.compression_ratio < 0.05


def test_an_honest_analysis_with_an_unrelated_sentence_keeps_its_marks(tmp_path):
    header, trials, text = reference()
    aside = text.replace("## Caveats\n", f"## Caveats\n\n{WEATHER}\n")
    before, after = (hpo_checks.analysis_substance(t, trials) for t in (text, aside))
    assert after.unrelated == before.unrelated + hpo_support.words(WEATHER) and after.kept == before.kept
    credit, _ = analysis_credit(submission(tmp_path, header, trials, aside), tmp_path)
    assert credit.fraction is None, credit.message


def test_sentences_quoting_the_logs_numbers_are_about_the_search():
    """A sentence with no search word counts when it quotes a value of the log at the digits written."""
    _, trials, _ = reference()
    best = max(trials, key=lambda t: t["val_accuracy"])
    quoted = f"Number {best['trial']} reached {100 * best['val_accuracy']:.2f} % with {best['params']:,} of them."
    invented = "Number 7 reached 12.34 % with 4,242,424 of them."
    assert hpo_checks.analysis_substance(quoted, trials).unrelated == 0
    assert hpo_checks.analysis_substance(invented, trials).unrelated == hpo_support.words(invented)


@pytest.mark.parametrize("path", HONEST_EXAMPLES, ids=lambda p: p.parent.name)
def test_every_honest_analysis_in_the_repository_keeps_its_marks(tmp_path, path):
    """The populations' and examples' analyses (the write-ups of honest searches and of cheats on the log,
    not on the analysis), graded with their own logs: little filler, and full marks as before."""
    log = path.parent / "hpo_log.jsonl"
    header, trials = lines(log if log.is_file() else REFERENCE / "digits" / "hpo_log.jsonl")
    substance = hpo_checks.analysis_substance(path.read_text(), trials)
    assert substance.filler_share < 0.2 and substance.compression_ratio > 0.3
    credit, _ = analysis_credit(submission(tmp_path, header, trials, path.read_text()), tmp_path)
    assert credit.fraction is None, credit.message
