"""A submission's files as the reviewer reads them: the graded code file syntax-highlighted line by line
(a notebook cell by cell, as grading numbered them), the lines the feedback names marked, and the
logs and write-ups beside it.

The files are read as grading read them (grader.intake.workspace: zips unpacked within limits, the
same code-file choice), into a scratch folder that is removed at once. Highlighting yields
(token class, text) pairs only; the page's template escapes the text, so nothing a student wrote
reaches the page as markup.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

from grader.core.spec import Spec
from grader.intake.notebooks import NotebookError, decode_text, read_notebook
from grader.intake.workspace import prepare_workspace
from grader.integrity.prose import PROSE_SUFFIXES
from grader.integrity.similarity import ARTIFACT_SUFFIXES

MAX_SHOWN_BYTES = 256 * 1024     # of one file: a reviewer reads code and logs, not a data dump
MAX_EXTRA_FILES = 12             # logs and write-ups shown beside the code
# "line 12" or "cell 3, line 2", as grader.intake.notebooks.locate_line and Python's tracebacks write them
NAMED_LINE = re.compile(r"(?:\bcell (\d+), )?\bline (\d+)")

Token = tuple[str, str]          # (Pygments' short CSS class, text)


@dataclass
class CodeLine:
    number: int
    tokens: list[Token]
    marked: bool = False


@dataclass
class Block:
    """A notebook cell, a whole script, or a log or write-up."""
    title: str
    kind: str                    # "code", "markdown" or "text"
    lines: list[CodeLine]
    truncated: bool = False

    @property
    def marked(self) -> bool:
        return any(line.marked for line in self.lines)


@dataclass
class SubmissionFiles:
    code_file: str = ""
    blocks: list[Block] = field(default_factory=list)      # the code file
    extras: list[Block] = field(default_factory=list)      # logs and write-ups
    problem: str = ""                                      # why nothing could be shown


def named_lines(texts: list[str]) -> set[tuple[int | None, int]]:
    """(cell or None, line) for every place the texts (messages, notes, reasons) name."""
    found = set()
    for text in texts:
        for cell, line in NAMED_LINE.findall(text or ""):
            found.add((int(cell) if cell else None, int(line)))
    return found


def highlighted(source: str) -> list[list[Token]]:
    """`source` as lines of (class, text) tokens; a token spanning lines (a docstring) is split."""
    lines: list[list[Token]] = [[]]
    for kind, value in PythonLexer(stripnl=False, ensurenl=False).get_tokens(source):
        while kind not in STANDARD_TYPES:
            kind = kind.parent
        css = STANDARD_TYPES[kind]
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if piece:
                lines[-1].append((css, piece))
    if lines and not lines[-1] and source.endswith("\n"):
        lines.pop()
    return lines


def _plain(text: str) -> list[list[Token]]:
    return [[("", line)] if line else [] for line in text.splitlines()]


def _block(title: str, kind: str, token_lines: list[list[Token]], marks: set[int], truncated=False) -> Block:
    return Block(title, kind, [CodeLine(n, tokens, n in marks) for n, tokens in enumerate(token_lines, start=1)],
                 truncated)


def _read_capped(path: Path) -> tuple[str, bool]:
    with open(path, "rb") as f:
        raw = f.read(MAX_SHOWN_BYTES + 1)
    return decode_text(raw[:MAX_SHOWN_BYTES])[0], len(raw) > MAX_SHOWN_BYTES


def notebook_blocks(raw: bytes, places: set[tuple[int | None, int]]) -> list[Block]:
    """Every cell, numbered as grading numbers them (all cells, from 1), code highlighted."""
    blocks = []
    for number, cell in enumerate(read_notebook(raw).cells, start=1):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(map(str, source)) if isinstance(source, list) else ""
        marks = {line for c, line in places if c == number}
        if cell.get("cell_type") == "code":
            blocks.append(_block(f"cell {number}", "code", highlighted(source[:MAX_SHOWN_BYTES]), marks))
        else:
            blocks.append(_block(f"cell {number} ({cell.get('cell_type', 'text')})", "markdown",
                                 _plain(source[:MAX_SHOWN_BYTES]), marks))
    return blocks


def read_submission(source: Path, spec: Spec, places: set[tuple[int | None, int]]) -> SubmissionFiles:
    """The graded code file and the logs and write-ups of the submission at `source`."""
    if not source.exists():
        return SubmissionFiles(problem=f"the submission is no longer at {source} (grade read it from there)")
    with tempfile.TemporaryDirectory(prefix="dlgrade-review-") as tmp:
        ws = prepare_workspace(source, spec, Path(tmp))
        if not ws.code_file:
            return SubmissionFiles(problem=ws.error or "no code file found")
        files = SubmissionFiles(code_file=ws.code_file)
        code = ws.original / ws.code_file
        try:
            if code.suffix.lower() == ".ipynb":
                files.blocks = notebook_blocks(code.read_bytes(), places)
            else:
                text, truncated = _read_capped(code)
                files.blocks = [_block(ws.code_file, "code", highlighted(text),
                                       {line for cell, line in places if cell is None}, truncated)]
        except (OSError, NotebookError, ValueError) as e:
            files.problem = f"{ws.code_file} cannot be shown: {e}"
        for path in sorted(ws.original.rglob("*")):
            if len(files.extras) >= MAX_EXTRA_FILES:
                break
            if (path.is_file() and not path.is_symlink() and path != code
                    and path.suffix.lower() in (*ARTIFACT_SUFFIXES, *PROSE_SUFFIXES)):
                text, truncated = _read_capped(path)
                files.extras.append(_block(path.relative_to(ws.original).as_posix(), "text", _plain(text), set(),
                                           truncated))
    return files
