"""grader/intake/notebooks.py: a submitted notebook read as Python source, with a map back to its cells."""
from __future__ import annotations

import ast
import json

import nbformat
import pytest

from grader.intake.notebooks import NotebookError, decode_text, notebook_to_source, read_notebook


def notebook(*cells, tags=None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for i, c in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbformat.v4.new_code_cell(c)
        if tags and i in tags:
            cell.metadata["tags"] = tags[i]
        nb.cells.append(cell)
    return nb


def raw(nb) -> bytes:
    return nbformat.writes(nb).encode()


# --- reading -------------------------------------------------------------------------------------

def test_decode_text_handles_bom_and_latin1():
    assert decode_text("x = 'é'\n".encode()) == ("x = 'é'\n", None)
    assert decode_text(b"\xef\xbb\xbfx = 1\n") == ("x = 1\n", None)
    text, note = decode_text("x = 'é'\n".encode("latin-1"))
    assert text == "x = 'é'\n" and "latin-1" in note


@pytest.mark.parametrize("data,message", [
    (b"", "the notebook file is empty"),
    (b"  \n ", "the notebook file is empty"),
    (b'{"cells": [', "not a valid Jupyter notebook"),
    (b"def answer():\n    return 42\n", "not a valid Jupyter notebook"),
    (b"[1, 2, 3]", "not a valid Jupyter notebook"),
    (b'{"nbformat": 2, "nbformat_minor": 0, "worksheets": []}', "notebook format version 2 is not supported"),
    (b'{"nbformat": 5, "nbformat_minor": 0, "cells": [], "metadata": {}}', "Unsupported nbformat version 5"),
])
def test_unreadable_notebooks_are_explained(data, message):
    with pytest.raises(NotebookError, match=message):
        read_notebook(data)


def test_nbformat_3_is_upgraded():
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# title"},
        {"cell_type": "code", "input": "def f():\n    return 1", "language": "python", "metadata": {},
         "outputs": [], "collapsed": False},
    ]}]}
    nb = read_notebook(json.dumps(v3).encode())
    assert nb.nbformat == 4
    src = notebook_to_source(nb)
    assert "def f():\n    return 1" in src.source
    assert src.cell_starts == [(2, 2)]


def test_bom_notebook_is_read():
    nb = read_notebook(b"\xef\xbb\xbf" + raw(notebook("x = 1")))
    assert notebook_to_source(nb).source == "# %% cell 1\nx = 1\n"


# --- converting ----------------------------------------------------------------------------------

def test_magics_are_neutralised_and_listed():
    nb = notebook("!pip install einops\n%matplotlib inline\nimport math",
                  "%%capture\nimport numpy as np\nprint('quiet')",
                  "%%bash\necho not python",
                  "%%writefile helper.py\nX = 1",
                  "math.sqrt?\nfor i in range(2):\n    %time y = i\nz = 3")
    src = notebook_to_source(nb)
    ast.parse(src.source)
    lines = src.source.splitlines()
    assert "pass  # neutralised: !pip install einops" in lines
    assert "pass  # neutralised: %matplotlib inline" in lines
    assert "    pass  # neutralised: %time y = i" in lines  # indentation kept
    assert "import numpy as np" in lines  # the %%capture body is kept
    assert "echo not python" not in src.source and "X = 1" not in src.source  # non-Python cell magics dropped
    notes = "\n".join(src.notes)
    for text in ("cell 1: `!pip install einops` is IPython-only and was neutralised",
                 "cell 1: `%matplotlib inline` is IPython-only",
                 "cell 2: `%%capture` removed, the cell body kept",
                 "cell 3: `%%bash` cell is not Python and was skipped",
                 "cell 4: `%%writefile` cell is not Python and was skipped",
                 "cell 5: `math.sqrt?` is IPython-only"):
        assert text in notes


def test_percent_signs_in_plain_python_are_left_alone():
    cell = 'print("100% done")\nx = 7 % 3\ns = """\n%not a magic\n"""'
    src = notebook_to_source(notebook(cell))
    assert src.source == f"# %% cell 1\n{cell}\n" and src.notes == []


def test_skip_grading_tag_and_markdown_cells():
    nb = notebook("md:# Title", "A = 1", "train_for_hours()", "B = 2", tags={2: ["skip-grading", "other"]})
    src = notebook_to_source(nb)
    assert "train_for_hours" not in src.source
    assert src.notes == ["cell 3: tagged `skip-grading`, skipped"]
    assert [number for _, number in src.cell_starts] == [2, 4]


def test_a_cell_with_a_syntax_error_is_skipped_with_a_note():
    src = notebook_to_source(notebook("A = 1", "def broken(:\n    pass", "B = 2"))
    assert "broken" not in src.source and "A = 1" in src.source and "B = 2" in src.source
    assert len(src.notes) == 1 and src.notes[0].startswith("cell 2: syntax error at line 1")
    assert src.notes[0].endswith("the cell was skipped")


def test_cell_sources_given_as_lists_and_non_text_sources():
    nb = notebook("placeholder", "second")
    nb.cells[0]["source"] = ["A = 1\n", "B = 2"]
    nb.cells[1]["source"] = 12
    src = notebook_to_source(nb)
    assert "A = 1\nB = 2" in src.source
    assert src.notes == ["cell 2: its source is not text and was skipped"]


def test_locate_maps_module_lines_back_to_cells():
    nb = notebook("md:# intro", "import math\n\nA = 1", "md:text", "def f():\n    raise ValueError")
    src = notebook_to_source(nb)
    lines = src.source.splitlines()
    # module line (1-based) of `A = 1` and of `raise ValueError`
    a_line = lines.index("A = 1") + 1
    raise_line = lines.index("    raise ValueError") + 1
    assert src.locate(a_line) == "cell 2, line 3"
    assert src.locate(raise_line) == "cell 4, line 2"
    assert src.locate(lines.index("def f():") + 1) == "cell 4, line 1"
    assert src.locate(1) == "line 1"  # the header comment before the first cell's code
    assert src.cell_starts == [(2, 2), (6, 4)]


def test_empty_and_all_markdown_notebooks_give_no_source():
    assert notebook_to_source(notebook()).source == ""
    assert notebook_to_source(notebook("md:only text")).source == ""
