"""From a submitted file, folder or zip to a workspace the worker can import.

The workspace has two halves:
- `work/`: what the worker sees and may change: the submission's files plus the module it
  imports (`__submission__.py`, the notebook or script after conversion and filtering); the
  student's own modules that module imports are filtered in place, and every filtered file is
  kept as written under `.dlgrade-as-written/` for the worker's error messages;
- `original/`: a pristine copy the trusted tests read artifacts from (logs, analysis.md), which
  the worker never sees, so it cannot rewrite its own log during grading.

Everything that can go wrong here (bad zip, unreadable notebook, syntax error, empty file) ends
as `Workspace.error`, a sentence for the student, and grading goes on with the next submission.
The file-system rules for copying a submission in live in grader.intake.submission_files, the
choice of the graded file in grader.intake.code_file_choice.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grader.boundary.inside.stand_ins import AS_WRITTEN_DIR
from grader.intake.archives import ArchiveError, safe_extract
from grader.intake.code_file_choice import pick_code
from grader.intake.definitions import Filtered, filter_definitions
from grader.intake.notebooks import NotebookError, decode_text, locate_line, notebook_to_source, read_notebook
from grader.intake.source_limits import parse_bounded
from grader.core.spec import Spec
from grader.intake.submission_files import IGNORED, MODULE_FILE, copy_tree, private_files, strip_single_top_folder

__all__ = ["IGNORED", "MODULE_FILE", "Workspace", "dropped_notes", "prepare_workspace", "submission_id"]


@dataclass
class Workspace:
    submission_id: str
    root: Path
    code_file: str = ""                       # the graded file, relative to the submission
    cell_starts: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    internal_error: bool = False              # `error` is the grader's fault, not the submission's

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def original(self) -> Path:
        return self.root / "original"


def submission_id(path: Path) -> str:
    """The file or folder name without its extension."""
    name = path.name
    for ext in (".ipynb", ".py", ".zip"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def _local_modules(work: Path, code: Path) -> tuple[set[str], list[str]]:
    """The modules the submission ships beside its code file or at its root (model.py, utils/), and
    those folders relative to the workspace: `from model import Net` must import them."""
    folders = [code.parent.relative_to(work).as_posix() or "."]
    folders += ["."] if folders[0] != "." else []
    names = set()
    for rel in folders:
        for entry in (work / rel).iterdir():
            stem = entry.name[:-3] if entry.name.endswith(".py") and entry.is_file() else entry.name
            if (entry.is_dir() or entry.name.endswith(".py")) and stem.isidentifier() and entry.name != MODULE_FILE \
                    and entry.name not in IGNORED:
                names.add(stem)
    return names, folders


def _stand_in_notes(stand_ins, locate) -> list[str]:
    """Which third-party imports bind a stand-in if the package is missing where grading runs."""
    if not stand_ins:
        return []
    from grader.boundary.inside.stand_ins import NOT_PYTORCH
    tops = {name.split(".")[0].split(" ")[0] for _, name in stand_ins}
    notes = []
    keras = sorted(t for t in tops if t in NOT_PYTORCH)
    if keras:
        first = min(line for line, name in stand_ins if name.split(".")[0].split(" ")[0] in keras)
        notes.append(f"{', '.join(keras)} imported: this assignment is graded in PyTorch; Keras/TensorFlow code cannot be "
                     "graded (its imports bind a stand-in, and graded code that uses them fails); first imported at "
                     f"{locate(first)}")   # grader/intake/headline.py puts this note in the headline
    listed = [f"{name} ({locate(line)})" for line, name in stand_ins if name.split(".")[0].split(" ")[0] not in keras]
    if listed:
        absent = sorted(t for t in tops - set(keras) if importlib.util.find_spec(t) is None)
        notes.append(f"third-party imports that bind a stand-in if the package is missing when grading: "
                     f"{', '.join(listed)}" + (f" (not installed here: {', '.join(absent)})" if absent else "") +
                     "; the graded functions must not need them (plots, progress bars and data loading are fine "
                     "outside them)")
    return notes


def prepare_workspace(submission: Path, spec: Spec, root: Path) -> Workspace:
    """Never raises: whatever the submission holds ends as a workspace or as `Workspace.error`."""
    submission = Path(submission)
    ws = Workspace(submission_id(submission), root)
    try:
        return _prepare(submission, spec, ws)
    except Exception as e:  # noqa: BLE001 - a case nobody foresaw: one rejected row, never a crashed batch
        ws.error = (f"the grader could not read this submission ({type(e).__name__}: {str(e)[:300]}); this is a "
                    "problem of the grader, not of your code: tell your instructor")
        ws.internal_error = True
        return ws


def _prepare(submission: Path, spec: Spec, ws: Workspace) -> Workspace:
    ws.original.mkdir(parents=True, exist_ok=True)
    try:
        if submission.is_symlink():
            raise ArchiveError("the submission is a symbolic link; submit the file itself")
        if submission.is_dir():
            copy_tree(submission, ws.original, spec, ws.notes)
        elif submission.suffix.lower() == ".zip":
            safe_extract(submission, ws.original, max_bytes=spec.submission.max_total_mb * 2 ** 20,
                         max_files=spec.submission.max_files)
            strip_single_top_folder(ws.original)
        elif submission.is_file():
            if submission.stat().st_size > spec.submission.max_total_mb * 2 ** 20:
                raise ArchiveError(f"the file is larger than {spec.submission.max_total_mb} MB")
            shutil.copyfile(submission, ws.original / submission.name)
        else:
            raise ArchiveError(f"{submission} does not exist")
    except ArchiveError as e:
        ws.error = str(e)
        return ws
    code = pick_code(ws.original, spec, ws.notes)
    if code is None:
        ws.error = f"no code file found (looked for {', '.join(spec.submission.code)})"
        return ws
    ws.code_file = str(code.relative_to(ws.original))
    shutil.copytree(ws.original, ws.work, ignore=private_files(ws.original, spec, code))
    try:
        # the definitions filter parses the code anyway: parsing it here too would double the cost
        source = _to_source(code, ws, check_syntax=spec.submission.load != "definitions")
    except (NotebookError, SyntaxError, ValueError) as e:
        ws.error = _describe_error(e, ws.code_file)
        return ws
    if spec.submission.load == "definitions":
        local, folders = _local_modules(ws.work, ws.work / ws.code_file)
        try:
            out = filter_definitions(source, what=ws.code_file, locate=lambda n: _locate(ws, n),
                                     local_modules=local, code_dirs=folders)
        except (SyntaxError, ValueError) as e:
            ws.error = _describe_error(e, ws.code_file, ws)
            return ws
        _write_as_written(ws.work, MODULE_FILE, source)
        _add_filter_notes(ws, out, lambda n: _locate(ws, n))
        _filter_own_modules(ws, source, local, folders)
        source = out.source
    (ws.work / MODULE_FILE).write_text(source, encoding="utf-8")
    return ws


def _add_filter_notes(ws: Workspace, out: Filtered, locate) -> None:
    for s in out.skipped:
        ws.notes.append(f"not run while grading ({locate(s.line)}): {s.what}" + (f" -- {s.reason}" if s.reason else ""))
    ws.notes.extend(_stand_in_notes(out.stand_ins, locate))
    ws.notes.extend(out.warnings)


def _write_as_written(work: Path, rel: str, text: str) -> None:
    """The file as the student wrote it, for the worker's error messages (see grader.boundary.inside.top_level)."""
    dest = work / AS_WRITTEN_DIR / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")


