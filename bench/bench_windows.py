"""Benchmark the reference make_windows (conv1d_windowing) against a naive Python loop and a memcpy.

    python bench/bench_windows.py [--T 1000000 --m 256 --s 1 --threads 2]

Prints a small table and, last, one JSON line with every number. Times are the best of --repeats
runs (the minimum is the least disturbed by other processes on a shared machine).

What is compared, and why it is fair:
- make_windows returns a view (unfold): O(1) metadata work, no data moved. Its time against the
  loop (which copies b*m values) is the speed-up a student sees, but not like for like, so we also
- materialise the windows, make_windows(...).contiguous(), which produces exactly what the loop
  produces (a fresh contiguous (b, m) buffer), and compare that with the loop; and
- compare the materialisation with a plain copy of the same number of bytes,
  torch.empty(b*m).copy_(src) from a contiguous src: both allocate a fresh b*m*4-byte buffer (so
  both pay the same page faults) and write every byte once. The plain copy also reads b*m*4 bytes,
  while the unfold copy re-reads the small T*4-byte series (cache-friendly) with a strided gather,
  so it can even beat the copy; "fraction of memcpy" = t_copy / t_materialise (1.0 = memcpy speed).
  A second pair copies into a preallocated destination (dst.copy_(...)), which removes the
  allocation and page-fault cost and isolates the copy kernels.
"""
import argparse
import gc
import importlib.util
import json
import sys
import time
from pathlib import Path

import torch

REF = Path(__file__).resolve().parents[1] / "reference_solutions" / "conv1d_windowing" / "conv1d_windowing.py"


def load_reference(path: Path):
    spec = importlib.util.spec_from_file_location("conv1d_windowing_ref", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def best_time(fn, repeats: int, number: int = 1) -> float:
    """Best of `repeats` runs of `number` calls, in seconds per call."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def naive_windows(x: torch.Tensor, m: int, s: int, n: int) -> torch.Tensor:
    return torch.stack([x[k * s:k * s + m] for k in range(n)])  # (n, m)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=1_000_000, help="series length")
    p.add_argument("--m", type=int, default=256, help="frame size")
    p.add_argument("--s", type=int, default=1, help="shift")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--loop-budget", type=float, default=60.0,
                   help="run the naive loop on all windows only if the estimate is below this many seconds")
    p.add_argument("--prefix", type=int, default=20_000, help="windows in the loop's trial (and fallback) run")
    p.add_argument("--reference", type=Path, default=REF)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ref = load_reference(a.reference)

    x = torch.randn(a.T, generator=torch.Generator().manual_seed(0))  # float32, contiguous
    T, m, s = a.T, a.m, a.s
    b = (T - m) // s + 1
    nbytes = b * m * x.element_size()

    # 1) the view
    out = ref.make_windows(x, m, s)  # (b, m, 1)
    assert tuple(out.shape) == (b, m, 1) and out.dtype == x.dtype
    zero_copy = out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    t_view = best_time(lambda: ref.make_windows(x, m, s), a.repeats, number=1000)

    # 2) the naive loop: a trial on a prefix, then all windows if the estimate fits the budget
    n_trial = min(a.prefix, b)
    t_trial = best_time(lambda: naive_windows(x, m, s, n_trial), 1)
    estimate = t_trial * b / n_trial
    if estimate < a.loop_budget:
        t0 = time.perf_counter()
        loop_out = naive_windows(x, m, s, b)
        t_loop, loop_windows, loop_scaled = time.perf_counter() - t0, b, False
        same = torch.equal(loop_out, out[:, :, 0])
        del loop_out
    else:
        t_loop_prefix = best_time(lambda: naive_windows(x, m, s, n_trial), a.repeats)
        t_loop, loop_windows, loop_scaled = t_loop_prefix * b / n_trial, n_trial, True
        same = torch.equal(naive_windows(x, m, s, n_trial), out[:n_trial, :, 0])
    gc.collect()

    # 3) materialising the windows vs a plain copy of the same bytes
    t_mat = best_time(lambda: ref.make_windows(x, m, s).contiguous(), a.repeats)
    src = torch.randn(b * m, generator=torch.Generator().manual_seed(1))  # contiguous, same size
    t_copy = best_time(lambda: torch.empty(b * m).copy_(src), a.repeats)
    dst = torch.empty(b * m)
    dst.copy_(src)  # touch the pages once
    t_mat_pre = best_time(lambda: dst.view(b, m, 1).copy_(out), a.repeats)
    t_copy_pre = best_time(lambda: dst.copy_(src), a.repeats)
    del src, dst
    gc.collect()

    gb = nbytes / 1e9
    rows = [
        ("make_windows (view)", t_view, "-"),
        (f"naive loop{' (scaled from %d windows)' % loop_windows if loop_scaled else ''}", t_loop, f"{gb / t_loop:.2f}"),
        ("make_windows(...).contiguous()", t_mat, f"{gb / t_mat:.2f}"),
        ("plain copy, fresh buffer", t_copy, f"{gb / t_copy:.2f}"),
        ("windows -> preallocated dst", t_mat_pre, f"{gb / t_mat_pre:.2f}"),
        ("plain copy -> preallocated dst", t_copy_pre, f"{gb / t_copy_pre:.2f}"),
    ]
    print(f"T={T:,} m={m} s={s} -> b={b:,} windows, {gb:.3f} GB if materialised (float32), "
          f"threads={torch.get_num_threads()}, best of {a.repeats}")
    print(f"{'what':<42} {'time':>12} {'GB/s written':>12}")
    for name, t, bw in rows:
        print(f"{name:<42} {t * 1e3:>9.3f} ms {bw:>12}")
    print(f"zero-copy view (shares x's storage): {zero_copy}; loop output equals the windows: {same}")
    if loop_scaled:
        print(f"naive loop estimated at {estimate:.0f} s > budget {a.loop_budget:.0f} s: timed on the first "
              f"{loop_windows:,} windows and scaled linearly to {b:,} (an underestimate: the prefix's "
              f"output stays in cache and pays fewer page faults)")
    else:
        print(f"naive loop timed once on all {b:,} windows (trial estimate {estimate:.1f} s)")
    print(f"speed-up over the loop: view {t_loop / t_view:,.0f}x, materialised {t_loop / t_mat:,.1f}x; "
          f"materialising runs at {t_copy / t_mat:.2f} of a plain copy (fresh buffers), "
          f"{t_copy_pre / t_mat_pre:.2f} (preallocated)")
    print(json.dumps({
        "T": T, "m": m, "s": s, "b": b, "bytes": nbytes, "threads": torch.get_num_threads(),
        "repeats": a.repeats, "zero_copy": zero_copy, "loop_matches": same,
        "view_s": t_view, "loop_s": t_loop, "loop_scaled": loop_scaled, "loop_windows_timed": loop_windows,
        "materialise_s": t_mat, "plain_copy_s": t_copy, "materialise_prealloc_s": t_mat_pre,
        "plain_copy_prealloc_s": t_copy_pre, "speedup_view": t_loop / t_view,
        "speedup_materialised": t_loop / t_mat, "fraction_of_copy": t_copy / t_mat,
        "fraction_of_copy_prealloc": t_copy_pre / t_mat_pre,
    }))


if __name__ == "__main__":
    sys.exit(main())
