"""Example submissions stored as what differs from the reference solution, made whole.

An example whose code is the reference's, unchanged (a forged log, a write-up in the wrong
language), keeps only its own files: `examples/hpo/hanna_60_trials/` holds `hpo_log.jsonl` and
`analysis.md`. Materialising copies the reference folder's top-level files (the code) and then the
example's own files over them, so the example always runs the current reference code and a planted
fault is visible as the only thing in its folder.

An example that is the reference's code with a fault planted in it is stored as the fault:
`examples/conv1d_windowing/bence_off_by_one.fault.py` holds a docstring (what is planted, which points
it should lose and why) and Python code. Its leading definitions replace the reference's top-level
definitions of the same names, in place (a replacement without a docstring keeps the reference's; a
class replaces only the methods it defines). A replacement that changes a few lines of a long definition
shows only those: a line `...` stands for the reference's lines there, and each run of lines between two
`...` starts and ends with a line of the reference (its context, as in a diff) and takes the place of the
reference's lines from the one to the other. From its first statement that is not such a replacement
on (a helper, `class Model(Model)` wrapping the reference's class, `_honest = train` before a new
`train`), the rest is added after the reference's definitions, before its `if __name__ == "__main__":`
block, as a student appends code.
The docstring becomes an `# EXAMPLE SUBMISSION` comment under the reference's, so the whole file
(`bence_off_by_one.py`) reads like a student's file with the fault in place.

A loose file that is no fault (a notebook written from scratch) is an example as it is, unless the
folder's examples are folders: there a loose file is a tool (`examples/hpo/make_rerun_attacks.py`).

    python examples/materialise.py hpo /tmp/hpo-examples      # every example of hpo, whole
    python cli.py grade hpo /tmp/hpo-examples --out graded/
"""
from __future__ import annotations

import argparse
import ast
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAULT = ".fault.py"


def materialise_one(assignment: str, example: Path, dest: Path) -> Path:
    """`dest/<example name>/`: the reference's top-level files, then the example's own on top."""
    out = dest / example.name
    out.mkdir(parents=True, exist_ok=True)
    reference = REPO / "reference_solutions" / assignment
    for f in sorted(reference.iterdir()):
        if f.is_file() and not (example / f.name).exists():
            shutil.copy2(f, out / f.name)
    shutil.copytree(example, out, dirs_exist_ok=True)
    return out


def _lines(source: str, first: int, last: int) -> list[str]:
    """Lines first..last (1-based, inclusive) of source, with their line ends."""
    return source.splitlines(keepends=True)[first - 1:last]


def _start(node: ast.stmt) -> int:
    """A definition's first line, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _end(lines: list[str], node: ast.stmt) -> int:
    """A definition's last line, with the indented comments that close its body (`# END SOLUTION`)."""
    end = node.end_lineno
    while end < len(lines) and lines[end][:1].isspace() and lines[end].lstrip().startswith("#"):
        end += 1
    return end


def _definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _wraps_itself(node: ast.stmt) -> bool:
    """`class Model(Model)` extends the reference's class of that name: it cannot stand in its place."""
    return isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == node.name for b in node.bases)


def _docstring_node(node: ast.stmt) -> ast.Expr | None:
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first
    return None


