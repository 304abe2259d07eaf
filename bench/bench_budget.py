"""Time per submission at the embedded budget: this checkout against an earlier revision, in one run.

Issue #19 asks that a budget raised so that textbook designs can learn costs at most 1.5x the time per
submission it cost before, per assignment (or that README says why more is worth it). This bench grades
each assignment's reference solution (public and hidden tests, embedded mode, one torch thread) with
this checkout's grader and with the grader of `--baseline` (a git revision, checked out into a temporary
worktree), alternating the two in every round so that machine noise hits them alike. Each grading is its
own `cli.py grade` process; wall time and the CPU seconds of the process and everything it forked are
reported (medians over rounds), with the ratio new / baseline.

    python bench/bench_budget.py --baseline 5b5a1db                 # all four assignments, 2 rounds
    python bench/bench_budget.py --baseline 5b5a1db --assignments gan --rounds 3
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ["ae_bottleneck", "conv1d_windowing", "hpo", "gan"]
KEY = "00" * 32   # one course key for both versions: the same hidden data


def reference(checkout: Path, assignment: str, dest: Path) -> Path:
    """The reference submission of `assignment` as `checkout`'s validate grades it (hpo's: a folder with its
    log and analysis), asked of that checkout's own engine."""
    code = ("import sys; from pathlib import Path; from grader.core.assignments import find_assignment, "
            "reference_submission as r; print(r(find_assignment(sys.argv[1]), None, Path(sys.argv[2])))")
    dest.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([sys.executable, "-c", code, assignment, str(dest)], cwd=checkout, check=True,
                         env=dict(os.environ, PYTHONPATH=str(checkout)), capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def grade_once(checkout: Path, assignment: str, out: Path, key_file: Path) -> tuple[float, float, float]:
    """(wall s, CPU s of the command and its children, score) of one `cli.py grade` in `checkout`."""
    submission = reference(checkout, assignment, out.parent / (out.name + "-sub"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(checkout / "cli.py"), "grade", assignment,
                           str(submission), "--single", "--out", str(out), "--key", str(key_file), "-j", "1",
                           "--quiet"], cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"grading {assignment} in {checkout} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    with open(out / "grades.csv", newline="") as f:
        score = float(next(csv.DictReader(f))["score"])
    return wall, cpu, score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with (e.g. the last landed commit)")
    parser.add_argument("--assignments", nargs="+", default=ASSIGNMENTS, choices=ASSIGNMENTS)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        tmp = Path(tmp)
        base = tmp / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.baseline],
                       check=True, capture_output=True)
        try:
            key_file = tmp / "course.key"
            key_file.write_text(KEY)
            key_file.chmod(0o600)
            print(f"load average before: {os.getloadavg()[0]:.1f}")
            print("| assignment | baseline wall s | new wall s | wall ratio | baseline CPU s | new CPU s | "
                  "CPU ratio | scores (baseline / new) |")
            print("|---|---:|---:|---:|---:|---:|---:|---|")
            for a in args.assignments:
                runs: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "new": []}
                for r in range(args.rounds):
                    for name, checkout in (("baseline", base), ("new", ROOT)):
                        runs[name].append(grade_once(checkout, a, tmp / f"out-{a}-{name}-{r}", key_file))
                med = {n: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for n, v in runs.items()}
                scores = {n: "/".join(f"{x[2]:g}" for x in v) for n, v in runs.items()}
                print(f"| {a} | {med['baseline'][0]:.1f} | {med['new'][0]:.1f} | {med['new'][0] / med['baseline'][0]:.2f}x "
                      f"| {med['baseline'][1]:.1f} | {med['new'][1]:.1f} | {med['new'][1] / med['baseline'][1]:.2f}x "
                      f"| {scores['baseline']} / {scores['new']} |", flush=True)
            print(f"load average after: {os.getloadavg()[0]:.1f}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
