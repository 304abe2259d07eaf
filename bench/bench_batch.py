"""Batch-grading throughput: submissions per minute with -j 1 and -j 2, the Ray backend against
the local one on the same machine, and the grader's peak memory.

The batch is generated into a temporary folder: copies of the `tiny` test assignment's reference
with renamed variables, wrong answers, the template, and hostile cases of tests/adversarial/
(objects that lie about their type, exits at import, unreadable notebooks, zips), plus a few
infinite loops that run into the 4 s call limit. Each configuration grades the whole batch into
a fresh output folder in its own process (so peak memory is per configuration), with the
integrity report and every output file included in the time.

    python bench/bench_batch.py                      # 200 submissions: -j 1, -j 2, ray with 2 CPUs; 3 rounds
    python bench/bench_batch.py --count 40 --rounds 1 --no-ray
    python bench/bench_batch.py --device cuda            # exits 2 where no GPU is available

CPU seconds include the zygotes and every process they forked (reaped before the count).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tiny_batch import CORPUS, TINY, make_batch  # noqa: E402

LOOP_EVERY = 50   # one submission in 50 loops forever (it costs a 4 s call limit)


def generate(folder: Path, count: int) -> dict[str, int]:
    ids = make_batch(folder, count=count)
    for i, sid in enumerate(ids):
        if i % LOOP_EVERY == LOOP_EVERY - 1:
            for old in folder.glob(f"{sid}.*"):
                old.unlink()
            shutil.copyfile(CORPUS / "infinite_loop.py", folder / f"{sid.split('_')[0]}_loop.py")
    kinds: dict[str, int] = {}
    for p in folder.iterdir():
        kind = p.stem.split("_", 1)[1]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def one_configuration(subs: Path, out: Path, jobs: int, backend: str, device: str = "cpu") -> dict:
    """Runs in its own process: grade the batch once, report time and peak memory."""
    from grader.commands.grade import grade_submissions
    extra = {}
    if device == "cuda":
        import torch
        extra["gpus"] = [str(i % torch.cuda.device_count()) for i in range(jobs)]  # one per concurrent worker
    if backend == "ray":
        import ray
        ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    else:
        extra["jobs"] = jobs
    load_before = os.getloadavg()[0]   # other work on the machine
    start = time.perf_counter()
    report = grade_submissions(assignment=TINY, submissions=[subs], out=out, backend=backend, **extra)
    seconds = time.perf_counter() - start
    if backend == "ray":
        import ray
        ray.shutdown()
    from grader.boundary import zygote
    zygote.close_shared()  # reaped now, so their CPU time (and their children's) counts below
    statuses: dict[str, int] = {}
    for r in report.results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"backend": backend, "jobs": jobs, "graded": len(report.results), "seconds": round(seconds, 1),
            "per_minute": round(60 * len(report.results) / seconds, 1), "statuses": statuses, "device": device,
            "flagged_pairs": len(report.integrity.flagged),
            # CPU seconds of this process and its children (Ray's workers are not its children)
            "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 1),
            "cpu_s_per_submission": round((me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime)
                                          / max(1, len(report.results)), 3),
            "load_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            # ru_maxrss is in kB on Linux: the grader process, and the largest of its child processes
            "peak_rss_mb": {"grader": round(me.ru_maxrss / 1024), "largest_child": round(kids.ru_maxrss / 1024)}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--jobs", default="1,2", help="comma-separated -j values for the local backend")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray backend")
    p.add_argument("--rounds", type=int, default=3, help="runs of every configuration; the median is reported")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: one GPU per concurrent worker (--gpus); exits 2 where there is none")
    p.add_argument("--one", nargs=5, metavar=("SUBS", "OUT", "JOBS", "BACKEND", "DEVICE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        subs, out, jobs, backend, device = args.one
        print(json.dumps(one_configuration(Path(subs), Path(out), int(jobs), backend, device)))
        return
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            print("--device cuda: no CUDA GPU is available to this process; nothing measured", file=sys.stderr)
            sys.exit(2)
    configs = [("local", int(j)) for j in args.jobs.split(",")]
    if not args.no_ray:
        configs.append(("ray", max(j for _, j in configs)))
    runs: dict[tuple, list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="dlgrade-bench-") as tmp:
        subs = Path(tmp) / "subs"
        kinds = generate(subs, args.count)
        print(f"{args.count} submissions: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), flush=True)
        for round_ in range(args.rounds):
            # each round in another order, so a slow spell of the machine does not hit one configuration only
            for backend, jobs in configs[round_ % len(configs):] + configs[:round_ % len(configs)]:
                out = Path(tmp) / f"out-{backend}-{jobs}-{round_}"
                done = subprocess.run([sys.executable, __file__, "--one", str(subs), str(out), str(jobs), backend,
                                       args.device],
                                      capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    sys.exit(f"{backend} -j {jobs} failed:\n{done.stderr[-3000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                runs[(backend, jobs)].append(row)
                print(json.dumps(row), flush=True)
                shutil.rmtree(out)
    # the median round of each configuration
    rows = [sorted(rs, key=lambda r: r["per_minute"])[len(rs) // 2] for rs in runs.values()]
    base = next(r for r in rows if r["backend"] == "local" and r["jobs"] == 1) if any(
        r["backend"] == "local" and r["jobs"] == 1 for r in rows) else rows[0]
    print(f"\n({args.device}; load average {os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} CPUs)")
    print("| backend | -j | submissions/min | speed-up vs -j 1 | wall time | CPU s per submission | peak RSS grader / largest child |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['jobs']} | {r['per_minute']:.1f} | {r['per_minute'] / base['per_minute']:.2f}× | "
              f"{r['seconds']:.0f} s | {r['cpu_s_per_submission']:.2f} | "
              f"{r['peak_rss_mb']['grader']} / {r['peak_rss_mb']['largest_child']} MB |")
    local = {r["jobs"]: r for r in rows if r["backend"] == "local"}
    for r in rows:
        if r["backend"] == "ray" and r["jobs"] in local:
            ratio = r["per_minute"] / local[r["jobs"]]["per_minute"]
            print(f"\nray / local at {r['jobs']} workers: {ratio:.2f}")


if __name__ == "__main__":
    main()