def _merged_class(fault_src: str, node: ast.ClassDef, ref_src: str, ref_node: ast.ClassDef) -> list[str]:
    """The reference's class with the fault class's methods in place of its own of the same names (a
    method it does not have goes at the end), so a fault shows only the methods it changes."""
    ref_lines = ref_src.splitlines(keepends=True)
    text = ref_lines[_start(ref_node) - 1:_end(ref_lines, ref_node)]
    ref_methods = {m.name: m for m in ref_node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
    edits, new = [], []
    for member in node.body:
        if member is _docstring_node(node):
            continue
        if not isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise ValueError(f"class {node.name} of a fault holds only methods (line {member.lineno})")
        method = _replacement(fault_src, member, ref_src, ref_methods[member.name]) if member.name in ref_methods \
            else _lines(fault_src, _start(member), member.end_lineno)
        if member.name in ref_methods:
            ref_m = ref_methods[member.name]
            edits.append((_start(ref_m) - _start(ref_node), _end(ref_lines, ref_m) - _start(ref_node) + 1, method))
        else:
            new += ["\n"] + method
    for first, stop, method in sorted(edits, key=lambda e: e[0], reverse=True):
        text[first:stop] = method
    return text + new


def _gap_lines(node: ast.stmt) -> set[int]:
    """Lines (1-based) of the `...` statements in a definition's body: the reference's lines stand there."""
    return {n.lineno for n in ast.walk(node) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
            and n.value.value is Ellipsis}


def _patched(text: list[str], first_line: int, gaps: set[int], ref_text: list[str], name: str) -> list[str]:
    """The reference's definition (ref_text) with the fault's runs of lines (text, whose first line is
    first_line of the fault file, split at the `...` lines in gaps) in place of the reference lines from each
    run's first line to its last; the reference's lines at each `...` stay."""
    runs: list[list[str]] = [[]]
    for number, line in enumerate(text, start=first_line):
        if number in gaps:
            runs.append([])
        else:
            runs[-1].append(line)
    ref = [line.rstrip() for line in ref_text]

    def find(line: str, start: int) -> int:
        if line.strip() and line.rstrip() in ref[start:]:
            return ref.index(line.rstrip(), start)
        raise ValueError(f"{name}: {line.strip()!r} next to a `...` is no line of the reference's {name} "
                         f"(after its line {start}): a run of changed lines starts and ends with one")

    out, at = [], 0
    for i, run in enumerate(runs):
        if not run:
            continue
        begin = 0 if i == 0 else find(run[0], at)
        if i == 0 and run[0].rstrip() != ref[0]:
            raise ValueError(f"{name}: a definition with `...` starts with the reference's first line {ref[0]!r}")
        stop = len(ref) if i == len(runs) - 1 else find(run[-1], begin + (len(run) > 1)) + 1
        out += ref_text[at:begin] + run
        at = stop
    return out + ref_text[at:]


def _replacement(fault_src: str, node: ast.stmt, ref_src: str, ref_node: ast.stmt) -> list[str]:
    """The fault's definition as it will stand in the file, with the reference's docstring if it has none."""
    if isinstance(node, ast.ClassDef) and isinstance(ref_node, ast.ClassDef):
        return _merged_class(fault_src, node, ref_src, ref_node)
    text = _lines(fault_src, _start(node), node.end_lineno)
    gaps = _gap_lines(node)
    if gaps:  # the run after the last `...` keeps its closing comments (`# END SOLUTION`) as the reference's
        ref_lines, fault_lines = ref_src.splitlines(keepends=True), fault_src.splitlines(keepends=True)
        text = fault_lines[_start(node) - 1:_end(fault_lines, node)]
        return _patched(text, _start(node), gaps, ref_lines[_start(ref_node) - 1:_end(ref_lines, ref_node)],
                        getattr(node, "name", "?"))
    ref_doc = _docstring_node(ref_node)
    if _docstring_node(node) is not None or ref_doc is None:
        return text
    body_line = node.body[0].lineno - _start(node)
    indent = text[body_line][:len(text[body_line]) - len(text[body_line].lstrip())]
    doc = textwrap.indent(textwrap.dedent("".join(_lines(ref_src, ref_doc.lineno, ref_doc.end_lineno))), indent)
    return text[:body_line] + doc.splitlines(keepends=True) + text[body_line:]


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)


