"""Student templates, generated from the reference solution (the single source of truth).

`strip_solution` removes the marked regions:
    # BEGIN SOLUTION [hint: text]      ...lines...      # END SOLUTION
        -> raise NotImplementedError("text")   (at the marker's indentation)
    name = value  # SOLUTION
        -> name = ...  # YOUR CODE HERE

`build_notebook` turns the stripped file (in "percent" format: `# %%` code cells,
`# %% [markdown]` cells) into a Colab-ready notebook: the task README first, a setup cell that
installs the released bundle where the course package is missing (Colab), then the cells, then a
cell that runs the public checks. Both added cells are tagged `skip-grading`. The reference's
docstring becomes the notebook's "About" cell, so it must read as the student's file (no
"reference solution", no instructor paths): `render_templates` refuses one that does not.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from grader.core.errors import ToolkitError

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\b(?:\s*hint:\s*(.*))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
LINE = re.compile(r"^(\s*)([A-Za-z_][\w.\[\]'\"]*\s*(?::[^=]+)?=)(?!=).*#\s*SOLUTION\s*$")
CELL = re.compile(r"^# %%(?:\s*\[(markdown|md)\])?.*$")
DEFAULT_HINT = "TODO: implement this"
# what a template must not say: it is the student's file, released without the reference
REFERENCE_WORDS = re.compile(r"reference[ _]solution|example_output/", re.IGNORECASE)


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


def setup_cell(assignment: str) -> str:
    """The notebook's first code cell: installs the released bundle where the course package is missing."""
    return f'''# Setup: the course package `dlcourse` (data readers, the trial log) and the checker.
# On your own machine: run `pip install -r requirements.txt` once in the released bundle's folder;
# this cell then does nothing. In Colab: upload {assignment}.zip (the released bundle, from the course
# page) with the Files pane on the left, then run this cell.
import importlib.util, os, subprocess, sys, zipfile

if importlib.util.find_spec("dlcourse") is None:
    if not os.path.isdir({assignment!r}) and os.path.isfile({assignment + ".zip"!r}):
        zipfile.ZipFile({assignment + ".zip"!r}).extractall(".")
    if not os.path.isfile(os.path.join({assignment!r}, "requirements.txt")):
        raise RuntimeError("the course package is not installed and {assignment}.zip is not here: upload the "
                           "released bundle {assignment}.zip next to this notebook, then run this cell again")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd={assignment!r},
                   check=True)
    sys.path.insert(0, os.path.abspath({assignment!r}))  # this kernel started before the install'''


def check_cell(assignment: str, notebook_name: str) -> str:
    return f'''# Run the public checks on this notebook: save it first (Colab reads it from the browser).
# They run your code in a separate, sandboxed process, as the final grading does, on the notebook and
# the files you hand in beside it; the final grading adds hidden tests.
from grader.commands.notebook_check import check_this_notebook

result = check_this_notebook({assignment!r}, {notebook_name!r})  # result.score, result.tests: the details'''


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
    setup = nbformat.v4.new_code_cell(setup_cell(assignment))
    setup.metadata["tags"] = ["skip-grading"]
    for kind, text in split_cells(body):
        if kind == "code" and setup is not None:  # before the first code cell, which imports the course package
            cells.append(setup)
            setup = None
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
    for number, line in enumerate(template_py.splitlines(), start=1):
        if REFERENCE_WORDS.search(line):
            raise ToolkitError(f"{reference}: the template would mention the reference solution (template line "
                               f"{number}: {line.strip()[:80]!r}); write it as the student's file, or put it "
                               "inside a solution block")
    nb = build_notebook(template_py, assignment=assignment, title=title, task_markdown=task_markdown)
    return {f"{assignment}.py": template_py, f"{assignment}.ipynb": nbformat.writes(nb) + "\n"}
