"""Student templates, generated from the reference solution (the single source of truth).

`strip_solution` removes the marked regions:
    # BEGIN SOLUTION [hint: text]      ...lines...      # END SOLUTION
        -> raise NotImplementedError("text")   (at the marker's indentation)
    name = value  # SOLUTION
        -> name = ...  # YOUR CODE HERE

`build_notebook` turns the stripped file (in "percent" format: `# %%` code cells,
`# %% [markdown]` cells) into a Colab-ready notebook: the task README first, then the cells,
then a cell that runs the public checks.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from grader.errors import ToolkitError

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\b(?:\s*hint:\s*(.*))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
LINE = re.compile(r"^(\s*)([A-Za-z_][\w.\[\]'\"]*\s*(?::[^=]+)?=)(?!=).*#\s*SOLUTION\s*$")
CELL = re.compile(r"^# %%(?:\s*\[(markdown|md)\])?.*$")
DEFAULT_HINT = "TODO: implement this"


def strip_solution(source: str, *, where: str = "solution") -> str:
    out: list[str] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = BEGIN.match(line)
        if m:
            indent, hint = m.group(1), (m.group(2) or DEFAULT_HINT).strip()
            j = i + 1
            while j < len(lines) and not END.match(lines[j]):
                if BEGIN.match(lines[j]):
                    raise ToolkitError(f"{where}:{j + 1}: BEGIN SOLUTION inside another solution block")
                j += 1
            if j == len(lines):
                raise ToolkitError(f"{where}:{i + 1}: BEGIN SOLUTION without a matching END SOLUTION")
            out.append(f"{indent}raise NotImplementedError({hint!r})")
            i = j + 1
            continue
        if END.match(line):
            raise ToolkitError(f"{where}:{i + 1}: END SOLUTION without a BEGIN SOLUTION")
        if re.search(r"#\s*SOLUTION\s*$", line):
            m = LINE.match(line)
            if not m:
                raise ToolkitError(f"{where}:{i + 1}: the line form `# SOLUTION` works on `name = value` lines only")
            out.append(f"{m.group(1)}{m.group(2).rstrip()} ...  # YOUR CODE HERE")
            i += 1
            continue
        out.append(line)
        i += 1
    text = "\n".join(out) + "\n"
    try:
        ast.parse(text)
    except SyntaxError as e:
        raise ToolkitError(f"{where}: the template would not parse after stripping (line {e.lineno}: {e.msg}); "
                           "check the marker indentation") from None
    return text


def split_cells(source: str) -> list[tuple[str, str]]:
    """Percent-format source -> [(cell_type, text)]; code before the first marker is a code cell."""
    cells: list[tuple[str, list[str]]] = [("code", [])]
    for line in source.splitlines():
        m = CELL.match(line)
        if m:
            cells.append(("markdown" if m.group(1) else "code", []))
            continue
        kind, body = cells[-1]
        if kind == "markdown":
            body.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            body.append(line)
    result = []
    for kind, body in cells:
        text = "\n".join(body).strip("\n")
        if text.strip():
            result.append((kind, text))
    return result


def check_cell(assignment: str, notebook_name: str) -> str:
    return f'''# Run the public checks on this notebook (save it first: File > Save / Download .ipynb).
# Needs the toolkit: `pip install dlgrade` or the released bundle (see the task README).
# The checks run your code in a separate, sandboxed process, like the final grading does.
try:
    from grader.notebook_check import check_this_notebook
    check_this_notebook({assignment!r}, {notebook_name!r})
except ImportError:
    print("The dlgrade toolkit is not installed here; run `python cli.py check {assignment} {notebook_name}` "
          "from the released bundle instead.")'''


def build_notebook(template_py: str, *, assignment: str, title: str, task_markdown: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "name": f"{assignment}.ipynb"},
        "accelerator": "GPU",
    }
    cells = [nbformat.v4.new_markdown_cell(task_markdown.strip())] if task_markdown.strip() else []
    body = template_py
    tree = ast.parse(template_py)
    docstring = ast.get_docstring(tree)
    if docstring:  # the module docstring reads better as the notebook's first markdown cell
        body = "\n".join(template_py.splitlines()[tree.body[0].end_lineno:])
        cells.append(nbformat.v4.new_markdown_cell(f"## About this notebook\n\n{docstring}"))
    for kind, text in split_cells(body):
        cells.append(nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text))
    cells.append(nbformat.v4.new_markdown_cell("## Check your work\n\nThe cell below runs the public tests. "
                                               "The final grading runs more (hidden) tests with the same engine."))
    checker = nbformat.v4.new_code_cell(check_cell(assignment, f"{assignment}.ipynb"))
    checker.metadata["tags"] = ["skip-grading"]
    cells.append(checker)
    for i, cell in enumerate(cells):  # stable ids, so rebuilding an unchanged template changes nothing
        cell["id"] = f"{assignment[:40]}-{i:03d}"
    nb.cells = cells
    return nb


def render_templates(reference: Path, *, assignment: str, title: str, task_markdown: str) -> dict[str, str]:
    """{file name: content} of the template files for one assignment."""
    source = reference.read_text(encoding="utf-8")
    template_py = strip_solution(source, where=str(reference))
    nb = build_notebook(template_py, assignment=assignment, title=title, task_markdown=task_markdown)
    return {f"{assignment}.py": template_py, f"{assignment}.ipynb": nbformat.writes(nb) + "\n"}
