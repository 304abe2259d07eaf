"""What a fresh worker costs: from asking for one to its first reply (the submission imported), on
this machine's rung, forked by the worker zygote and started cold.

Each start copies the pristine submission, starts the worker in its sandbox (cgroup, namespaces
or uid, rlimits), imports the submission (which imports torch) and answers `hello`; then the
worker is stopped and its copy deleted, as `fresh_worker()` does in a test.

    python bench/bench_fresh_worker.py                   # 50 forked, 5 cold
    python bench/bench_fresh_worker.py --forked 200 --cold 0 --device cuda
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.boundary import sandbox, zygote  # noqa: E402 (the checkout goes on sys.path first)
from grader.core.assignments import find_assignment  # noqa: E402
from grader.boundary.client import WorkerSession  # noqa: E402

SUBMISSION = "import torch\n\n\ndef answer():\n    return 42\n"


def starts(n: int, pristine: Path, scratch: Path, iso, limits, gpu) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with WorkerSession(pristine, limits, isolation=iso, scratch=scratch, gpu=gpu) as s:
            s.ensure_started()
            times.append(time.perf_counter() - t)
            assert s.module.answer() == 42
    return times


def describe(label: str, times: list[float]) -> str:
    if not times:
        return f"  {label:7s}: not measured"
    q = statistics.quantiles(times, n=10) if len(times) >= 10 else [min(times)] * 9
    return (f"  {label:7s}: median {1000 * statistics.median(times):6.0f} ms   p10 {1000 * q[0]:5.0f} ms   "
            f"p90 {1000 * q[-1]:5.0f} ms   ({len(times)} starts)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--forked", type=int, default=50)
    p.add_argument("--cold", type=int, default=5)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--sandbox", default="auto", choices=sandbox.SANDBOX_MODES)
    args = p.parse_args()
    gpu = None
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            print("--device cuda: no CUDA GPU is available to this process; nothing measured", file=sys.stderr)
            sys.exit(2)
        gpu = "0"
    iso = sandbox.require_isolation(args.sandbox)
    limits = find_assignment("ae_bottleneck").limits
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dlgrade-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        (root / "pristine").mkdir()
        (root / "pristine" / "submission.py").write_text(SUBMISSION)
        scratch = root / "workers"
        scratch.mkdir(mode=0o711)
        started = time.perf_counter()
        address = sandbox.worker_zygote(iso, limits)
        zygote_s = time.perf_counter() - started
        if address is None:
            sys.exit("the worker zygote did not start here (see the warning above)")
        os.environ[sandbox.WORKER_ZYGOTE_ENV] = address
        forked = starts(args.forked, root / "pristine", scratch, iso, limits, gpu)
        os.environ.pop(sandbox.WORKER_ZYGOTE_ENV)
        cold = starts(args.cold, root / "pristine", scratch, iso, limits, gpu)
    zygote.close_shared()
    print(f"fresh worker, start to first reply (rung {iso.level}, device {args.device}, "
          f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after):")
    print(f"  zygote start (once per command): {zygote_s:.2f} s")
    print(describe("forked", forked))
    print(describe("cold", cold))


if __name__ == "__main__":
    main()
