"""`gradescope`: a Gradescope autograder zip that runs this grader inside Gradescope's container.

Gradescope unpacks the zip into `/autograder/source`, runs `setup.sh` once when it builds the
image, and `run_autograder` for every submission. The zip holds:
- `setup.sh`: installs bubblewrap (isolation of student code), CPU PyTorch and the toolkit;
- `run_autograder`: `grade --single` of `/autograder/submission` (the student's files as one
  submission) with public and hidden tests, then the Gradescope `results.json` copied to
  `/autograder/results/results.json`; if grading itself fails, a zero-score result that says so;
- the toolkit (engine, the course package `dlcourse`, `cli.py`, `pyproject.toml`) and this one assignment under
  `assignments/<name>/`, hidden tests included. No reference solution, no other assignment;
- `course.key`, the secret hidden data derives from (grader.trusted.course_key): the one given with
  `key`, or a new one. Like the hidden tests, it is readable only by the grader.
"""
from __future__ import annotations

import shlex
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from grader.core.assignments import TOOLKIT_ROOT, find_assignment
from grader.trusted.course_key import load_or_create, new_key
from grader.scaffold.environment import declared_versions, pip_name, requirement
from grader.core.errors import ToolkitError
from grader.scaffold.generated import render

@dataclass
class GradescopeBundle:
    """The autograder zip and what is in it."""
    archive: Path
    files: list[str]            # paths inside the zip


def _torch_requirement() -> str:
    """The torch version grading was developed with (local build tags dropped), or plain `torch`."""
    try:
        return "torch==" + metadata.version("torch").split("+")[0]
    except metadata.PackageNotFoundError:
        return "torch"


def gradescope_autograder(*, assignment: str | Path, out: Path, mode: str | None = None,
                          key: Path | None = None) -> GradescopeBundle:
    """Write `out/<name>_gradescope.zip`; `key` is a course key file to reuse (default: a new key).
    Raises ToolkitError for an unknown assignment or mode."""
    spec = find_assignment(assignment)
    spec.mode(mode)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{spec.name}_gradescope.zip"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory(prefix="dlgrade-gradescope-") as tmp:
        root = Path(tmp)
        for package in ("grader", "dlcourse"):  # the engine and the course package submissions import
            shutil.copytree(TOOLKIT_ROOT / package, root / package, ignore=ignore)
        for name in ("cli.py", "pyproject.toml", "README.md"):
            shutil.copy2(TOOLKIT_ROOT / name, root / name)
        shutil.copytree(spec.path, root / "assignments" / spec.name, ignore=ignore)
        key_file = root / "course.key"
        key_file.write_text((load_or_create(key) if key else new_key()).hex() + "\n")
        key_file.chmod(0o600)  # the zip keeps the mode: a worker uid on rung (c) must not read it
        versions = declared_versions()
        environment = " ".join(shlex.quote(requirement(pip_name(e), versions)) for e in spec.environment.packages)
        (root / "setup.sh").write_text(render("gradescope/setup.sh", torch=_torch_requirement(), environment=environment))
        (root / "run_autograder").write_text(render("gradescope/run_autograder",
            name=spec.name, mode_args=f"--mode {shlex.quote(mode)}" if mode else ""))
        leaked = [p for p in root.rglob("*") if "reference_solutions" in p.parts]
        if leaked:
            raise ToolkitError(f"refusing to write the autograder: {leaked[0]} would leak")
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        tmp_archive = archive.with_name(f".{archive.name}.tmp")
        with zipfile.ZipFile(tmp_archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in files:
                info = zipfile.ZipInfo.from_file(root / rel, rel)
                if rel in ("setup.sh", "run_autograder"):
                    info.external_attr = (stat.S_IFREG | 0o755) << 16
                with open(root / rel, "rb") as f:
                    zf.writestr(info, f.read(), zipfile.ZIP_DEFLATED)
        tmp_archive.replace(archive)
    return GradescopeBundle(archive, files)
