"""A submission's own files, as they are copied into a workspace (grader.intake.workspace): the
names that are never part of one (editor and archive debris), the module the grader writes beside
them, a folder copied without following links and within the spec's caps, a zip's single top folder
unwrapped, and the spec's private files left out of what the worker sees.

Separate from the workspace's assembly: these are the file-system rules, each a threat of its own
(links out of the submission, archives that fill the disk), and the choice of the graded file
(grader.intake.code_file_choice) reads the same names.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from pathlib import Path

from grader.core.spec import Spec
from grader.intake.archives import ArchiveError

# the module the worker imports: the graded notebook or script after conversion and filtering
MODULE_FILE = "__submission__.py"
# never part of a submission: archive and editor debris, caches, version control
IGNORED = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git")


def copy_tree(src: Path, dest: Path, spec: Spec, notes: list[str]) -> None:
    """Copy a submission folder without following links, within the size caps."""
    total, count = 0, 0
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in IGNORED for part in rel.parts):
            continue
        if path.is_symlink():
            notes.append(f"{rel}: symbolic links are not accepted; skipped")
            continue
        if path.is_dir():
            continue
        if not path.is_file():
            notes.append(f"{rel}: not a regular file; skipped")
            continue
        total += path.stat().st_size
        count += 1
        if total > spec.submission.max_total_mb * 2 ** 20 or count > spec.submission.max_files:
            raise ArchiveError(f"the submission is larger than {spec.submission.max_total_mb} MB "
                               f"or {spec.submission.max_files} files")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)
        st = path.stat()  # the modification time tells the file the student edited (see grader.intake.code_file_choice)
        os.utime(dest / rel, ns=(st.st_atime_ns, st.st_mtime_ns))


def private_files(root: Path, spec: Spec, code: Path):
    """A copytree `ignore` leaving out the spec's private files (never the code file itself)."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        out = set()
        for name in names:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path != code and path.is_file() and any(
                    fnmatch.fnmatch(name, g) or fnmatch.fnmatch(rel, g) for g in spec.submission.private):
                out.add(name)
        return out
    return ignore


def strip_single_top_folder(root: Path) -> None:
    """`hw.zip` holding one folder `hw/` is graded as that folder; `hw/hw/` (a folder zipped from
    inside itself) as the innermost one."""
    inner = root
    while True:
        entries = [p for p in inner.iterdir() if p.name not in IGNORED]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            break
        inner = entries[0]
    if inner == root:
        return
    # park the innermost folder beside the others first: its children may share their names
    parked = Path(tempfile.mkdtemp(prefix=".unwrap-", dir=root))
    inner.rename(parked / "inner")
    for entry in list(root.iterdir()):
        if entry != parked:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for child in (parked / "inner").iterdir():
        child.rename(root / child.name)
    shutil.rmtree(parked)
