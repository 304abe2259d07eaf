"""The layout keeps the trust boundary (ARCHITECTURE.md): each room of grader/ imports only the rooms
it may, the worker's code reaches nothing of the trusted side, nothing but the CLI imports a command
module, student code imports only the student package, and the worker's filesystem shows the
boundary package and the student package and nothing else of the engine."""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.boundary import mount_view, rungs

REPO = Path(__file__).resolve().parent.parent
ENGINE = REPO / "grader"
# the student package the worker mounts: a top-level package such as "dlcourse" (or "grader.student")
STUDENT = ".".join(mount_view.STUDENT_PACKAGE_DIR.relative_to(ENGINE.parent).parts)

# room -> what it may import besides itself and the top package `grader` (which holds only the version).
# An entry "room.module" allows that one module. Keep ARCHITECTURE.md's table the same.
MAY_IMPORT = {
    "core": set(),
    "student": set(),
    "boundary": {"core"},
    "intake": {"core", "boundary.inside"},  # the filter writes calls to the worker's stand-ins
    "authoring": {"core", "boundary.client", "intake.notebooks"},  # the door re-exports RemoteObject, read_notebook
    "trusted": {"core", "intake", "boundary", "authoring"},
    "grading": {"core", "intake", "boundary", "trusted"},
    "records": {"core"},
    "integrity": {"core", "intake"},  # reads submissions as grading does; produces data, renders nothing
    "reports": {"core", "intake", "boundary.sandbox", "records", "integrity"},  # the isolation's wording
    "scaffold": {"core", "trusted", "boundary.client"},  # environment: a worker tries the spec's imports
    "review": {"core", "intake", "records", "reports", "integrity"},  # reads a grading folder, writes its decisions
    "commands": {"core", "intake", "boundary", "trusted", "authoring", "grading", "records", "reports", "integrity",
                 "scaffold", "student", "review"},  # `review` serves the review app
}
# where the worker's own code starts (cold: the boot; forked: the zygote child's entry): what these
# import, transitively, is all the worker may need
WORKER_ENTRIES = ("grader.boundary.inside.worker", "grader.boundary.inside.stand_ins", "grader.boundary.inside.boot",
                  "grader.boundary.inside.worker_fork")
# a newcomer reads a module in one sitting and a function on one screen (issue #23 item 7)
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ENGINE.rglob("*.py") if "__pycache__" not in p.parts}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (lazy imports in functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path) if path.is_relative_to(REPO) else ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:  # `from grader.boundary import client` imports grader.boundary.client
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return out


