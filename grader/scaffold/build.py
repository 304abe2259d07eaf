"""`build`: regenerate the student templates from the reference solutions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.core.assignments import all_assignments, find_assignment, reference_file, template_dir
from grader.core.atomic_files import write_atomic
from grader.core.spec import Spec
from grader.scaffold.templates import render_templates


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def expected_templates(spec: Spec) -> dict[Path, str]:
    """{path: content} that `build` would write for one assignment."""
    readme = (spec.path / "README.md").read_text(encoding="utf-8") if (spec.path / "README.md").exists() else ""
    files = render_templates(reference_file(spec), assignment=spec.name, title=spec.title, task_markdown=readme)
    folder = template_dir(spec)
    return {folder / name: content for name, content in files.items()}


def build_templates(*, assignment: str | Path | None = None, check_only: bool = False) -> list[Check]:
    """Write (or, with check_only, compare) the templates of one assignment or of all of them.

    Returns one Check per file: ok when it was written, or is up to date in check_only mode."""
    specs = [find_assignment(assignment)] if assignment else all_assignments()
    checks = []
    for spec in specs:
        for path, content in expected_templates(spec).items():
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if check_only:
                ok = current == content
                checks.append(Check(str(path.relative_to(spec.path.parent.parent)), ok,
                                    "up to date" if ok else "out of date: run `dlgrade build " + spec.name + "`"))
            else:
                if current != content:
                    write_atomic(path, content)
                checks.append(Check(str(path.relative_to(spec.path.parent.parent)), True,
                                    "written" if current != content else "unchanged"))
    return checks
