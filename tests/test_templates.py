"""grader/scaffold/templates.py: student templates generated from the reference solutions, and never stale."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.core.assignments import all_assignments, find_assignment
from grader.scaffold.build import build_templates
from grader.core.errors import ToolkitError
from grader.intake.notebooks import notebook_to_source, read_notebook
from grader.scaffold.templates import DEFAULT_HINT, build_notebook, render_templates, split_cells, strip_solution

TINY = Path(__file__).resolve().parent / "fixtures" / "assignments" / "tiny"


def test_block_markers_become_raise_with_the_hint_at_their_indentation():
    source = textwrap.dedent("""\
        def f(x):
            \"\"\"Docstring stays.\"\"\"
            # BEGIN SOLUTION hint: square x (N, D) elementwise
            y = x * x
            return y
            # END SOLUTION


        class M:
            def g(self):
                if True:
                    # BEGIN SOLUTION
                    return 1
                    # END SOLUTION
        """)
    out = strip_solution(source)
    assert out == textwrap.dedent("""\
        def f(x):
            \"\"\"Docstring stays.\"\"\"
            raise NotImplementedError('square x (N, D) elementwise')


        class M:
            def g(self):
                if True:
                    raise NotImplementedError('TODO: implement this')
        """)
    assert DEFAULT_HINT == "TODO: implement this"


def test_hints_with_quotes_stay_valid_python():
    out = strip_solution("def f():\n    # BEGIN SOLUTION hint: don't use \"eval\"\n    pass\n    # END SOLUTION\n")
    assert out == "def f():\n    raise NotImplementedError('don\\'t use \"eval\"')\n"


def test_line_markers():
    source = "lr = 3e-4  # SOLUTION\nhidden: int = 64  # SOLUTION\ncfg['depth'] = 3  # SOLUTION\nkeep = 1\n"
    assert strip_solution(source) == ("lr = ...  # YOUR CODE HERE\nhidden: int = ...  # YOUR CODE HERE\n"
                                      "cfg['depth'] = ...  # YOUR CODE HERE\nkeep = 1\n")


@pytest.mark.parametrize("source,message", [
    ("x = 1\n# BEGIN SOLUTION\ny = 2\n", "where:2: BEGIN SOLUTION without a matching END SOLUTION"),
    ("x = 1\ny = 2\n# END SOLUTION\n", "where:3: END SOLUTION without a BEGIN SOLUTION"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "where:2: BEGIN SOLUTION inside another solution block"),
    ("x = 1\ntrain(model)  # SOLUTION\n", "where:2: the line form `# SOLUTION` works on `name = value` lines only"),
    ("if x == 1:  # SOLUTION\n    pass\n", "where:1: the line form"),
    ("def f():\n# BEGIN SOLUTION\n    return 1\n# END SOLUTION\n", "where: the template would not parse"),
])
def test_unmatched_or_misplaced_markers_name_the_line(source, message):
    with pytest.raises(ToolkitError) as err:
        strip_solution(source, where="where")
    assert message in str(err.value)


def test_split_cells_reads_the_percent_format():
    source = ("import math\n# %% [markdown]\n# # Title\n# Some *text*.\n\n# %%\nx = 1\n\n"
              "# %% a named cell\ny = 2\n# %%\n\n")
    assert split_cells(source) == [("code", "import math"), ("markdown", "# Title\nSome *text*."),
                                   ("code", "x = 1"), ("code", "y = 2")]


def test_the_notebook_has_the_task_first_a_setup_cell_and_the_checker_last():
    template = ('"""Module doc."""\n# %%\nimport math\n# %% [markdown]\n# Explain.\n'
                '# %%\ndef f():\n    raise NotImplementedError\n')
    nb = build_notebook(template, assignment="demo", title="Demo", task_markdown="# The task\n")
    kinds = [(c.cell_type, c.source.splitlines()[0]) for c in nb.cells]
    assert kinds[0] == ("markdown", "# The task")
    assert kinds[1] == ("markdown", "## About this notebook")
    assert kinds[2][0] == "code" and "the course package `dlcourse`" in kinds[2][1]  # before the first import
    assert kinds[3:6] == [("code", "import math"), ("markdown", "Explain."), ("code", "def f():")]
    assert nb.cells[2].metadata["tags"] == nb.cells[-1].metadata["tags"] == ["skip-grading"]
    assert "check_this_notebook('demo', 'demo.ipynb')" in nb.cells[-1].source
    assert [c["id"] for c in nb.cells] == [f"demo-{i:03d}" for i in range(len(nb.cells))]  # stable ids
    assert build_notebook(template, assignment="demo", title="Demo", task_markdown="# The task\n") == nb


def test_the_setup_cell_installs_the_uploaded_bundle_only_where_the_course_package_is_missing(tmp_path, monkeypatch):
    """Colab: the bundle zip sits next to the notebook; the cell unpacks it, pip-installs its
    requirements and makes the package importable in the running kernel."""
    import subprocess
    import sys
    import zipfile

    nb = build_notebook("# %%\nx = 1\n", assignment="demo", title="Demo", task_markdown="")
    setup = next(c.source for c in nb.cells if "find_spec" in c.source)
    with zipfile.ZipFile(tmp_path / "demo.zip", "w") as zf:
        zf.writestr("demo/requirements.txt", "-e .\n")
        zf.writestr("demo/dlcourse/__init__.py", "")
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # as in a fresh Colab kernel
    exec(compile(setup, "setup", "exec"), {})
    assert (tmp_path / "demo" / "requirements.txt").is_file()
    assert calls == [([sys.executable, "-m", "pip", "install", "-q", "-r", "requirements.txt"],
                      {"cwd": "demo", "check": True})]
    assert sys.path[0] == str(tmp_path / "demo")
    (tmp_path / "demo.zip").unlink()
    import shutil
    shutil.rmtree(tmp_path / "demo")
    with pytest.raises(RuntimeError, match="upload the released bundle demo.zip"):
        exec(compile(setup, "setup", "exec"), {})


@pytest.mark.parametrize("spec", all_assignments(), ids=lambda s: s.name)
def test_templates_say_nothing_of_the_reference(spec):
    files = render_templates(Path(spec.path).parent.parent / "reference_solutions" / spec.name / (spec.solution or f"{spec.name}.py"),
                             assignment=spec.name, title=spec.title, task_markdown="")
    for name, text in files.items():
        for phrase in ("Reference solution", "reference_solutions/", "example_output", "from grader", "import grader.",
                       "__file__", "argparse"):
            if phrase == "from grader" and name.endswith(".ipynb"):
                continue  # the notebook's check cell imports the checker, which the bundle installs
            assert phrase not in text, f"{name} says {phrase!r}"


def test_a_template_that_would_mention_the_reference_is_refused(tmp_path):
    reference = tmp_path / "demo.py"
    reference.write_text('"""Reference solution for demo."""\nx = 1\n')
    with pytest.raises(ToolkitError, match="would mention the reference solution"):
        render_templates(reference, assignment="demo", title="Demo", task_markdown="")


def test_the_tiny_template_is_graded_as_an_ungraded_skeleton():
    spec = find_assignment(TINY)
    files = render_templates(TINY.parent.parent / "reference_solutions" / "tiny" / "tiny.py",
                             assignment="tiny", title=spec.title, task_markdown="# Tiny")
    assert set(files) == {"tiny.py", "tiny.ipynb"}
    assert "return 42" not in files["tiny.py"] and "BEGIN SOLUTION" not in files["tiny.ipynb"]
    src = notebook_to_source(read_notebook(files["tiny.ipynb"].encode()))
    namespace: dict = {}
    exec(compile(src.source.replace('if __name__ == "__main__":', "if False:"), "tiny", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="return the int 42"):
        namespace["answer"]()
    assert "check_this_notebook" not in src.source  # the checker cell is tagged skip-grading


# --- drift: committed templates equal what `build` would write ------------------------------------

@pytest.mark.parametrize("spec", all_assignments(), ids=lambda s: s.name)
def test_committed_templates_are_up_to_date(spec):
    stale = [c for c in build_templates(assignment=spec.path, check_only=True) if not c.ok]
    assert not stale, f"run `python cli.py build {spec.name}`: {[c.name for c in stale]}"


def test_the_fixture_templates_are_up_to_date():
    checks = build_templates(assignment=TINY, check_only=True)
    assert [c.name for c in checks] == ["templates/tiny/tiny.py", "templates/tiny/tiny.ipynb"]
    assert all(c.ok for c in checks), ("rebuild with: python -c \"from grader.scaffold.build import build_templates; "
                                       "build_templates(assignment='tests/fixtures/assignments/tiny')\"")


def test_check_only_reports_a_stale_template(tmp_path):
    from grader.scaffold.new import new_assignment
    new_assignment(name="drift_demo", root=tmp_path)
    folder = tmp_path / "assignments" / "drift_demo"
    assert all(c.ok for c in build_templates(assignment=folder, check_only=True))
    template = tmp_path / "templates" / "drift_demo" / "drift_demo.py"
    template.write_text(template.read_text() + "# edited by hand\n")
    checks = {c.name: c for c in build_templates(assignment=folder, check_only=True)}
    assert not checks["templates/drift_demo/drift_demo.py"].ok
    assert "run `dlgrade build drift_demo`" in checks["templates/drift_demo/drift_demo.py"].detail
    assert checks["templates/drift_demo/drift_demo.ipynb"].ok
    build_templates(assignment=folder)
    assert all(c.ok for c in build_templates(assignment=folder, check_only=True))
