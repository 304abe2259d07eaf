"""Example submissions stored as what differs from the reference solution, made whole.

An example whose code is the reference's, unchanged (a forged log, a write-up in the wrong
language), keeps only its own files: `examples/hpo/hanna_60_trials/` holds `hpo_log.jsonl` and
`analysis.md`. Materialising copies the reference folder's top-level files (the code) and then the
example's own files over them, so the example always runs the current reference code and a planted
fault is visible as the only thing in its folder.

    python examples/materialise.py hpo /tmp/hpo-examples      # every example of hpo, whole
    python cli.py grade hpo /tmp/hpo-examples --out graded/
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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


def materialise(assignment: str, dest: Path, names: list[str] | None = None) -> dict[str, Path]:
    """{example name: its whole folder under dest} for the folder examples of `assignment`."""
    examples = REPO / "examples" / assignment
    chosen = [examples / n for n in names] if names else sorted(p for p in examples.iterdir() if p.is_dir())
    return {p.name: materialise_one(assignment, p, dest) for p in chosen}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("assignment", help="assignment name, e.g. hpo")
    p.add_argument("dest", type=Path, help="folder to write the whole examples into (one folder each)")
    p.add_argument("names", nargs="*", help="only these examples (default: every folder example)")
    args = p.parse_args(argv)
    for name, path in materialise(args.assignment, args.dest, args.names or None).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
