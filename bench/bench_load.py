"""Grades do not depend on the machine's load: an example batch graded idle and beside CPU hogs.

Issue #19: call and test limits were wall-clock, so a batch graded beside other work (or with `-j` at
the machine's limit) could lose points its idle twin kept. This bench grades one assignment's
`examples/` batch (made whole by examples/materialise.py) twice with the same course key, `-j` = the
core count: first on an idle machine, then with `--hogs` CPU-bound processes (`while True: pass`)
running beside it. It prints each submission's score in both runs, the wall times and the load
averages, and exits 1 if any test's score differs between the two runs.

    python bench/bench_load.py ae_bottleneck                 # two hogs beside a -j 2 batch
    python bench/bench_load.py conv1d_windowing --hogs 2
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "11" * 32
MATERIALISED = runpy.run_path(str(ROOT / "examples" / "materialise.py"))["materialised"]


def grade(assignment: str, examples: Path, out: Path, key_file: Path, jobs: int) -> tuple[float, dict[str, dict[str, float]]]:
    """(wall s, {submission: {test nodeid: score}}) of one `cli.py grade` of the example batch."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "grade", assignment, str(examples),
                           "--out", str(out), "--key", str(key_file), "-j", str(jobs), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"grade failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    scores: dict[str, dict[str, float]] = {}
    for sub in out.iterdir():
        result = sub / "result.json"
        if result.is_file():
            data = json.loads(result.read_text())
            scores[sub.name] = {t["nodeid"]: t["score"] for t in data.get("tests", [])}
            scores[sub.name]["(status)"] = data.get("status")
    return wall, scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", choices=sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir()))
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside the loaded run (default 2)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp = Path(tmp)
        key_file = tmp / "course.key"
        key_file.write_text(KEY)
        key_file.chmod(0o600)
        examples = MATERIALISED(args.assignment, tmp / "examples")  # faults planted in the reference's code
        load_idle = os.getloadavg()[0]
        idle_wall, idle = grade(args.assignment, examples, tmp / "idle", key_file, args.jobs)
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
        try:
            time.sleep(2)
            load_busy = os.getloadavg()[0]
            busy_wall, busy = grade(args.assignment, examples, tmp / "busy", key_file, args.jobs)
            load_after = os.getloadavg()[0]
        finally:
            for h in hogs:
                h.kill()
                h.wait()
    print(f"{args.assignment}, -j {args.jobs}: idle {idle_wall:.0f} s (load {load_idle:.1f}); beside {args.hogs} CPU hogs "
          f"{busy_wall:.0f} s (load {load_busy:.1f} -> {load_after:.1f})")
    print("| submission | idle | loaded |\n|---|---:|---:|")
    differ = []
    for sid in sorted(set(idle) | set(busy)):
        a, b = idle.get(sid, {}), busy.get(sid, {})
        total = lambda s: sum(v for k, v in s.items() if isinstance(v, (int, float)) and not k.startswith("("))
        print(f"| {sid} | {total(a):g} | {total(b):g} |")
        differ += [f"{sid} {k}: {a.get(k)} idle, {b.get(k)} loaded" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if differ:
        print("DIFFERENT under load:\n  " + "\n  ".join(differ))
        return 1
    print("identical: every test of every submission scored the same idle and under load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