def plant(assignment: str, fault_src: str, ref_src: str) -> tuple[str, list[str], bool]:
    """(the whole file, the reference definitions it replaces, whether it adds code) for one fault."""
    fault, ref = ast.parse(fault_src), ast.parse(ref_src)
    doc = ast.get_docstring(fault, clean=True)
    if not doc or not isinstance(fault.body[0], ast.Expr):
        raise ValueError("a fault file starts with a docstring: what is planted and which points it should lose")
    ref_defs = _definitions(ref)
    body = fault.body[1:]
    replaced: dict[str, list[str]] = {}
    while body and getattr(body[0], "name", None) in ref_defs and not _wraps_itself(body[0]) \
            and body[0].name not in replaced:
        node = body.pop(0)
        replaced[node.name] = _replacement(fault_src, node, ref_src, ref_defs[node.name])
    added = _lines(fault_src, _start(body[0]), len(fault_src.splitlines())) if body else []
    if body:  # comments just above the first added statement belong to it
        first = _start(body[0]) - 1
        src_lines = fault_src.splitlines(keepends=True)
        while first > fault.body[0].end_lineno and src_lines[first - 1].lstrip().startswith("#"):
            first -= 1
            added.insert(0, src_lines[first])

    lines = ref_src.splitlines(keepends=True)
    edits = [(_start(ref_defs[name]), _end(lines, ref_defs[name]), text) for name, text in replaced.items()]
    guard = next((n for n in ref.body if _is_main_guard(n)), None)
    if added:  # before the main guard (and the comments above it), or at the end
        at = _start(guard) if guard else len(lines) + 1
        while guard and at > 1 and lines[at - 2].lstrip().startswith("#"):
            at -= 1
        edits.append((at, at - 1, ["".join(added).rstrip("\n") + "\n\n\n"]))
    header = ref.body[0].end_lineno if isinstance(ref.body[0], ast.Expr) else 0
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
    comment = "\n#\n".join(textwrap.fill(p, 100, initial_indent=f"# EXAMPLE SUBMISSION ({assignment}): " if i == 0
                                         else "#   ", subsequent_indent="#   ", break_on_hyphens=False)
                           for i, p in enumerate(paragraphs))
    edits.append((header + 1, header, [comment + "\n\n"]))
    for first, last, text in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[first - 1:last] = text
    return "".join(lines), list(replaced), bool(added)


def materialise_fault(assignment: str, fault: Path, dest: Path) -> Path:
    """`dest/<name>.py`: the reference's code file with the fault of `<name>.fault.py` planted in it."""
    references = sorted((REPO / "reference_solutions" / assignment).glob("*.py"))
    if len(references) != 1:
        raise ValueError(f"{assignment}: a fault needs exactly one reference code file, found {len(references)}")
    whole, _, _ = plant(assignment, fault.read_text(encoding="utf-8"), references[0].read_text(encoding="utf-8"))
    out = dest / (fault.name[:-len(FAULT)] + ".py")
    dest.mkdir(parents=True, exist_ok=True)
    out.write_text(whole, encoding="utf-8")
    return out


def example_name(path: Path) -> str:
    """The name an example goes by: its folder's, its file's, a fault's file without `.fault.py`."""
    return path.name[:-len(FAULT)] if path.name.endswith(FAULT) else path.name


def stored_examples(assignment: str) -> list[Path]:
    """Every example of `assignment` as stored: folders, faults, and loose files that are examples as they are."""
    entries = sorted(p for p in (REPO / "examples" / assignment).iterdir() if not p.name.startswith((".", "_")))
    folders = [p for p in entries if p.is_dir()]
    faults = [p for p in entries if p.name.endswith(FAULT)]
    loose = [] if folders else [p for p in entries if p.is_file() and p not in faults and p.suffix in (".py", ".ipynb")]
    return folders + faults + loose


def materialise(assignment: str, dest: Path, names: list[str] | None = None) -> dict[str, Path]:
    """{example name: its whole folder or file under dest} for the examples of `assignment` (or those named)."""
    chosen = stored_examples(assignment)
    if names:
        by_name = {example_name(p): p for p in chosen}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ValueError(f"no such example of {assignment}: {', '.join(missing)}")
        chosen = [by_name[n] for n in names]
    dest.mkdir(parents=True, exist_ok=True)
    whole = {}
    for p in chosen:
        if p.is_dir():
            whole[p.name] = materialise_one(assignment, p, dest)
        elif p.name.endswith(FAULT):
            whole[example_name(p)] = materialise_fault(assignment, p, dest)
        else:
            whole[p.name] = Path(shutil.copy2(p, dest / p.name))
    return whole


def materialised(assignment: str, dest: Path | None = None) -> Path:
    """The folder that holds every example of `assignment`, whole, ready for `cli.py grade`: dest, or a new
    temporary folder (the caller removes it)."""
    folder = dest if dest is not None else Path(tempfile.mkdtemp(prefix=f"examples-{assignment}-"))
    materialise(assignment, folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("assignment", help="assignment name, e.g. hpo or conv1d_windowing")
    p.add_argument("dest", type=Path, help="folder to write the whole examples into")
    p.add_argument("names", nargs="*", help="only these examples (default: every example)")
    args = p.parse_args(argv)
    for name, path in materialise(args.assignment, args.dest, args.names or None).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
