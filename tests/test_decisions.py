"""The instructor has the last word, and keeps it: an adjustment, a rubric score, a comment or an
integrity decision lives in the gradebook, shows in moodle.csv, grades.csv, results.json and the
feedback (the student never sees the private note), survives the next `grade`, and is held back
("needs re-review") when the automatic result it was made against changes. Old gradebooks migrate;
two writers at once lose nothing."""
from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import threading
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from grader import cli
from grader.commands.grade import grade_submissions
from grader.commands.validate import points_checks
from grader.core.errors import EXIT_OK, EXIT_USAGE, SpecError, ToolkitError
from grader.core.gradebook_tests import GradebookTest
from grader.core.results import TestStatus
from grader.core.spec import ManualItem, load_spec
from grader.core.vocabulary import TestKind
from grader.records.decisions import Decision, Decisions, final_score, make_adjustment, now
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook, GradebookRow
from tiny_batch import REFERENCE, TINY

ANSWER = "tests/public/test_public.py::test_answer"
NOTE = "PRIVATE-NOTE-7f3a: spoke to the TA about this one"


def _wrong_answer() -> str:
    return REFERENCE.read_text().replace("return 42", "return 41")


def _tiny_with_manual(tmp_path: Path) -> Path:
    """The tiny assignment with a 2-point manual rubric item on its scale (tests 5 + manual 2)."""
    folder = tmp_path / "assignment" / "tiny"
    shutil.copytree(TINY, folder)
    spec = (folder / "assignment.yaml").read_text()
    spec = spec.replace("points: 6\n", "points: 8\n").replace("points: 5 ", "points: 7 ")
    spec += "manual:\n  - id: style\n    points: 2\n    description: \"readable code, commented in English\"\n"
    (folder / "assignment.yaml").write_text(spec)
    return folder


def _moodle(out: Path) -> dict[str, dict]:
    with open(out / "moodle.csv", newline="", encoding="utf-8") as f:
        return {r["Full name"]: r for r in csv.DictReader(f)}


def _grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


