"""Reading a submitted notebook as Python source, with a map back to its cells.

The notebook is untrusted JSON: it is parsed with nbformat (older formats are upgraded, or
rejected with a clear message), never executed here, and its outputs are ignored. IPython-only
syntax (`%magic`, `%%cell magic`, `!shell`, `obj?`) is neutralised and listed, and cells tagged
`skip-grading` are left out, so the rest can run as a plain module.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import nbformat

from grader.intake.source_limits import check_size, parse_bounded

SKIP_TAG = "skip-grading"
# cell magics whose body is still Python; the others (%%bash, %%writefile, ...) drop the cell
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "memit", "debug"}
_MAGIC_LINE = re.compile(r"^(\s*)([%!].*|[A-Za-z_][\w.]*\?\??\s*)$")


class NotebookError(ValueError):
    """The file is not a notebook we can read; the message says why, for the student."""


@dataclass
class NotebookSource:
    source: str
    cell_starts: list[tuple[int, int]] = field(default_factory=list)  # (first module line, cell number)
    notes: list[str] = field(default_factory=list)

    def locate(self, line: int) -> str:
        """'cell 7, line 3' for a line of the generated module."""
        return locate_line(self.cell_starts, line)


def locate_line(cell_starts, line: int, code_file: str = "") -> str:
    """'cell 7, line 3' for a line of a module built from notebook cells (`cell_starts` holds
    (first module line, cell number) pairs); '<code_file>, line N' for a plain script."""
    cell, first = None, 0
    for start, number in cell_starts:
        if start <= line:
            cell, first = number, start
    if cell:
        return f"cell {cell}, line {line - first + 1}"
    return f"{code_file}, line {line}" if code_file else f"line {line}"


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """Decode source bytes: UTF-8 (with or without BOM), else latin-1 with a note."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "the file is not UTF-8; it was read as latin-1"


def read_notebook(raw: bytes) -> nbformat.NotebookNode:
    text, _ = decode_text(raw)
    if not text.strip():
        raise NotebookError("the notebook file is empty")
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            text = json.dumps(_without_outputs(data))
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    except Exception as e:  # noqa: BLE001 - nbformat raises many kinds for bad JSON
        raise NotebookError(f"this is not a valid Jupyter notebook (the JSON could not be read: {str(e)[:200]})") from None
    major = nb.get("nbformat")
    if major == 4:
        pass
    elif major == 3:
        try:
            nb = nbformat.convert(nb, 4)
        except Exception as e:  # noqa: BLE001
            raise NotebookError(f"this nbformat 3 notebook could not be upgraded to nbformat 4: {e}") from None
    else:
        raise NotebookError(f"notebook format version {major!r} is not supported; re-save it with Jupyter or Colab (nbformat 4)")
    if not isinstance(nb.get("cells"), list):
        raise NotebookError("this notebook has no list of cells")
    return nb


def _without_outputs(data: dict) -> dict:
    """The notebook without what grading ignores (outputs, attachments, metadata but cell tags).
    nbformat's validation takes ~1 s and ~8x the memory per MB of JSON: a 28 MB notebook of junk
    metadata took 22 s, so it only ever sees the cells' sources."""
    data["metadata"] = {}
    def listed(obj, key) -> list:
        return obj[key] if isinstance(obj.get(key), list) else []

    cells = list(listed(data, "cells"))
    for sheet in listed(data, "worksheets"):      # nbformat 3
        if isinstance(sheet, dict):
            sheet["metadata"] = {}
            cells += listed(sheet, "cells")
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        if "outputs" in cell:
            cell["outputs"] = []
        cell.pop("attachments", None)
        tags = _tags(cell)
        cell["metadata"] = {"tags": tags} if tags else {}
    return data


def _neutralise(cell_source: str, number: int, notes: list[str]) -> str | None:
    lines = cell_source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].strip()[2:].split()[0] if lines[0].strip()[2:] else ""
        if magic not in PYTHON_CELL_MAGICS:
            notes.append(f"cell {number}: `%%{magic}` cell is not Python and was skipped")
            return None
        notes.append(f"cell {number}: `%%{magic}` removed, the cell body kept")
        lines[0] = ""
    try:
        parse_bounded("\n".join(lines), f"cell {number}")
        return "\n".join(lines)  # plain Python: nothing to neutralise
    except SyntaxError:
        pass
    out = []
    for line in lines:
        m = _MAGIC_LINE.match(line)
        if m and (m.group(2).startswith(("%", "!")) or m.group(2).rstrip().endswith("?")):
            out.append(f"{m.group(1)}pass  # neutralised: {m.group(2).strip()[:60]}")
            notes.append(f"cell {number}: `{m.group(2).strip()[:60]}` is IPython-only and was neutralised")
        else:
            out.append(line)
    return "\n".join(out)


def _tags(cell) -> list:
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return tags if isinstance(tags, list) else []


def _cell_source(cell):
    source = cell.get("source", "")
    if isinstance(source, list):  # tolerated: some tools write lists of lines
        source = "".join(str(s) for s in source)
    return source


def notebook_to_source(nb: nbformat.NotebookNode) -> NotebookSource:
    """The code cells as one module. Raises SourceRejected (a ValueError) for code too large or too
    deeply nested to parse safely, before any cell is parsed."""
    result = NotebookSource("")
    chunks: list[str] = []
    line = 1
    cells = [(number, cell, _cell_source(cell)) for number, cell in enumerate(nb.cells, start=1)
             if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    check_size("".join(s for _, c, s in cells if isinstance(s, str) and SKIP_TAG not in _tags(c)),
               "the notebook's code cells")
    for number, cell, source in cells:
        if not isinstance(source, str):
            result.notes.append(f"cell {number}: its source is not text and was skipped")
            continue
        if SKIP_TAG in _tags(cell):
            result.notes.append(f"cell {number}: tagged `{SKIP_TAG}`, skipped")
            continue
        code = _neutralise(source, number, result.notes)
        if code is None:
            continue
        try:
            parse_bounded(code, f"cell {number}")
        except SyntaxError as e:
            text = f" (`{e.text.strip()[:100]}`)" if e.text and e.text.strip() else ""   # the line, for the headline
            result.notes.append(f"cell {number}: syntax error at line {e.lineno}: {e.msg}{text}; the cell was skipped")
            continue
        header = f"# %% cell {number}\n"
        chunks.append(header + code.rstrip("\n") + "\n")
        result.cell_starts.append((line + 1, number))
        line += 1 + code.rstrip("\n").count("\n") + 1
    result.source = "".join(chunks)
    return result