def test_every_module_lives_in_a_room_with_an_import_rule():
    rooms = {p.parent.name for p in ENGINE.glob("*/__init__.py")}
    assert rooms <= set(MAY_IMPORT), f"rooms without an import rule (add them here and to ARCHITECTURE.md): " \
                                     f"{sorted(rooms - set(MAY_IMPORT))}"
    loose = sorted(p.name for p in ENGINE.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "cli.py"))
    assert not loose, f"modules outside any room: {loose}"
    for room in rooms:
        doc = ast.get_docstring(ast.parse((ENGINE / room / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "may import" in doc.lower(), f"grader/{room}/__init__.py must say what it may import and who runs it"


def test_each_room_imports_only_the_rooms_it_may():
    modules = MODULES
    wrong = []
    for name, path in sorted(modules.items()):
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in MAY_IMPORT:
            continue
        room = parts[1]
        for target in sorted(_imports(path)):
            t = target.split(".")
            if t[0] != "grader" or len(t) < 2:
                continue  # not the engine, or the top package (its version)
            if t[1] == room or t[1] in MAY_IMPORT[room] or ".".join(t[1:3]) in MAY_IMPORT[room]:
                continue
            wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against ARCHITECTURE.md's rules:\n" + "\n".join(wrong)


def test_the_worker_reaches_only_the_boundary_and_the_student_package():
    modules = MODULES
    seen, todo = set(), list(WORKER_ENTRIES)
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        todo += [t for t in _imports(modules[name]) if t.startswith("grader.")]
    # the packages above the worker-side folder (their __init__ only), the folder, the student package
    outside = sorted(m for m in seen if m not in ("grader", "grader.boundary") and not any(
        m == a or m.startswith(a + ".") for a in ("grader.boundary.inside", STUDENT)))
    assert not outside, f"the worker would import engine modules its sandbox does not show: {outside}"
    assert not [t for t in _imports(modules["grader.boundary.inside.mountns"]) if t.startswith("grader")], \
        "mountns runs as a script before the view exists: standard library only"
    boot_needs = {t for t in _imports(modules["grader.boundary.inside.boot"]) if t.startswith("grader")}
    assert boot_needs <= {"grader.boundary.inside.mountns", "grader.boundary.inside.worker"}, \
        f"the boot runs before the worker imports anything: standard library, the drop and the worker only ({boot_needs})"


def _room_import_graph(room: str) -> dict[str, set[str]]:
    inside = {n: p for n, p in MODULES.items() if n.startswith(f"grader.{room}.")}
    return {n: {t for t in _imports(p) if t in inside and t != n} for n, p in inside.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (its strongly connected parts of more than one module)."""
    order, low, stack, found = {}, {}, [], []

    def visit(v):
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            part = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(part) > 1:
                found.append(sorted(part))
    for v in sorted(graph):
        if v not in order:
            visit(v)
    return found


@pytest.mark.parametrize("room", sorted(MAY_IMPORT.keys() - {"student"}))
def test_a_room_has_no_import_cycle(room):
    """Lazy imports count: a cycle hidden in a function is still two modules that need each other
    (the trusted plugin and `@prepared` meet at the run file's own module instead)."""
    assert not _cycles(_room_import_graph(room)), _cycles(_room_import_graph(room))


def test_a_cycle_is_found_where_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _engine_import_graph() -> dict[str, set[str]]:
    """Every engine module -> the engine modules it imports, lazy imports included, and the packages
    above each (from outside, importing grader.authoring.checks runs the door grader/authoring/__init__.py
    first)."""
    graph = {}
    for name, path in MODULES.items():
        targets = set()
        for t in _imports(path):
            parts = t.split(".")
            targets |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & MODULES.keys()
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = targets - {name} - own_packages  # a package's own modules run inside its import
    return graph


def test_the_engine_has_no_import_cycle():
    """No two modules of grader/ need each other, across rooms too (a room-to-room cycle would let a
    fix in one side's start-up silently depend on the other's)."""
    assert not _cycles(_engine_import_graph()), _cycles(_engine_import_graph())


def test_modules_and_functions_stay_small():
    """Issue #23 item 7: a newcomer reads a module in one sitting and a function on one screen."""
    too_big = []
    for name, path in sorted(MODULES.items()):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{name}: {len(text.splitlines())} lines")
        too_big += [f"{name}.{f.name}: {f.end_lineno - f.lineno + 1} lines" for f in ast.walk(ast.parse(text))
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES]
    assert not too_big, f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function: {too_big}"


def test_nothing_but_the_cli_imports_a_command_module():
    # the CLI is grader/cli.py (the parser and dispatch) and the verbs it declares in grader/commands/
    users = [p for p in ENGINE.rglob("*.py") if "commands" not in p.relative_to(ENGINE).parts[:1]
             and p != ENGINE / "cli.py"]
    users += list((REPO / "assignments").rglob("*.py"))
    wrong = [f"{p.relative_to(REPO)} imports {t}" for p in users for t in sorted(_imports(p))
             if t == "grader.commands" or t.startswith("grader.commands.")]
    assert not wrong, "\n".join(wrong)


def _student_sources():
    for folder in ("reference_solutions", "templates"):
        for p in sorted((REPO / folder).rglob("*.py")):
            yield p, p.read_text(encoding="utf-8")
        for p in sorted((REPO / folder).rglob("*.ipynb")):  # the cells the worker runs
            cells = json.loads(p.read_text(encoding="utf-8"))["cells"]
            yield p, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"
                               and "skip-grading" not in c.get("metadata", {}).get("tags", []))


def test_student_code_imports_only_the_student_package():
    engine_tops = {"grader", STUDENT.split(".")[0]}
    wrong = []
    for path, source in _student_sources():
        for node in ast.walk(ast.parse(source)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for n in names:
                if n.split(".")[0] in engine_tops and not (n == STUDENT or n.startswith(STUDENT + ".")):
                    wrong.append(f"{path.relative_to(REPO)} imports {n}")
    assert not wrong, "student code may import only " + STUDENT + ":\n" + "\n".join(wrong)


def test_the_student_package_imports_nothing_of_the_engine():
    folder = REPO.joinpath(*STUDENT.split("."))
    wrong = [f"{p.relative_to(REPO)} imports {t}" for p in sorted(folder.rglob("*.py")) for t in sorted(_imports(p))
             if (t == "grader" or t.startswith("grader.")) and not (t == STUDENT or t.startswith(STUDENT + "."))]
    assert not wrong, "\n".join(wrong)


def _engine_paths_shown(paths) -> set[str]:
    root = ENGINE.parent
    return {str(Path(p).relative_to(root)) for p in paths if Path(p).is_relative_to(root) and
            not any(Path(p).is_relative_to(r) for r in mount_view.python_roots())}


def test_the_worker_mounts_the_boundary_and_the_student_package_only(tmp_path):
    expected = {"grader/__init__.py", "grader/boundary/__init__.py", "grader/boundary/inside", STUDENT.replace(".", "/")}
    view = mount_view.mount_view(tmp_path, gpu=False)
    args = view.bwrap_args()
    binds = [args[i + 2] for i, a in enumerate(args) if a in ("--ro-bind", "--bind")]
    assert _engine_paths_shown(binds) == expected
    argv = rungs.namespace_prefix("/usr/bin/unshare", view)   # what mountns is given on rung (b)
    view = json.loads(argv[argv.index("--") + 4])
    assert _engine_paths_shown(view["ro"] + view["ro_files"]) == expected


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
def test_inside_the_sandbox_the_trusted_side_is_not_there(tmp_path):
    tmp_path.chmod(0o755)
    probe = (f"import sys, os; sys.path.insert(0, {str(ENGINE.parent)!r}); import grader.boundary.inside.worker\n"
             f"import {STUDENT}\n"
             f"print(sorted(os.listdir({str(ENGINE)!r})))\nprint(sorted(os.listdir({str(ENGINE / 'boundary')!r})))\n"
             "for trusted in ('grader.trusted.plugin', 'grader.boundary.client'):\n"
             "    try:\n        __import__(trusted)\n    except ImportError:\n        print('hidden')\n")
    run = subprocess.run(["bwrap", *mount_view.mount_view(tmp_path, gpu=False).bwrap_args(), "--", sys.executable, "-I", "-c",
                          probe], capture_output=True, text=True, timeout=60)
    if run.returncode and "bwrap" in run.stderr[:200]:
        pytest.skip(f"bubblewrap cannot start here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr
    engine, boundary, *verdicts = [ast.literal_eval(line) if line.startswith("[") else line
                                   for line in run.stdout.strip().splitlines()]
    shown = {"__init__.py", "boundary"} | ({STUDENT.split(".")[1]} if STUDENT.startswith("grader.") else set())
    assert set(engine) - {"__pycache__"} == shown and verdicts == ["hidden", "hidden"]
    assert set(boundary) - {"__pycache__"} == {"__init__.py", "inside"}, "the worker sees the trusted side's files"


# --- the test-author API has one door (issue #23 item 5) ----------------------------------------------------
DOOR = "grader.authoring"
WRITING_TESTS = REPO / "docs" / "writing-tests.md"


def _assignment_sources():
    """Every file an assignment's tests are made of: assignments/**/*.py and the scaffold's templates."""
    for p in sorted((REPO / "assignments").rglob("*.py")):
        yield p, p.read_text(encoding="utf-8")
    for p in sorted((ENGINE / "scaffold" / "files").rglob("*.tmpl")):
        yield p, p.read_text(encoding="utf-8")


def _engine_uses(path: Path, text: str) -> list[tuple[str, str | None]]:
    """(module, name) for each use of the engine in `text`: `from M import name` gives (M, name), `import M`
    gives (M, None), and `alias.name` after `import grader.authoring as alias` gives (grader.authoring, name).
    Files that are not Python (a shell script, a README) are searched for import statements line by line."""
    if not path.name.endswith((".py", ".py.tmpl")):
        found = re.findall(r"^\s*(?:from\s+(grader[\w.]*)\s+import|import\s+(grader[\w.]*))", text, re.M)
        return [(a or b, None) for a, b in found]
    tree = ast.parse(re.sub(r"\$\{?(\w+)\}?", r"\1", text))  # a template's $placeholders become names
    uses, aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "grader":
            for a in node.names:
                module = f"{node.module}.{a.name}" if node.module == "grader" else node.module
                uses.append((module, None) if node.module == "grader" else (module, a.name))
                if module == DOOR:
                    aliases.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "grader":
                    uses.append((a.name, None))
                    if a.name == DOOR and a.asname:
                        aliases.add(a.asname)
    uses += [(DOOR, n.attr) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
             and n.value.id in aliases]
    return uses


def test_assignments_import_only_the_authoring_door():
    import grader.authoring as door
    wrong = []
    for path, text in _assignment_sources():
        for module, name in _engine_uses(path, text):
            if module != DOOR:
                wrong.append(f"{path.relative_to(REPO)} imports {module} (use `from {DOOR} import ...`)")
            elif name is not None and name not in door.__all__:
                wrong.append(f"{path.relative_to(REPO)} takes {name!r} from {DOOR}, which does not export it (__all__)")
    assert not wrong, "assignments reach the engine only through its door:\n" + "\n".join(wrong)


def _documented_names(doc: str) -> list[str]:
    """The names in the tables of writing-tests.md's section on the door: each row starts with `name`."""
    section = doc.split(f"## The door: `{DOOR}`", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)`", section, re.M)


def test_the_door_exports_what_writing_tests_documents():
    import grader.authoring as door
    missing = [n for n in door.__all__ if not hasattr(door, n)]
    assert not missing, f"{DOOR}.__all__ names what it does not have: {missing}"
    assert len(set(door.__all__)) == len(door.__all__), "a name twice in __all__"
    doc = WRITING_TESTS.read_text(encoding="utf-8")
    documented = _documented_names(doc)
    assert sorted(documented) == sorted(door.__all__), (
        f"docs/writing-tests.md and {DOOR}.__all__ differ: not documented {sorted(set(door.__all__) - set(documented))}, "
        f"documented but not exported {sorted(set(documented) - set(door.__all__))}")
    other = sorted({m for m in re.findall(r"\bgrader(?:\.\w+)+", doc) if m != DOOR})
    assert not other, f"docs/writing-tests.md shows engine modules other than the door: {other}"