def _run(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def graded(tmp_path):
    """alice: full marks; bob: answer() returns 41, so test_answer fails (4 / 5)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(REFERENCE.read_text())
    (subs / "bob.py").write_text(_wrong_answer())
    assignment = _tiny_with_manual(tmp_path)
    out = tmp_path / "out"
    grade_submissions(assignment=assignment, submissions=[subs], out=out, jobs=2)
    return assignment, subs, out


def test_a_rubric_item_awaits_review_until_scored_then_counts(graded, capsys):
    assignment, subs, out = graded
    assert _moodle(out)["alice"]["Grade"] == "5.00" and _moodle(out)["alice"]["Maximum Grade"] == "7.00"
    assert _grades(out)["alice"]["review"] == "awaiting review: style"
    feedback = (out / "alice" / "feedback.md").read_text()
    assert "readable code, commented in English: awaiting review" in feedback

    code, text = _run(capsys, "rubric", out, "alice", "style", "1.5", "--comment", "clear names", "--note", NOTE)
    assert code == EXIT_OK, text
    assert _moodle(out)["alice"]["Grade"] == "6.50"
    assert _grades(out)["alice"]["manual:style"] == "1.5" and _grades(out)["alice"]["review"] == ""
    assert "readable code, commented in English: 1.5 / 2: clear names" in (out / "alice" / "feedback.md").read_text()
    results = json.loads((out / "alice" / "results.json").read_text())
    assert (results["score"], results["max_score"]) == (6.5, 7)


def test_an_adjustment_reaches_moodle_and_survives_grading_again(graded, capsys):
    assignment, subs, out = graded
    assert _moodle(out)["bob"]["Grade"] == "4.00"
    code, text = _run(capsys, "adjust", out, "bob", "test_answer", "1", "--reason", "41 was a typo in the task text",
                      "--note", NOTE)
    assert code == EXIT_OK, text
    assert _moodle(out)["bob"]["Grade"] == "5.00"
    assert "41 was a typo in the task text" in _moodle(out)["bob"]["Feedback comments"]
    feedback = (out / "bob" / "feedback.md").read_text()
    assert "adjusted from 0 to 1 / 1: 41 was a typo in the task text" in feedback
    assert "**Score: 5 / 7 (automatic tests 4 / 5)**" in feedback

    again = grade_submissions(assignment=assignment, submissions=[subs], out=out, jobs=2)
    assert again.skipped == ["alice", "bob"]
    assert _moodle(out)["bob"]["Grade"] == "5.00"
    grade_submissions(assignment=assignment, submissions=[subs], out=out, jobs=2, force=True)   # the same result again
    assert _moodle(out)["bob"]["Grade"] == "5.00"
    assert "41 was a typo" in (out / "bob" / "feedback.html").read_text()


def test_a_changed_automatic_result_holds_the_adjustment_back_for_re_review(graded, capsys):
    assignment, subs, out = graded
    code, text = _run(capsys, "adjust", out, "bob", ANSWER, "0.5", "--reason", "half: the idea was right")
    assert code == EXIT_OK, text
    assert _moodle(out)["bob"]["Grade"] == "4.50"

    (subs / "bob.py").write_text(REFERENCE.read_text())   # bob's fixed file: test_answer now passes on its own
    grade_submissions(assignment=assignment, submissions=[subs], out=out, jobs=2)
    assert _moodle(out)["bob"]["Grade"] == "5.00"          # the automatic result stands, not the 0.5
    assert _grades(out)["bob"]["review"].startswith(f"needs re-review: {ANSWER}")
    assert "awaits re-review" in (out / "bob" / "feedback.md").read_text()
    with Decisions(out / GRADEBOOK_FILE) as book:
        (adjustment,) = [d for d in book.for_submission("bob") if d.kind == "adjust"]
    assert adjustment.needs_rereview and adjustment.points == 0.5   # kept, not dropped

    code, text = _run(capsys, "adjust", out, "bob", ANSWER, "1", "--reason", "re-reviewed: fine now")
    assert code == EXIT_OK, text
    assert _grades(out)["bob"]["review"] == "awaiting review: style"


def test_the_private_note_never_reaches_what_the_student_sees(graded, capsys):
    assignment, subs, out = graded
    for argv in (("adjust", out, "bob", ANSWER, "1", "--reason", "typo in the task"),
                 ("rubric", out, "bob", "style", "2"), ("comment", out, "bob", "Nice plots."),
                 ("decide", out, "alice", "bob", "clear")):
        code, text = _run(capsys, *argv, "--note", NOTE)
        assert code == EXIT_OK, text
    student_files = [p for p in (out / "bob").rglob("*") if p.is_file()] + [out / "moodle.csv"]
    assert not [p for p in student_files if NOTE.encode() in p.read_bytes()]
    assert "Comment from your instructor: Nice plots." in (out / "bob" / "feedback.html").read_text()
    assert _grades(out)["bob"]["integrity"] == "cleared with alice"
    assert _grades(out)["alice"]["integrity"] == "cleared with bob"
    export = out.parent / "decisions.csv"
    assert _run(capsys, "decisions", out, "--export", export)[0] == EXIT_OK
    assert NOTE in export.read_text()   # the instructors' own export keeps it


@pytest.mark.parametrize("argv,message", [
    (("adjust", "{out}", "dave", ANSWER, "1", "--reason", "x"), "no submission 'dave' in the gradebook"),
    (("adjust", "{out}", "bob", "test_nothing", "1", "--reason", "x"), "bob has no test 'test_nothing'"),
    (("adjust", "{out}", "bob", ANSWER, "3", "--reason", "x"), "is worth 1 points; cannot give 3"),
    (("rubric", "{out}", "bob", "spelling", "1"), "no rubric item 'spelling'"),
    (("rubric", "{out}", "bob", "style", "5"), "rubric item style is worth 2 points"),
    (("decide", "{out}", "bob", "carol", "confirm"), "no submission 'carol'"),
])
def test_a_decision_about_something_unknown_is_refused_with_exit_2(graded, capsys, argv, message):
    assignment, subs, out = graded
    code, text = _run(capsys, *[a.format(out=out) for a in argv])
    assert code == EXIT_USAGE and message in " ".join(text.split()), text
    with Decisions(out / GRADEBOOK_FILE) as book:
        assert book.all() == []


def test_an_exported_csv_applies_to_another_copy_all_or_nothing(graded, capsys):
    assignment, subs, out = graded
    _run(capsys, "adjust", out, "bob", ANSWER, "1", "--reason", "typo")
    _run(capsys, "rubric", out, "alice", "style", "2")
    export = out.parent / "decisions.csv"
    _run(capsys, "decisions", out, "--export", export)
    copy = out.parent / "copy"
    shutil.copytree(out, copy)
    with Decisions(copy / GRADEBOOK_FILE) as book:
        book.db.execute("DELETE FROM decisions")
    code, text = _run(capsys, "decisions", copy, "--apply", export)
    assert code == EXIT_OK, text
    assert _moodle(copy)["bob"]["Grade"] == "5.00" and _moodle(copy)["alice"]["Grade"] == "7.00"
    assert _run(capsys, "decisions", copy, "--apply", export)[0] == EXIT_OK   # again: nothing new
    with Decisions(copy / GRADEBOOK_FILE) as book:
        assert len(book.history()) == 2

    bad = out.parent / "bad.csv"
    bad.write_text(export.read_text() + "carol,rubric,style,1,,,,,,,\n")
    code, text = _run(capsys, "decisions", copy, "--apply", bad)
    assert code == EXIT_USAGE and "line 4" in text and "no submission 'carol'" in text
    with Decisions(copy / GRADEBOOK_FILE) as book:
        assert len(book.history()) == 2


# --- the gradebook file itself: no need to grade anything -------------------------------------------

# the tests as a toolkit before the gradebook's test contract stored them (no version)
STORED_TESTS = [
    {"nodeid": "t.py::a", "name": "a", "points": 1, "score": 0.0, "status": "failed", "kind": "assertion",
     "visibility": "visible", "message": "wrong"},
    {"nodeid": "t.py::b", "name": "b", "points": 1, "score": 1.0, "status": "passed", "kind": "",
     "visibility": "visible", "message": ""}]
ROW = GradebookRow("alice", "graded", 1.0, 2.0, "", tests=[
    GradebookTest("t.py::a", "a", 1.0, 0.0, TestStatus.FAILED, TestKind.ASSERTION, message="wrong"),
    GradebookTest("t.py::b", "b", 1.0, 1.0, TestStatus.PASSED)])

# the schema today's (version 1) toolkit writes, as it wrote it
SCHEMA_1 = ["CREATE TABLE submissions (submission TEXT PRIMARY KEY, status TEXT, score REAL, max_score REAL, reason TEXT, "
            "tests TEXT, test_durations TEXT, duration REAL, graded_at TEXT, grader_version TEXT, content_hash TEXT, "
            "mode TEXT, name TEXT, participant TEXT, source TEXT, isolation TEXT)",
            "CREATE TABLE roster (id TEXT PRIMARY KEY, name TEXT, email TEXT, position INTEGER)",
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
            "INSERT INTO meta VALUES ('schema', '1')"]


def test_a_gradebook_written_before_decisions_existed_is_migrated_with_every_row(tmp_path):
    path = tmp_path / GRADEBOOK_FILE
    with closing(sqlite3.connect(path)) as db, db:
        for statement in SCHEMA_1:
            db.execute(statement)
        for sid in ("alice", "bob"):
            db.execute("INSERT INTO submissions VALUES (?, 'graded', 1.0, 2.0, '', ?, '{}', 3.0, "
                       "'2026-01-01T00:00:00+00:00', 'v', 'h', 'embedded', '', '', '', 'a')",
                       (sid, json.dumps(STORED_TESTS)))
        db.execute("INSERT INTO roster VALUES ('ABC123', 'Anna', 'anna@example.com', 0)")
    with Decisions(path) as book:   # the review app may be the first to open it
        assert sorted(book.rows()) == ["alice", "bob"] and book.rows()["bob"].tests == ROW.tests
        book.record(make_adjustment(book.rows()["bob"], "t.py::a", 1, reason="fine", who="me"))
    with Gradebook(path) as book:
        assert [r.submission for r in book.rows()] == ["alice", "bob"]
        assert [(r.id, r.name, r.email) for r in book.roster()] == [("ABC123", "Anna", "anna@example.com")]
        assert book.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "2"
    with Decisions(path) as book:
        assert [d.target for d in book.all()] == ["t.py::a"]


def test_a_gradebook_from_a_newer_toolkit_is_refused_not_damaged(tmp_path):
    path = tmp_path / GRADEBOOK_FILE
    with Gradebook(path) as book:
        book.record(ROW)
        book.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(ToolkitError, match="schema 99"):
        Decisions(path)


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / GRADEBOOK_FILE
    with Gradebook(path) as book:   # a `grade` run holds its lock all along: decisions are written beside it
        book.record(ROW)
        start = threading.Barrier(2)

        def tab(who: str) -> None:
            with Decisions(path) as decisions:
                start.wait()
                for i in range(40):
                    decisions.record(Decision(None, "alice", "comment", "", None, None, f"{who} {i}", "", who, now()))

        threads = [threading.Thread(target=tab, args=(who,)) for who in ("tab1", "tab2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        book.record(ROW)
    with Decisions(path) as decisions:
        history = decisions.history()
        assert len(history) == 80 and len({d.id for d in history}) == 80
        assert len(decisions.for_submission("alice")) == 1   # the latest comment is the current one


def test_final_score_applies_only_an_adjustment_whose_basis_still_holds():
    manual = [ManualItem("analysis", 3, "the analysis")]
    adjusted = make_adjustment(ROW, "t.py::a", 1, reason="fine", who="me")
    final = final_score(ROW, [adjusted], manual)
    assert (final.score, final.max_score, final.awaiting_review) == (2.0, 5.0, ["analysis"])
    changed = GradebookRow(**{**ROW.__dict__, "tests": [replace(ROW.tests[0], message="another message"), ROW.tests[1]]})
    stale = final_score(changed, [adjusted], manual)
    assert stale.score == 1.0 and stale.needs_rereview == ["t.py::a"]
    scored = final_score(ROW, [adjusted, Decision(None, "alice", "rubric", "analysis", 9, None, "", "", "me", now())],
                         manual)
    assert scored.score == 5.0   # the rubric item gives at most its points


def test_the_spec_refuses_a_manual_item_it_cannot_score(tmp_path):
    folder = _tiny_with_manual(tmp_path)
    spec = load_spec(folder)
    assert spec.manual_points == 2 and spec.max_points(None) == 7 and spec.automatic_points(None) == 5
    text = (folder / "assignment.yaml").read_text()
    for broken, message in [(text.replace("points: 2\n", "points: 0\n"), "must be positive"),
                            (text.replace("id: style", "id: Style!"), "lower_snake_case"),
                            (text + "  - id: style\n    points: 1\n    description: again\n", "used twice")]:
        (folder / "assignment.yaml").write_text(broken)
        with pytest.raises(SpecError, match=message):
            load_spec(folder)



def test_validate_says_when_the_manual_items_do_not_add_up(tmp_path):
    folder = _tiny_with_manual(tmp_path)
    assert all(c.ok for c in points_checks(load_spec(folder)))
    (folder / "assignment.yaml").write_text((folder / "assignment.yaml").read_text().replace("points: 8\n", "points: 6\n"))
    total = next(c for c in points_checks(load_spec(folder)) if c.name.startswith("spec points"))
    assert not total.ok and total.detail == "spec 6, tests 6, manual 2 (style 2)"
