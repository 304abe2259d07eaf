"""Finding the submissions in what the instructor hands to `grade`.

Three layouts are recognised, folder by folder:
- **one entry per student**: a folder (or files given one by one) whose files and folders are the
  submissions; the id is the name without its extension;
- **a Moodle "Download all submissions" export**, zipped or unpacked: folders
  `Full Name_<participant>_assignsubmission_file_/` (or, without "download in folders", flat files
  `Full Name_<participant>_assignsubmission_file_<file>`); the id is `Full_Name_<participant>`, the
  files inside form the submission, and a lone `.zip`, `.ipynb` or `.py` inside is the submission;
- **cloned repositories**: each repository is a folder submission; the spec's `submission.code`
  globs, or `--pick 'hw2/*.ipynb'`, choose the notebook inside it (see grader.intake.workspace).
With `single`, every path given is one submission, a folder too (Gradescope's `/autograder/submission`).
"""
from __future__ import annotations

import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.archives import ArchiveError, safe_extract
from grader.core.errors import ToolkitError
from grader.core.spec import Submission
from grader.intake.workspace import submission_id

MOODLE_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assign(?:submission|feedback)_(?P<plugin>[a-z]+)_"
                          r"(?P<rest>.*)$")
SUBMISSION_FILES = (".zip", ".ipynb", ".py")
# names `grade` writes into its output folder: a submission id may not take one of them
RESERVED_IDS = frozenset({"grades.csv", "moodle.csv", "integrity.csv", "summary.html", "gradebook.sqlite",
                          "gradebook.sqlite-wal", "gradebook.sqlite-shm"})


@dataclass
class SubmissionInput:
    """One student's submission as found in the inputs."""
    id: str                    # the gradebook key and the name of the student's output folder
    path: Path                 # the file or folder graded
    name: str = ""             # the student's full name, where the layout gives it (Moodle)
    participant: str = ""      # Moodle's participant number, where known
    layout: str = "entry"      # "entry", "moodle" or "single"


@dataclass
class Collected:
    """Every submission found, and what was passed over (for the run's summary)."""
    submissions: list[SubmissionInput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _visible(folder: Path) -> list[Path]:
    return [c for c in sorted(folder.iterdir()) if not c.name.startswith((".", "__MACOSX"))]


def _slug(name: str) -> str:
    """`Kovács  Áron` -> `Kovács_Áron`: letters, digits and `-._` only, spaces as `_`."""
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"\s+", "_", name.strip())
    return "".join(c for c in name if c.isalnum() or c in "-._").strip("._") or "student"


def _is_moodle_folder(folder: Path) -> bool:
    entries = _visible(folder)
    matching = sum(1 for e in entries if MOODLE_ENTRY.match(e.name))
    return bool(entries) and matching * 2 > len(entries)


def _is_moodle_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            tops = {n.replace("\\", "/").split("/")[0] for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError):
        return False
    tops = {t for t in tops if t and not t.startswith((".", "__MACOSX"))}
    return bool(tops) and sum(1 for t in tops if MOODLE_ENTRY.match(t)) * 2 > len(tops)


def _moodle_submissions(folder: Path, scratch: Path, notes: list[str]) -> list[SubmissionInput]:
    """One submission per participant of an unpacked Moodle export."""
    by_participant: dict[str, list[tuple[re.Match, Path]]] = {}
    for entry in _visible(folder):
        m = MOODLE_ENTRY.match(entry.name)
        if m is None:
            notes.append(f"{entry}: not a Moodle submission entry; skipped")
            continue
        by_participant.setdefault(m["participant"], []).append((m, entry))
    found = []
    for participant, entries in by_participant.items():
        name = entries[0][0]["name"]
        sid = f"{_slug(name)}_{participant}"
        files = [(m, p) for m, p in entries if m["plugin"] == "file"]
        folders = [p for m, p in files if p.is_dir() and not p.is_symlink()]
        flat = [(m, p) for m, p in files if not p.is_dir()]
        if folders:
            used = [folders[0]]
            path = folders[0]
            inside = _visible(path)
            if len(inside) == 1 and inside[0].is_file() and inside[0].suffix.lower() in SUBMISSION_FILES:
                path = inside[0]          # the student uploaded one notebook, script or zip
        elif len(flat) == 1:
            used = [flat[0][1]]
            path = used[0]
        elif flat:                        # several flat files: gather them into one folder
            used = [p for _, p in flat]
            path = scratch / "moodle" / sid
            path.mkdir(parents=True, exist_ok=True)
            for m, p in flat:
                if p.is_file() and not p.is_symlink():
                    shutil.copyfile(p, path / (m["rest"] or p.name))
        else:                             # only online text or feedback: graded, and rejected for want of code
            used = [entries[0][1]]
            path = used[0]
        others = [p.name for _, p in entries if p not in used]
        if others:
            notes.append(f"{sid}: also submitted {', '.join(others)} (not graded)")
        found.append(SubmissionInput(sid, path, name=name, participant=participant, layout="moodle"))
    return found


def _unpack_moodle_zip(path: Path, scratch: Path, limits: Submission) -> Path:
    target = scratch / f"export-{len(list(scratch.glob('export-*')))}"
    target.mkdir(parents=True)
    with zipfile.ZipFile(path) as zf:
        students = len({n.split("/")[0] for n in zf.namelist()})
    try:
        safe_extract(path, target, max_bytes=limits.max_total_mb * 2 ** 20 * max(1, students),
                     max_files=limits.max_files * max(1, students))
    except ArchiveError as e:
        raise ToolkitError(f"{path}: the Moodle export could not be unpacked: {e}") from None
    return target


def collect_submissions(paths: list[Path], *, scratch: Path, limits: Submission, single: bool = False) -> Collected:
    """The submissions in `paths` (see the module's docstring for the layouts).

    `scratch` is a folder that must outlive grading (unpacked exports go there). Raises
    ToolkitError when a path does not exist or two submissions would share an id."""
    collected = Collected()
    for given in paths:
        p = Path(os.path.abspath(given))   # `.` gets a name; links stay links (grading refuses them)
        if not p.exists() and not p.is_symlink():
            raise ToolkitError(f"{given}: no such file or folder")
        if single:
            collected.submissions.append(SubmissionInput(submission_id(p), p, layout="single"))
        elif p.is_file() and p.suffix.lower() == ".zip" and _is_moodle_zip(p):
            folder = _unpack_moodle_zip(p, scratch, limits)
            collected.submissions += _moodle_submissions(folder, scratch, collected.notes)
        elif p.is_dir() and not p.is_symlink() and _is_moodle_folder(p):
            collected.submissions += _moodle_submissions(p, scratch, collected.notes)
        elif p.is_dir() and not p.is_symlink():
            collected.submissions += [SubmissionInput(submission_id(c), c) for c in _visible(p)]
        else:
            collected.submissions.append(SubmissionInput(submission_id(p), p))
    ids = [s.id for s in collected.submissions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ToolkitError(f"two submissions share the id {dupes[0]!r}; rename one of them")
    clash = sorted(set(ids) & RESERVED_IDS)
    if clash:
        raise ToolkitError(f"a submission is named {clash[0]!r}, which is one of grade's own output files; "
                           "rename or remove it")
    return collected
