"""`check` from inside a notebook: the template's last cell calls `check_this_notebook`.

It finds the notebook file (Colab: asks the Colab front end for the current notebook; Jupyter
and VS Code: the session's path; otherwise the file name given), then runs the same public checks
as `dlgrade check`, in a sandboxed worker, and prints the same table.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from grader.commands.check import check_submission
from grader.errors import ToolkitError


def _current_notebook(fallback: str) -> Path:
    try:  # Colab keeps the notebook in the browser; ask for its JSON
        from google.colab import _message  # type: ignore[import-not-found]
        nb = _message.blocking_request("get_ipynb", timeout_sec=30)["ipynb"]
        path = Path(tempfile.mkdtemp()) / fallback
        path.write_text(json.dumps(nb))
        return path
    except ImportError:
        pass
    for candidate in (os.environ.get("JPY_SESSION_NAME"), os.environ.get("__session__"), fallback):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ToolkitError(f"could not find this notebook's file; save it as {fallback!r} in the working directory "
                       "or run `python cli.py check <assignment> <notebook>`")


def check_this_notebook(assignment: str, notebook_name: str, **options):
    """Run the public checks on the current notebook (save it first) and show the results."""
    from grader.render import render_result
    from grader.assignments import find_assignment
    result = check_submission(assignment=assignment, submission=_current_notebook(notebook_name), **options)
    render_result(result, title=find_assignment(assignment).title, after_due_date=False)
    return result
