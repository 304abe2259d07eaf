"""`new`: a complete assignment skeleton that `validate` passes as generated.

Writes the spec, the task README, a reference solution with solution markers, one public and one
hidden test (from `grader/scaffold/files/new/`), and builds the template, so an instructor starts from something that works.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.core.assignments import ASSIGNMENTS_DIR, REFERENCE_DIR
from grader.scaffold.build import build_templates
from grader.scaffold.generated import render
from grader.core.errors import ToolkitError
from grader.core.spec import NAME_PATTERN, describe_schema

@dataclass
class NewAssignment:
    name: str
    files: list[Path]


def new_assignment(*, name: str, title: str | None = None, root: Path | None = None) -> NewAssignment:
    """Write the skeleton of assignment `name` and build its template; refuses to overwrite."""
    if not NAME_PATTERN.match(name):
        raise ToolkitError(f"{name!r}: assignment names are lower_snake_case, 2-49 characters, starting with a letter")
    assignments = (root / "assignments") if root else ASSIGNMENTS_DIR
    references = (root / "reference_solutions") if root else REFERENCE_DIR
    folder, ref_folder = assignments / name, references / name
    if folder.exists() or ref_folder.exists():
        raise ToolkitError(f"{folder} or {ref_folder} already exists; choose another name")
    title = title or name.replace("_", " ").capitalize()
    schema = "\n".join(f"#   {key}: {help} (default {default})" if default else f"#   {key}: {help}"
                       for key, default, help in describe_schema())
    fmt = {"name": name, "title": title, "schema": schema}
    files = {
        folder / "assignment.yaml": render("new/assignment.yaml", **fmt),
        folder / "README.md": render("new/README.md", **fmt),
        folder / "tests" / "public" / f"test_{name}_public.py": render("new/test_public.py", **fmt),
        folder / "tests" / "hidden" / f"test_{name}_hidden.py": render("new/test_hidden.py", **fmt),
        ref_folder / f"{name}.py": render("new/reference.py", **fmt),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    built = build_templates(assignment=folder)
    return NewAssignment(name, list(files) + [Path(c.name) for c in built])
