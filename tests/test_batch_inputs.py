"""What `grade` reads: folders of submissions, Moodle exports (zipped, unpacked, flat), cloned repos
with a picked notebook, and the course roster. No grading here; see test_batch_outputs.py."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.intake.discovery import collect_submissions
from grader.core.errors import ToolkitError
from grader.records.gradebook import RosterRow
from grader.records.roster import match_roster, read_roster
from grader.intake.workspace import prepare_workspace
from tiny_batch import REFERENCE, TINY

LIMITS = find_assignment(TINY).submission


def moodle_export(root: Path) -> Path:
    """An unpacked Moodle "Download all submissions" folder of three students."""
    root.mkdir(parents=True)
    anna = root / "Kiss Anna_101_assignsubmission_file_"
    anna.mkdir()
    (anna / "hw.ipynb").write_text("{}")                       # one notebook: that file is the submission
    aron = root / "Kovács Áron_102_assignsubmission_file_"
    (aron / "src").mkdir(parents=True)
    (aron / "src" / "tiny.py").write_text(REFERENCE.read_text())  # nested files: the folder is the submission
    (aron / "train_log.jsonl").write_text("{}\n")
    (root / "Kovács Áron_102_assignsubmission_onlinetext_").mkdir()
    (root / "Kovács Áron_102_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>hi</p>")
    bela = root / "Nagy Béla_103_assignsubmission_file_"
    bela.mkdir()
    (bela / "homework.zip").write_bytes(b"PK")
    return root


def test_a_moodle_folder_gives_one_submission_per_participant(tmp_path):
    found = collect_submissions([moodle_export(tmp_path / "export")], scratch=tmp_path / "scratch", limits=LIMITS)
    by_id = {s.id: s for s in found.submissions}
    assert sorted(by_id) == ["Kiss_Anna_101", "Kovács_Áron_102", "Nagy_Béla_103"]
    assert by_id["Kiss_Anna_101"].path.name == "hw.ipynb"
    assert by_id["Kovács_Áron_102"].path.name == "Kovács Áron_102_assignsubmission_file_"
    assert by_id["Nagy_Béla_103"].path.name == "homework.zip"
    assert (by_id["Kiss_Anna_101"].name, by_id["Kiss_Anna_101"].participant) == ("Kiss Anna", "101")
    assert {s.layout for s in found.submissions} == {"moodle"}
    assert any("Kovács_Áron_102: also submitted" in n and "onlinetext" in n for n in found.notes)


def test_a_zipped_moodle_export_is_unpacked_and_read_the_same_way(tmp_path):
    export = moodle_export(tmp_path / "export")
    archive = tmp_path / "VITMAV45-HW2-submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(export.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(export).as_posix())
    scratch = tmp_path / "scratch"
    found = collect_submissions([archive], scratch=scratch, limits=LIMITS)
    assert sorted(s.id for s in found.submissions) == ["Kiss_Anna_101", "Kovács_Áron_102", "Nagy_Béla_103"]
    assert all(scratch in s.path.parents for s in found.submissions)


def test_flat_moodle_files_are_grouped_by_participant(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    (root / "Kiss Anna_101_assignsubmission_file_hw.ipynb").write_text("{}")
    (root / "Szabó Éva_104_assignsubmission_file_model.py").write_text("x = 1\n")
    (root / "Szabó Éva_104_assignsubmission_file_log.csv").write_text("a,b\n")
    found = collect_submissions([root], scratch=tmp_path / "scratch", limits=LIMITS)
    by_id = {s.id: s for s in found.submissions}
    assert by_id["Kiss_Anna_101"].path.name == "Kiss Anna_101_assignsubmission_file_hw.ipynb"
    eva = by_id["Szabó_Éva_104"].path
    assert eva.is_dir() and sorted(p.name for p in eva.iterdir()) == ["log.csv", "model.py"]


def test_a_plain_folder_and_single_mode(tmp_path):
    subs = tmp_path / "subs"
    (subs / "repo_b").mkdir(parents=True)
    (subs / "a.py").write_text("x = 1\n")
    (subs / ".hidden").write_text("")
    found = collect_submissions([subs], scratch=tmp_path / "scratch", limits=LIMITS)
    assert [(s.id, s.layout) for s in found.submissions] == [("a", "entry"), ("repo_b", "entry")]
    one = collect_submissions([subs / "repo_b"], scratch=tmp_path / "scratch", limits=LIMITS, single=True)
    assert [(s.id, s.path) for s in one.submissions] == [("repo_b", subs / "repo_b")]


def test_clashing_and_reserved_ids_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.py").write_text("")
    (tmp_path / "b" / "x.ipynb").write_text("")
    with pytest.raises(ToolkitError, match="two submissions share the id 'x'"):
        collect_submissions([tmp_path / "a", tmp_path / "b"], scratch=tmp_path / "s", limits=LIMITS)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "grades.csv").write_text("")
    with pytest.raises(ToolkitError, match="one of grade's own output files"):
        collect_submissions([tmp_path / "c"], scratch=tmp_path / "s", limits=LIMITS)


def test_a_picked_glob_with_a_folder_chooses_the_notebook_in_a_repo(tmp_path):
    from dataclasses import replace
    spec = find_assignment(TINY)
    repo = tmp_path / "repo"
    for folder in ("hw1", "hw2", "scratch"):
        (repo / folder).mkdir(parents=True)
    (repo / "hw1" / "old.py").write_text("x = 1\n")
    (repo / "scratch" / "a.py").write_text("x = 2\n")
    (repo / "hw2" / "tiny.py").write_text(REFERENCE.read_text())
    picked = replace(spec, submission=replace(spec.submission, code=["hw2/*.py"]))
    ws = prepare_workspace(repo, picked, tmp_path / "ws")
    assert ws.error is None and ws.code_file == "hw2/tiny.py"
    ws = prepare_workspace(repo, spec, tmp_path / "ws2")            # without --pick: the file defining the API
    assert ws.code_file == "hw2/tiny.py" and any("not graded: hw1/old.py" in n for n in ws.notes), ws.notes


def test_the_roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("Neptun;Name;Email\nABC123;Kiss Anna;anna@example.com\nXYZ789;Kovács Áron;aron@example.com\n"
                    "QQQ111;Nagy Béla;bela@example.com\nEVA444;Szabó Éva;eva@example.com\n", encoding="utf-8")
    roster = read_roster(path)
    assert roster[0] == RosterRow("ABC123", "Kiss Anna", "anna@example.com")
    match = match_roster(roster, [
        ("abc123", ""),                       # the id itself, any case
        ("XYZ789_hw2", ""),                   # the id as a word of the submission id
        ("Nagy_Béla_103", "Nagy Béla"),       # a Moodle name
        ("stranger", ""),                     # nobody
        ("QQQ111", ""),                       # Béla again
    ])
    assert {sid: s.id for sid, s in match.student.items()} == {"abc123": "ABC123", "XYZ789_hw2": "XYZ789",
                                                               "Nagy_Béla_103": "QQQ111"}
    assert match.warnings["stranger"] == "matches no student of the roster"
    assert "already matched by Nagy_Béla_103" in match.warnings["QQQ111"]
    assert [s.id for s in match.missing] == ["EVA444"]
    assert match_roster(roster, [("x", "béla NAGY")]).student["x"].id == "QQQ111"   # accents, case, order


@pytest.mark.parametrize("text, message", [
    ("name,email\nAnna,a@x\n", "needs an id column"),
    ("id,name\nA1,Anna\na1,Anna again\n", "appears twice"),
    ("id,name\n,Anna\n", "empty id"),
])
def test_a_bad_roster_is_a_usage_error(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(ToolkitError, match=message):
        read_roster(path)
