"""`check` from inside a notebook: the template's last cell calls `check_this_notebook`.

It finds the notebook file (Colab: asks the Colab front end for the current notebook; Jupyter
and VS Code: the session's path; otherwise the file name given in the working directory), puts
it in a fresh folder together with the files handed in beside it (the spec's
`submission.private` globs: a training log, a write-up), runs the same public checks as
`dlgrade check` on that folder, in a sandboxed worker, and prints the same table.
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import tempfile
from pathlib import Path

from grader.commands.check import check_submission
from grader.core.errors import ToolkitError


def _current_notebook(fallback: str, folder: Path) -> Path:
    """The notebook's file, written into `folder` under the name `fallback`."""
    target = folder / fallback
    try:  # Colab keeps the notebook in the browser; ask for its JSON
        from google.colab import _message  # type: ignore[import-not-found]
        nb = _message.blocking_request("get_ipynb", timeout_sec=30)["ipynb"]
        target.write_text(json.dumps(nb), encoding="utf-8")
        return target
    except ImportError:
        pass
    for candidate in (os.environ.get("JPY_SESSION_NAME"), os.environ.get("__session__"), fallback):
        if candidate and Path(candidate).is_file():
            shutil.copyfile(candidate, target)
            return target
    raise ToolkitError(f"could not find this notebook's file; save it as {fallback!r} in the working directory "
                       "or run `dlgrade check <assignment> <notebook>`")


def hand_ins(spec, folder: Path) -> list[Path]:
    """The files in `folder` (not its subfolders) that the spec's `submission.private` globs match,
    within the submission's size limit: what a student hands in beside the notebook."""
    budget = spec.submission.max_total_mb * 2 ** 20
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and not path.is_symlink() and any(fnmatch.fnmatch(path.name, g) for g in spec.submission.private):
            size = path.stat().st_size
            if size <= budget:
                found.append(path)
                budget -= size
    return found


def check_this_notebook(assignment: str, notebook_name: str, **options):
    """Run the public checks on the current notebook (save it first) and the files handed in
    beside it in the working directory, and show the results. Returns the result."""
    from grader.core.assignments import find_assignment
    from grader.reports.terminal import render_result

    spec = find_assignment(assignment)
    with tempfile.TemporaryDirectory(prefix="dlgrade-check-") as tmp:
        folder = Path(tmp) / Path(notebook_name).stem
        folder.mkdir()
        _current_notebook(notebook_name, folder)
        for path in hand_ins(spec, Path.cwd()):
            if path.name != notebook_name:
                shutil.copyfile(path, folder / path.name)
        result = check_submission(assignment=spec.path, submission=folder, **options)
    render_result(result, title=spec.title, after_due_date=False)
    return result
