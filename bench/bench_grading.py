"""Grading overhead and check time.

(1) ae_bottleneck: grading the reference solution (public + hidden tests, sandboxed workers) against
    running the same training and evaluation bare, in this process. Reports the ratio and the
    fixed cost per submission. The grading runs share this process's zygotes, as a batch does
    (their start-up, paid once per command, is reported on its own line).
(2) `python cli.py check` of the untouched ae_bottleneck template and of its reference, each a new
    process as a student runs it (on the CPU: `check` has no GPU option), against
    `python -c "import torch, pytest"`.
Every round runs all of them in turn (bare, graded, import, check template, check reference), so
machine noise hits them alike; medians are reported.
(3) with --all-checks: `check` per assignment, on the reference and on the template.

    python bench/bench_grading.py                          # embedded mode, CPU
    python bench/bench_grading.py --device cuda            # exits 2 where no GPU is available
    python bench/bench_grading.py --mode full --data-dir ../shared/data --epochs 20 --train-size 55000
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.core.assignments import (all_assignments, find_assignment, reference_file,  # noqa: E402
                                reference_submission, template_dir)
from grader.commands.check import check_submission  # noqa: E402
from grader.authoring import CourseKey  # noqa: E402
from grader.trusted.course_key import new_key  # noqa: E402
from grader.boundary import zygote  # noqa: E402
from grader.grading.runner import RunOptions, grade_submission, prepare, prestart_zygotes  # noqa: E402


def scaled_assignment(mode: str, overrides: dict, tmp: Path) -> Path:
    """A copy of ae_bottleneck whose mode settings carry the overrides (the bench's budget)."""
    spec = find_assignment("ae_bottleneck")
    shutil.copytree(spec.path.parent.parent / "assignments" / "ae_bottleneck", tmp / "assignments" / "ae_bottleneck")
    shutil.copytree(spec.path.parent.parent / "reference_solutions" / "ae_bottleneck",
                    tmp / "reference_solutions" / "ae_bottleneck")
    path = tmp / "assignments" / "ae_bottleneck" / "assignment.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["modes"][mode]["settings"].update(overrides)
    raw["limits"]["submission_timeout_s"] = 7200
    path.write_text(yaml.safe_dump(raw))
    return path.parent


KEY = new_key()  # one course key for the whole run: bare and graded see the same data


def bare_run(spec, mode: str, data_dir, threads: int, device: str = "cpu") -> float:
    """Train and evaluate every bottleneck exactly as the hidden tests do, but in this process."""
    torch.set_num_threads(threads)
    sys.path.insert(0, str(spec.path / "tests"))
    from ae_metrics import bce, load_ae_data  # the grader's own data and metric
    mod_spec = importlib.util.spec_from_file_location("ref", reference_file(spec))
    ref = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(ref)
    settings = spec.mode(mode).settings
    train_x, test_x = load_ae_data(mode, settings, data_dir, CourseKey(KEY))  # the same images as the graded run
    n_val = max(1, len(train_x) // 10)
    start = time.perf_counter()
    for k in settings["bottlenecks"]:
        torch.manual_seed(spec.seed)
        model = ref.Autoencoder(input_dim=train_x.shape[1], bottleneck_dim=k)
        ref.train_autoencoder(model, torch.from_numpy(train_x[n_val:]), torch.from_numpy(train_x[:n_val]),
                              epochs=settings["epochs"], batch_size=settings["batch_size"], lr=settings["lr"], device=device)
        model.eval()
        with torch.no_grad():
            recon = model.to(device)(torch.from_numpy(test_x).to(device)).cpu().numpy()
        bce(test_x, recon)
    return time.perf_counter() - start


def timed(argv: list[str]) -> float:
    """Wall time of a new process, as a student's shell runs it."""
    t = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def runs(xs: list[float]) -> str:
    return f"median {statistics.median(xs):6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in xs)})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default="embedded")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--epochs", type=int)
    p.add_argument("--train-size", type=int)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--skip-check", action="store_true", help="skip the check timings of (2)")
    p.add_argument("--all-checks", action="store_true", help="also (3): check of every assignment")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA GPU is available to this process; nothing measured", file=sys.stderr)
        sys.exit(2)
    gpu = "0" if args.device == "cuda" else None
    overrides = {k: v for k, v in {"epochs": args.epochs, "train_size": args.train_size}.items() if v}
    load = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        spec = find_assignment(scaled_assignment(args.mode, overrides, Path(tmp)))
        ae = find_assignment("ae_bottleneck")
        template = template_dir(ae) / "ae_bottleneck.ipynb"
        reference = reference_submission(ae, None, Path(tmp) / "ref")
        t = time.perf_counter()
        prestart_zygotes(batch=True)  # as a batch command does
        zygote.shared(zygote.TRUSTED, {})   # (already started: this waits until it is ready)
        zygote_s = time.perf_counter() - t
        t = time.perf_counter()
        options = prepare(spec, RunOptions(mode=args.mode, data_dir=args.data_dir, include_hidden=True,
                                           threads=args.threads, course_key=KEY, gpu=gpu))  # as a batch does, once
        prepare_s = time.perf_counter() - t
        bare, graded, scores, imports, check_tpl, check_ref = [], [], [], [], [], []
        threads = spec.limits.threads or args.threads  # the worker's thread count, for a fair comparison
        for _ in range(args.repeats):
            bare.append(bare_run(spec, args.mode, args.data_dir, threads, args.device))
            t = time.perf_counter()
            result = grade_submission(spec, reference_file(spec), options)
            graded.append(time.perf_counter() - t)
            scores.append(f"{result.score:g}/{result.max_score:g}")
            if not args.skip_check:
                imports.append(timed([sys.executable, "-c", "import torch, pytest"]))
                check_tpl.append(timed([sys.executable, "cli.py", "check", "ae_bottleneck", str(template)]))
                check_ref.append(timed([sys.executable, "cli.py", "check", "ae_bottleneck", str(reference)]))
    b, g = statistics.median(bare), statistics.median(graded)
    print(f"ae_bottleneck ({args.mode}, device {args.device}, settings {spec.mode(args.mode).settings}); "
          f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs")
    print(f"  zygotes' start-up (once per command): {zygote_s:.2f} s")
    print(f"  the tests' preparation (once per command, grader.trusted.prepared): {prepare_s:.2f} s")
    print(f"  bare training+evaluation : {b:7.2f} s  (runs: {', '.join(f'{x:.1f}' for x in bare)})")
    print(f"  graded (sandboxed, all tests): {g:7.2f} s  (runs: {', '.join(f'{x:.1f}' for x in graded)}; scores {scores})")
    print(f"  overhead ratio graded/bare : {g / b:.2f}x   fixed cost per submission: {g - b:.1f} s")
    out = {"mode": args.mode, "device": args.device, "bare_s": b, "graded_s": g, "ratio": g / b, "scores": scores,
           "zygote_start_s": zygote_s, "prepare_s": prepare_s, "load": [load[0], os.getloadavg()[0]]}
    if imports:
        i, c, r = statistics.median(imports), statistics.median(check_tpl), statistics.median(check_ref)
        print(f"  python -c 'import torch, pytest' : {runs(imports)}")
        print(f"  check, untouched template      : {runs(check_tpl)}   = {c / i:.2f}x the imports")
        print(f"  check, reference               : {runs(check_ref)}")
        out.update(import_s=i, check_template_s=c, check_reference_s=r, check_template_ratio=c / i)

    if args.all_checks:
        print("\ncheck (public tests) per assignment:")
        out["check"] = {}
        for spec in all_assignments():
            row = {}
            ref = reference_submission(spec, None, Path(tempfile.mkdtemp()))  # with its log, where it has one
            for label, path in (("reference", ref), ("template", template_dir(spec) / f"{spec.name}.ipynb")):
                if not path.exists():
                    continue
                t = time.perf_counter()
                r = check_submission(assignment=spec.path, submission=path)
                row[label] = (time.perf_counter() - t, f"{r.score:g}/{r.max_score:g}")
            out["check"][spec.name] = row
            print(f"  {spec.name:18s} " + "  ".join(f"{k}: {v[0]:5.1f} s ({v[1]})" for k, v in row.items()))
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
