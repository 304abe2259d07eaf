"""Measure the embedded mode's sample metrics for the reference over several course keys and training
seeds, and for generators that return real images (the numbers behind the thresholds in
assignment.yaml). Runs the reference in this process (it is trusted code), the data and metrics
exactly as the hidden tests build them.

    python assignments/gan/calibrate.py --keys 3 --seeds 0,1,2      # ~10-30 s per run on one core
    python assignments/gan/calibrate.py --solution populations/gan/dcgan_paper.py --keys 3 --seeds 0 --no-cheats

The budget (steps, real_label) is the embedded mode's in assignment.yaml, so a change there is measured here
as the graded run uses it; --solution measures an honest population member the same way (trusted code only).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE / "tests")]

from conftest import GanData, classifier_for, fixed_latents  # noqa: E402
from gan_data import jitter, keyed_split, public_sets  # noqa: E402
from gan_metrics import class_fidelity, diversity, features, frechet_distance  # noqa: E402

from grader.authoring import CourseKey, load_spec  # noqa: E402


def metrics(data: GanData, samples: np.ndarray, class_index: int) -> dict:
    f = features(data.classifier, samples)
    return {"frechet": frechet_distance(f, data.test_features), "fidelity": class_fidelity(data.classifier, samples, class_index),
            "diversity": diversity(f, data.test_features), "memorisation": data.memorisation(samples)}


def cheats(data: GanData, rng: np.random.Generator) -> dict:
    """Samples made from real images without a generator."""
    pub = data.public
    i, j = rng.integers(0, len(pub), 500), rng.integers(0, len(pub), 500)
    a = rng.uniform(0.3, 0.7, (500, 1, 1, 1)).astype(np.float32)
    noisy = lambda s: np.clip(pub[i] + rng.normal(0, s, pub[i].shape), -1, 1).astype(np.float32)  # noqa: E731
    return {"real images": pub[i], "cross-fades of two": a * pub[i] + (1 - a) * pub[j],
            "moved <= 0.5 px": jitter(pub[i], rng, 0.5), "noise sd 0.1": noisy(0.1), "noise sd 0.2": noisy(0.2),
            "one image": np.repeat(pub[:1], 500, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=3, help="random course keys")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated")
    parser.add_argument("--solution", default=str(HERE.parent.parent / "reference_solutions" / "gan" / "gan.py"))
    parser.add_argument("--no-cheats", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = load_spec(HERE)
    settings = spec.mode("embedded").settings
    c = settings["class_index"]
    loaded = importlib.util.spec_from_file_location("solution", args.solution)
    ref = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(ref)
    clf = classifier_for("embedded", None)
    sets = public_sets("digits")
    rows = []
    for k in range(args.keys):
        key = CourseKey(np.random.default_rng(1000 + k).bytes(32))
        split = keyed_split(sets, c, key.rng("gan", "embedded", "class-split", c))
        data = GanData(split.train, split.test, split.public, split.test_sources, clf, features(clf, split.test))
        for seed in [int(s) for s in args.seeds.split(",")]:
            torch.manual_seed(seed)
            G = ref.Generator(100, 1, 8, width=settings["width"])
            D = ref.Discriminator(1, 8, width=settings["width"])
            t0 = time.time()
            ref.train_gan(G, D, torch.from_numpy(split.train), steps=settings["steps"], batch_size=settings["batch_size"],
                          lr=settings["lr"], device="cpu", real_label=settings["real_label"])
            m = metrics(data, ref.sample(G, torch.from_numpy(fixed_latents(settings["n_samples"], seed))).numpy(), c)
            rows.append(m)
            print(f"key {k} seed {seed} ({time.time() - t0:.0f} s): " + ", ".join(f"{n} {v:.3g}" for n, v in m.items()),
                  flush=True)
        if not args.no_cheats:
            for name, samples in cheats(data, np.random.default_rng(k)).items():
                print(f"key {k} cheat {name}: " + ", ".join(f"{n} {v:.3g}" for n, v in metrics(data, samples, c).items()))
    for name in rows[0]:
        v = np.array([r[name] for r in rows])
        print(f"{name}: {v.min():.3g}-{v.max():.3g}, mean {v.mean():.3g}, sd {v.std(ddof=1):.2g} ({len(v)} runs)")


if __name__ == "__main__":
    main()
