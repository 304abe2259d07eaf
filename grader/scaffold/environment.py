"""The grading environment's packages (the spec's `environment`): their import names, the release
bundle's requirements, and a check that each one imports inside a real worker.

One list, three uses: the toolkit installs the packages (pyproject.toml), `validate` checks that a
worker of this machine imports them, and `release` writes them into the bundle's requirements with
the version ranges the toolkit declares, so a notebook that runs at home imports the same packages
when it is graded. The reference solution's own imports must all be declared there.
"""
from __future__ import annotations

import ast
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path

# pip names whose import name differs and cannot be guessed from the pip name
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "pillow": "PIL", "opencv-python": "cv2",
                "opencv-python-headless": "cv2", "beautifulsoup4": "bs4", "scikit-image": "skimage"}
# always there: the framework, the course package, the engine (torch's version is pinned apart)
BUILT_IN = {"torch", "dlcourse", "grader", "__future__"}
# the CPU build of PyTorch; without it pip on Linux installs the CUDA build (several GB)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pip_name(entry: str) -> str:
    return entry.split(":", 1)[0].strip()


def module_name(entry: str) -> str:
    """The import name of an `environment` entry: `name:module`, a well-known one, or the pip name."""
    if ":" in entry:
        return entry.split(":", 1)[1].strip()
    name = pip_name(entry)
    return IMPORT_NAMES.get(name.lower(), name.replace("-", "_"))


def imported_packages(source: str) -> set[str]:
    """Top-level names of every non-standard-library module a source file imports (anywhere in it)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in BUILT_IN}


def undeclared_imports(spec, reference: Path) -> list[str]:
    """Packages the reference solution imports that `environment.packages` does not declare."""
    declared = {module_name(e) for e in spec.environment.packages + spec.environment.optional}
    return sorted(imported_packages(reference.read_text(encoding="utf-8")) - declared)


def declared_versions() -> dict[str, str]:
    """{pip name (lower case): version specifier} from the toolkit's own declared dependencies."""
    try:
        requires = metadata.requires("dlgrade") or []
    except metadata.PackageNotFoundError:
        return {}
    out = {}
    for req in requires:
        if "extra ==" in req:
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req.split(";")[0].strip())
        if m:
            out[m.group(1).lower()] = m.group(2).strip()
    return out


def requirement(name: str, versions: dict[str, str]) -> str:
    return name + versions.get(name.lower(), "")


def requirements_text(spec) -> str:
    """The release bundle's requirements.txt: PyTorch (CPU build by default), the grading
    environment's packages, what the checker needs, and the bundle itself (editable)."""
    versions = declared_versions()
    env = [requirement(pip_name(e), versions) for e in spec.environment.packages]
    checker = [requirement(n, versions) for n in ("pytest", "nbformat", "nbconvert", "pyyaml", "rich")]
    optional = [pip_name(e) for e in spec.environment.optional]
    lines = [
        f"# {spec.name}: everything its notebook and its checks need. In this folder: pip install -r requirements.txt",
        "# (Python 3.10 or newer; a virtual environment is best). Colab keeps the torch it has.",
        "#",
        "# PyTorch's CPU build, from PyTorch's own index: without this line pip on Linux installs the CUDA",
        "# build (several GB). With an NVIDIA GPU, delete the line to get the CUDA build instead.",
        f"--extra-index-url {TORCH_CPU_INDEX}",
        requirement("torch", versions),
        "# the grading environment: the worker that grades your code has these (assignment.yaml: environment)",
        *env,
        "# the checker, and a kernel to run the notebook in Jupyter",
        *checker,
        "ipykernel",
    ]
    if optional:
        lines += ["# optional; graded code must not need them: " + ", ".join(optional)
                  + " (torchvision must be the build that matches torch)"]
    lines += ["# this folder: the course package dlcourse and the checker, editable so that `check` finds the tests here",
              "-e ."]
    return "\n".join(lines) + "\n"


PROBE = '''
import importlib


def importable(names):
    """{name: None if it imports, else the error's type and message}."""
    out = {}
    for name in names:
        try:
            importlib.import_module(name)
            out[name] = None
        except BaseException as e:  # noqa: BLE001 - a broken install may raise anything
            out[name] = f"{type(e).__name__}: {e}"[:300]
    return out
'''


def missing_in_worker(spec, *, isolation=None) -> dict[str, str]:
    """{import name: error} for each of `environment.packages` that a worker on this machine (the
    spec's limits, the probed rung) cannot import; empty when all of them import."""
    from grader.boundary.client import WorkerSession

    names = [module_name(e) for e in spec.environment.packages]
    with tempfile.TemporaryDirectory(prefix="dlgrade-env-") as tmp:
        Path(tmp).chmod(0o711)  # a rung (c) worker's uid passes through to its own copy, and lists nothing
        pristine = Path(tmp) / "probe"
        pristine.mkdir()
        (pristine / "probe.py").write_text(PROBE, encoding="utf-8")
        with WorkerSession(pristine, spec.limits, module_file="probe.py", isolation=isolation,
                           scratch=Path(tmp) / "workers") as session:
            session.start()
            result = session.module.importable(names)
    return {name: error for name, error in dict(result).items() if error}
