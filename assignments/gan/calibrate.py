"""Measure a mode's sample metrics for the reference over several course keys and training seeds, and
for generators that return real images (the numbers behind the thresholds in assignment.yaml). Runs the
reference in this process (it is trusted code), the data and metrics exactly as the hidden tests build them.

    python assignments/gan/calibrate.py --keys 3 --seeds 0,1,2      # ~10-30 s per run on one core
    python assignments/gan/calibrate.py --solution populations/gan/dcgan_paper.py --keys 3 --seeds 0 --no-cheats
    python assignments/gan/calibrate.py --mode mnist --data-dir ../shared/data --key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f --seeds 0

The budget (steps, real_label) is the mode's in assignment.yaml, so a change there is measured here as the
graded run uses it; --solution measures an honest population member the same way (trusted code only). The
full modes' copy check registers every sample on every public image of the class: on MNIST ~150 s per 500
samples on one core, so a full-mode run with cheats takes about half an hour a key.
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

from conftest import METRIC_DATA, GanData, class_split, classifier_for, fixed_latents  # noqa: E402
from gan_copies import held_out_distances  # noqa: E402
from gan_data import jitter, public_sets, warped  # noqa: E402
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
    contrast = lambda x: rng.uniform(0.8, 1.2, (len(x), 1, 1, 1)) * x + rng.uniform(-0.2, 0.2, (len(x), 1, 1, 1))  # noqa: E731
    out = {"real images": pub[i], "cross-fades of two": a * pub[i] + (1 - a) * pub[j],
           "moved <= 0.5 px": jitter(pub[i], rng, 0.5), "noise sd 0.1": noisy(0.1), "noise sd 0.2": noisy(0.2),
           "one image": np.repeat(pub[:1], 500, 0)}
    # the warps of tests/test_gan_attacks.py, drawn after the rest so that the numbers above stay reproducible
    out["rotated <= 15 deg, scaled <= 10 %"] = warped(pub[i], rng, degrees=15, scale=0.10, shift_px=1.0)
    out["mirrored"] = np.ascontiguousarray(pub[i][..., ::-1])
    out["contrast changed"] = contrast(pub[i])
    rotated = warped(pub[i], rng, degrees=10, scale=0.05, shift_px=0.5)
    out["rotated <= 10 deg, contrast, noise sd 0.1"] = contrast(rotated) + rng.normal(0, 0.1, rotated.shape)
    return {name: np.clip(x, -1, 1).astype(np.float32) for name, x in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=3, help="random course keys")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated")
    parser.add_argument("--solution", default=str(HERE.parent.parent / "reference_solutions" / "gan" / "gan.py"))
    parser.add_argument("--no-cheats", action="store_true")
    parser.add_argument("--mode", default="embedded", choices=sorted(METRIC_DATA), help="the assignment's data mode")
    parser.add_argument("--data-dir", type=Path, help="the data folder of the full modes (mnist/, cifar10/)")
    parser.add_argument("--key", help="one course key in hex instead of --keys random ones")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = load_spec(HERE)
    settings = spec.mode(args.mode).settings
    c = settings["class_index"]
    loaded = importlib.util.spec_from_file_location("solution", args.solution)
    ref = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(ref)
    clf = classifier_for(args.mode, args.data_dir)
    sets = public_sets(METRIC_DATA[args.mode], args.data_dir)
    keys = [bytes.fromhex(args.key)] if args.key else [np.random.default_rng(1000 + k).bytes(32) for k in range(args.keys)]
    rows = []
    for k, key in enumerate(keys):
        split = class_split(args.mode, settings, CourseKey(key), sets)
        data = GanData(split.train, split.test, split.public, split.test_sources, clf, features(clf, split.test),
                       held_out=held_out_distances(split.public, split.test, split.test_sources))
        channels, size = split.train.shape[1:3]
        for seed in [int(s) for s in args.seeds.split(",")]:
            torch.manual_seed(seed)
            G = ref.Generator(100, channels, size, width=settings["width"])
            D = ref.Discriminator(channels, size, width=settings["width"])
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
        sd = f", sd {v.std(ddof=1):.2g}" if len(v) > 1 else ""
        print(f"{name}: {v.min():.3g}-{v.max():.3g}, mean {v.mean():.3g}{sd} ({len(v)} runs)")


if __name__ == "__main__":
    main()
