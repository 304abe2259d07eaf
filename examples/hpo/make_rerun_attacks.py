"""How the three re-run attacks of issue #20 in this folder were made (each stores only its log and
analysis; examples/materialise.py adds the reference code). All three started from the reference's
digits log (reference_solutions/hpo/example_output/digits/hpo_log.jsonl) and keep its true parameter
counts; each analysis is the reference's own `analyse` run on the forged log, so it states the forged
log's correlation and best configuration, as a student would.

- mate_invented_below: a log that never ran. Every config's lr, dropout and weight decay nudged by
  5-10 % (a "new" search), an invented seed, and an accuracy 4-8 images (of 287) BELOW what the
  configuration reaches, so that a check which only looks for logs above their re-runs passes it.
- nora_two_images_up: every accuracy 2 images (0.7 points) above the real training's.
- otto_best_of_five_seeds: every config trained with its logged seed and 4 more (seed + 1000 j), the
  best of the five logged, with the seed that reached it. The table of trainings is bench/hpo_seeds.jsonl
  (made on the 2-core grading machine with 1 torch thread; the logged seed's value taken from the log,
  which the same-seed re-runs here repeated in 5 of 6 trials; `python bench/bench_hpo_power.py --train
  FILE --seeds 5` makes such a table from scratch, re-running the logged seed too).

    python examples/hpo/make_rerun_attacks.py --seeds bench/hpo_seeds.jsonl
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REFERENCE_LOG = REPO / "reference_solutions" / "hpo" / "example_output" / "digits" / "hpo_log.jsonl"
N_VAL = 287


def reference() -> tuple[dict, list[dict]]:
    header, *trials = [json.loads(ln) for ln in REFERENCE_LOG.read_text().splitlines() if ln.strip()]
    return header, trials


def write(name: str, header: dict, trials: list[dict]) -> None:
    """The example's hpo_log.jsonl, and analysis.md written by the reference's analyse() from it."""
    sys.path[:0] = [str(REPO / "reference_solutions" / "hpo"), str(REPO)]
    import hpo  # the reference solution: its analysis of whatever log it is given

    folder = HERE / name
    folder.mkdir(exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in [header, *trials])
    (folder / "hpo_log.jsonl").write_text(text)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "hpo_log.jsonl"
        log.write_text(text)
        (folder / "analysis.md").write_text(hpo.analyse(str(log), n_perm=2000))


def images(acc: float, shift: int) -> float:
    """acc moved by `shift` validation images, kept a whole number of images in [0, 1]."""
    return min(N_VAL, max(0, round(acc * N_VAL) + shift)) / N_VAL


def invented_below(rng: random.Random) -> None:
    header, trials = reference()
    out = []
    for t in trials:
        if t["status"] != "complete":
            continue
        config = dict(t["config"])
        for key in ("lr", "dropout", "weight_decay"):
            config[key] = config[key] * rng.uniform(0.90, 0.95) if rng.random() < 0.5 else config[key] * rng.uniform(1.05, 1.10)
        config["dropout"] = min(config["dropout"], 0.5)
        out.append({**t, "trial": len(out), "config": config, "seed": rng.randrange(10_000, 99_999),
                    "val_accuracy": images(t["val_accuracy"], -rng.randint(4, 8)),
                    "train_seconds": round(t["train_seconds"] * rng.uniform(0.9, 1.1), 4)})
    write("mate_invented_below", {**header, "created": "2026-12-01T09:14:02+00:00"}, out)


def two_images_up() -> None:
    header, trials = reference()
    write("nora_two_images_up", header,
          [{**t, "val_accuracy": images(t["val_accuracy"], 2)} if t["status"] == "complete" else t for t in trials])


def best_of_five(seeds_table: Path) -> None:
    header, trials = reference()
    runs = {r["trial"]: r["runs"] for r in map(json.loads, seeds_table.read_text().splitlines())}
    out = []
    for t in trials:
        if t["status"] != "complete":
            out.append(t)
            continue
        seed, (acc, seconds) = max(runs[t["trial"]].items(), key=lambda kv: (kv[1][0], -int(kv[0])))
        out.append({**t, "seed": int(seed), "val_accuracy": acc, "train_seconds": round(seconds, 4)})
    write("otto_best_of_five_seeds", header, out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=Path, help="the table of trainings for otto_best_of_five_seeds")
    args = p.parse_args(argv)
    invented_below(random.Random(20))
    two_images_up()
    if args.seeds:
        best_of_five(args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