def _module_files(work: Path, folders: list[str], module: str, names: list[str]) -> list[Path]:
    """The submission's files an import of `module` (and `from module import names`) may run:
    each package's __init__.py on the way, the module itself, and submodules imported by name."""
    parts = module.split(".")
    out = []
    for folder in folders:
        base = work / folder
        for i in range(1, len(parts) + 1):
            stem = base.joinpath(*parts[:i])
            out += [p for p in (stem / "__init__.py", stem.with_suffix(".py")) if p.is_file()]
        out += [p for n in names for p in [base.joinpath(*parts, n + ".py")] if p.is_file()]
        if out:
            return out  # the first folder on the path that has it wins, as in Python
    return out


def _imported_files(work: Path, tree: ast.Module, here: Path, folders: list[str]) -> list[Path]:
    """The submission's own files that the imports anywhere in `tree` (a file in `here`) may run."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out += _module_files(work, folders, alias.name, [])
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names if a.name != "*"]
            if node.level:  # `from .data import load` inside a package of the submission
                base = here
                for _ in range(node.level - 1):
                    base = base.parent
                if not base.is_relative_to(work):
                    continue
                rel = base.relative_to(work).as_posix() or "."
                out += _module_files(work, [rel], node.module, names) if node.module else \
                    [p for n in names for p in [base / f"{n}.py"] if p.is_file()]
            elif node.module:
                out += _module_files(work, folders, node.module, names)
    return out


def _filter_own_modules(ws: Workspace, source: str, local: set[str], folders: list[str]) -> None:
    """The submission's own modules that the graded file imports (`from plotting import show`, and
    what they import in turn) get the graded file's treatment: each is filtered in place, its
    skipped lines and stand-ins noted under its own name (`plotting.py, line 2`), its text as
    written kept for the worker's messages. A module that does not parse is left as written: the
    worker's import then fails with Python's own message, naming the file and line."""
    todo = _imported_files(ws.work, parse_bounded(source, ws.code_file), ws.work, folders)
    done: set[Path] = set()
    while todo:
        path = todo.pop(0)
        if path in done or path.name == MODULE_FILE:
            continue
        done.add(path)
        rel = path.relative_to(ws.work).as_posix()
        text, _ = decode_text(path.read_bytes())
        here = [os.path.relpath(ws.work / f, path.parent) for f in folders]
        try:
            out = filter_definitions(text, what=rel, locate=lambda n, rel=rel: f"{rel}, line {n}",
                                     local_modules=local, code_dirs=here)
            tree = parse_bounded(text, rel)
        except (SyntaxError, ValueError):
            continue
        _write_as_written(ws.work, rel, text)
        path.write_text(out.source, encoding="utf-8")
        _add_filter_notes(ws, out, lambda n, rel=rel: f"{rel}, line {n}")
        todo += _imported_files(ws.work, tree, path.parent, folders)


def dropped_notes(ws: Workspace, dropped) -> list[str]:
    """Notes for the kept statements that raised in the worker and were dropped there. `dropped`
    comes from the worker (untrusted): [file ("" for the graded file), line, exception type,
    message] each; anything else in it is ignored."""
    notes = []
    for record in (dropped if isinstance(dropped, list) else [])[:200]:
        if not (isinstance(record, list) and len(record) == 4 and isinstance(record[0], str)
                and isinstance(record[1], int) and all(isinstance(x, str) for x in record[2:])):
            continue
        label, line, kind, message = record
        rel = os.path.normpath(label or MODULE_FILE)
        if rel.startswith(("..", "/")):
            continue
        try:
            lines = (ws.work / AS_WRITTEN_DIR / rel).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        if not 0 < line <= len(lines):  # not a line of a file the grader filtered: not a row the worker wrote
            continue
        where = _locate(ws, line) if not label else f"{rel}, line {line}"
        text = lines[line - 1].strip()
        shown = f": {text[:80]}" if text else ""
        notes.append(f"dropped while grading ({where}){shown} -- it raised {kind[:100]}: {message[:300]}; the rest "
                     "was loaded without it (names it binds say so if used)")
    return notes


def _to_source(code: Path, ws: Workspace, *, check_syntax: bool = True) -> str:
    raw = code.read_bytes()
    if not raw.strip():
        raise ValueError(f"{ws.code_file} is empty")
    if code.suffix.lower() == ".ipynb":
        nb = notebook_to_source(read_notebook(raw))
        ws.cell_starts = nb.cell_starts
        ws.notes.extend(nb.notes)
        if not nb.source.strip():
            raise ValueError(f"{ws.code_file} has no code cells that could be read")
        return nb.source
    text, note = decode_text(raw)
    if note:
        ws.notes.append(f"{ws.code_file}: {note}")
    if check_syntax:
        parse_bounded(text, ws.code_file)  # a script with a syntax error cannot be imported at all
    return text


def _locate(ws: Workspace, line: int) -> str:
    return locate_line(ws.cell_starts, line)


def _describe_error(e: Exception, code_file: str, ws: Workspace | None = None) -> str:
    if isinstance(e, SyntaxError):
        if not e.lineno:  # null bytes, a bad encoding declaration: no line to point at
            return f"{code_file} cannot be read as Python: {e.msg}"
        where = _locate(ws, e.lineno) if ws else f"line {e.lineno}"
        return f"{code_file} has a syntax error at {where}: {e.msg}"
    return str(e)
