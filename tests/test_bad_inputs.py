"""Inputs the grader itself must survive: zips Python cannot unpack as they are (encrypted members,
a bad CRC, Deflate64, `hw/hw/` folders) and code too large or too deeply nested to parse safely on
the trusted side. Each case is built below, graded in one `grade_submissions` run against the
`tiny` fixture assignment, and must end as listed in CASES: one row with a reason the student can
act on, never a crashed batch; and the run, re-run, still writes integrity.csv and summary.html.
"""
from __future__ import annotations

import csv
import json
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grader.intake.archives import ArchiveError, safe_extract
from grader.commands.grade import grade_submissions
from grader.intake.definitions import definitions_only
from grader.intake.source_limits import MAX_DEPTH, SourceRejected
from tiny_batch import REFERENCE, TINY

MB = 2 ** 20
REF = REFERENCE.read_text()


# --- building the inputs -------------------------------------------------------------------------

def _zip(path: Path, members: dict[str, str], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def _patch_headers(path: Path, *, flag: int = 0, method: int | None = None) -> None:
    """Set general-purpose flag bits and/or the compression method of every member, in both the
    local and the central directory headers (as a real encrypting or Deflate64 zipper writes them)."""
    data = bytearray(path.read_bytes())
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            old_flag, = struct.unpack_from("<H", data, i + flag_at)
            struct.pack_into("<H", data, i + flag_at, old_flag | flag)
            if method is not None:
                struct.pack_into("<H", data, i + method_at, method)
            start = i + 4
    path.write_bytes(bytes(data))


def encrypted_zip(path: Path) -> None:
    _zip(path, {"tiny.py": REF})
    _patch_headers(path, flag=0x1)


def deflate64_zip(path: Path) -> None:
    _zip(path, {"tiny.py": REF})
    _patch_headers(path, method=9)


def bad_crc_zip(path: Path) -> None:
    _zip(path, {"tiny.py": REF}, compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.index(b"def answer")      # stored: the source is in the file as it is
    data[at] ^= 0x20                    # 'd' -> 'D': same length, different CRC
    path.write_bytes(bytes(data))


def truncated_zip(path: Path) -> None:
    _zip(path, {"tiny.py": REF, "notes.md": "x" * 5000})
    path.write_bytes(path.read_bytes()[:300])


def nested_folders_zip(path: Path) -> None:
    """Zipped from inside the folder: hw/hw/... (a `tiny.py` one level up must not win either)."""
    _zip(path, {"hw/hw/tiny.py": REF, "hw/hw/hw/notes.md": "my notes\n", "hw/hw/train_log.jsonl": '{"e": 1}\n'})


def triple_folders_zip(path: Path) -> None:
    _zip(path, {"a/a/a/tiny.py": REF, "a/a/a/a.txt": "a file named like the folders\n"})


def _with(extra: str):
    def build(path: Path) -> None:
        path.write_text(REF + "\n\n" + extra + "\n")
    return build


def deep_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# my solution"), nbformat.v4.new_code_cell(REF),
                nbformat.v4.new_code_cell("X = " + "+".join(["1"] * 5000))]
    path.write_text(nbformat.writes(nb))


def huge_source(path: Path) -> None:
    """2.9 MB of ordinary functions (grading it peaked at 0.7 GB before the size check)."""
    parts, i = [REF], 0
    while sum(map(len, parts)) < 2.9 * MB:
        parts.append(f"\n\ndef helper_{i}(x, y=None):\n    z = [x * {i} + k for k in range(3)]\n"
                     f"    if y is not None:\n        z.append(y ** 2 - {i})\n    return sum(z) / len(z)\n")
        i += 1
    path.write_text("".join(parts))


@dataclass
class Case:
    build: object            # path -> None
    file: str                # the submission's file name; its id is the name without extension
    status: str = "rejected"
    reason: str = ""         # text the reason must contain


CASES: dict[str, Case] = {
    "reference": Case(lambda p: p.write_text(REF), "reference.py", "graded"),
    # zips
    "zip_nested_folders": Case(nested_folders_zip, "zip_nested_folders.zip", "graded"),
    "zip_triple_folders": Case(triple_folders_zip, "zip_triple_folders.zip", "graded"),
    "zip_encrypted": Case(encrypted_zip, "zip_encrypted.zip",
                          reason="the zip member 'tiny.py' is encrypted (password-protected); submit a zip without"),
    "zip_bad_crc": Case(bad_crc_zip, "zip_bad_crc.zip", reason="the zip member 'tiny.py' is damaged (Bad CRC-32"),
    "zip_deflate64": Case(deflate64_zip, "zip_deflate64.zip",
                          reason="'tiny.py' is compressed with Deflate64, which cannot be read; zip the folder again"),
    "zip_truncated": Case(truncated_zip, "zip_truncated.zip", reason="the zip file could not be read"),
    # code the trusted side must not parse unbounded
    "deep_chain": Case(_with("X = " + "+".join(["1"] * 5000)), "deep_chain.py",
                       reason="deep_chain.py nests expressions too deeply for Python's parser"),
    "deep_unary": Case(_with("X = " + "-" * 100_000 + "1"), "deep_unary.py",
                       reason="deep_unary.py nests expressions too deeply for Python's parser"),
    "deep_for_the_filter": Case(_with("X = " + "+".join(["1"] * 400)), "deep_for_the_filter.py",
                                reason=f"deep_for_the_filter.py nests expressions 402 levels deep (at line 41); "
                                       f"at most {MAX_DEPTH} are accepted"),
    "deep_notebook": Case(deep_notebook, "deep_notebook.ipynb",
                          reason="cell 3 nests expressions too deeply for Python's parser"),
    "deep_brackets": Case(_with("X = " + "(" * 300 + "1" + ")" * 300), "deep_brackets.py",
                          reason="deep_brackets.py has a syntax error at line 41: too many nested parentheses"),
    "huge_source": Case(huge_source, "huge_source.py",
                        reason="huge_source.py holds 2.9 MB of code; at most 1 MB is accepted"),
    "many_tokens": Case(_with("DATA = [" + "a," * 150_000 + "]"), "many_tokens.py",
                        reason="many_tokens.py holds more than 200,000 names, numbers and symbols"),
    "null_bytes": Case(lambda p: p.write_bytes(REF.encode() + b"\nX = 1\0\n"), "null_bytes.py",
                       reason="null_bytes.py cannot be read as Python: source code string cannot contain null bytes"),
}


def build_inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES.values():
        case.build(folder / case.file)


# --- one grading run, and a re-run ---------------------------------------------------------------

@dataclass
class Run:
    out: Path
    rows: dict
    results: dict
    rerun_rows: dict
    rerun_skipped: list


def _rows(path: Path) -> dict:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("bad_inputs")
    build_inputs(tmp / "in")
    out = tmp / "out"
    report = grade_submissions(assignment=TINY, submissions=[tmp / "in"], out=out, jobs=2)
    rows = _rows(out / "grades.csv")
    for name in ("integrity.csv", "summary.html"):
        (out / name).unlink()
    again = grade_submissions(assignment=TINY, submissions=[tmp / "in"], out=out, jobs=2)  # nothing changed
    return Run(out, rows, {r.submission: r for r in report.results}, _rows(out / "grades.csv"), again.skipped)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_case(graded: Run, case: str):
    want = CASES[case]
    row = graded.rows.get(case)
    assert row is not None, f"{case}: no row in grades.csv"
    explain = json.dumps(graded.results[case].to_json(), default=str)[:3000]
    assert row["status"] == want.status, explain
    assert want.reason in row["reason"], explain
    assert not graded.results[case].grader_errors, explain
    assert "not of your code" not in row["reason"], explain    # none of them is the grader's own failure
    if want.status == "graded":
        assert float(row["score"]) == 5.0, explain
    assert json.loads((graded.out / case / "results.json").read_text())["score"] == float(row["score"])


@pytest.mark.slow
def test_the_batch_and_its_rerun_complete_with_every_report(graded: Run):
    assert sorted(graded.rows) == sorted(CASES)
    assert sorted(graded.rerun_skipped) == sorted(CASES)      # the re-run had nothing to grade ...
    assert graded.rerun_rows == graded.rows                     # ... kept every row ...
    page = (graded.out / "summary.html").read_text(encoding="utf-8")   # ... and wrote the reports again
    assert "Integrity" in page
    with open(graded.out / "integrity.csv", newline="") as f:
        pairs = list(csv.DictReader(f))
    compared = {p["submission_a"] for p in pairs} | {p["submission_b"] for p in pairs}
    assert compared == {"reference", "zip_nested_folders", "zip_triple_folders"}
    for case in ("zip_encrypted", "deep_chain", "huge_source"):     # the rejected ones: named, with why
        assert f"{case}: {graded.rows[case]['reason']}" in page.replace("&#x27;", "'")


# --- the same checks, one function at a time -----------------------------------------------------

ARCHIVES = {
    "encrypted": (encrypted_zip, "is encrypted (password-protected)"),
    "bad_crc": (bad_crc_zip, "is damaged (Bad CRC-32 for file 'tiny.py')"),
    "deflate64": (deflate64_zip, "is compressed with Deflate64, which cannot be read"),
    "truncated": (truncated_zip, "the zip file could not be read"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_unreadable_zips_are_refused_with_a_reason(tmp_path, case):
    build, reason = ARCHIVES[case]
    build(tmp_path / "hw.zip")
    (tmp_path / "target").mkdir()
    with pytest.raises(ArchiveError, match=re.escape(reason)):
        safe_extract(tmp_path / "hw.zip", tmp_path / "target", max_bytes=50 * MB, max_files=100)


def test_a_member_whose_name_the_file_system_refuses(tmp_path):
    archive = _zip(tmp_path / "hw.zip", {"tiny.py": REF, "x" * 300 + ".txt": "a name too long for Linux\n"})
    (tmp_path / "target").mkdir()
    with pytest.raises(ArchiveError, match="could not be unpacked .*File name too long.*; rename it"):
        safe_extract(archive, tmp_path / "target", max_bytes=50 * MB, max_files=100)


SOURCES = {
    "operators": ("X = " + "+".join(["1"] * 150), "nests expressions 152 levels deep (at line 1)"),
    "not_not_not": ("X = " + "not " * 50_000 + "1", "nests expressions too deeply for Python's parser"),
    "attributes": ("X = a" + ".b" * 5000, "nests expressions too deeply for Python's parser"),
    "calls": ("X = f" + "()" * 5000, "nests expressions too deeply for Python's parser"),
    "tokens": ("X = [" + "1," * 110_000 + "]", "more than 200,000 names, numbers and symbols"),
    "bytes": ("X = '" + "x" * (MB + 1) + "'", "holds 1.0 MB of code; at most 1 MB is accepted"),
}


@pytest.mark.parametrize("case", sorted(SOURCES))
def test_the_definitions_filter_rejects_what_it_cannot_walk(case):
    source, reason = SOURCES[case]
    with pytest.raises(SourceRejected, match=re.escape(reason)):
        definitions_only(source, what="your code")


def test_nesting_within_the_limit_is_filtered_as_usual():
    source = "X = " + "+".join(["1"] * (MAX_DEPTH - 5)) + "\nY = run(" + "+".join(["1"] * 80) + ")\n"
    out, skipped = definitions_only(source)
    assert out.startswith("X = 1+1") and [s.line for s in skipped] == [2]
