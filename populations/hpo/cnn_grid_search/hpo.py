"""Grid search over a small Conv-BN-ReLU CNN (Adam), 8x8 digits: the design the course's lecture teaches.

Design: the lecture's hyperparameter-optimisation slides (grid search as the baseline before random
search and TPE) and the standard PyTorch CIFAR-10 tutorial's small CNN (torch.org "Training a
classifier"), with BatchNorm after every conv as in the course's CNN lecture. The grid is
width x depth x learning rate (10 x 2 x 5 = 100 trainings); batch size, dropout and weight decay
stay at one value each. Adam with a constant learning rate.

    python hpo.py         # writes hpo_log.jsonl, prints the numbers used in analysis.md (~3 CPU-minutes)
"""

# %%
import itertools
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dlcourse.datasets import load_digits
from dlcourse.trial_log import TrialLog, load_trial_log

# %% [markdown]
# ## Settings
# The grid. Widths are roughly log-spaced so that the parameter count spans two orders of magnitude.

# %%
WIDTHS = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48]
DEPTHS = [1, 2]
LRS = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
BATCH_SIZE = 64
DROPOUT = 0.1
WEIGHT_DECAY = 1e-4
EPOCHS = 8
SEED = 2024        # grid point n trains with seed SEED + n


# %% [markdown]
# ## Data: the template's load_data for the embedded digits

# %%
def _stratified_split(y, fraction, rng):
    """Indices (keep, held_out) with `fraction` of every class held out."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.append(idx[: int(round(fraction * len(idx)))])
    held = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(y)), held), held


def load_data(mode="embedded", data_dir="../shared/data", *, val_fraction=0.2, seed=0):
    """The digits: a fixed 20 % test split, then a 20 % validation split (seed 0), normalised."""
    d = load_digits()
    x = d["images"][:, None].astype(np.float32) / 16.0      # (1797, 1, 8, 8)
    y = d["labels"]
    train_idx, test_idx = _stratified_split(y, 0.2, np.random.default_rng(20240101))
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    keep, val = _stratified_split(y_train, val_fraction, np.random.default_rng(seed))
    x_val, y_val, x_train, y_train = x_train[val], y_train[val], x_train[keep], y_train[keep]
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    norm = lambda a: np.ascontiguousarray((a - mean) / std, dtype=np.float32)  # noqa: E731
    return {"x_train": norm(x_train), "y_train": y_train.astype(np.int64), "x_val": norm(x_val),
            "y_val": y_val.astype(np.int64), "x_test": norm(x_test), "y_test": y_test.astype(np.int64)}


# %% [markdown]
# ## Search space (as the assignment describes it) and the grid over it

# %%
def search_space(device="cpu"):
    """The grid, written in the assignment's format: every value the grid takes is a choice."""
    return {
        "width": {"type": "categorical", "choices": WIDTHS},
        "depth": {"type": "categorical", "choices": DEPTHS},
        "lr": {"type": "categorical", "choices": LRS},
        "batch_size": {"type": "categorical", "choices": [BATCH_SIZE]},
        "dropout": {"type": "categorical", "choices": [DROPOUT]},
        "weight_decay": {"type": "categorical", "choices": [WEIGHT_DECAY]},
    }


def grid(space):
    """Every combination of the choices, in a fixed order."""
    names = list(space)
    for values in itertools.product(*(space[n]["choices"] for n in names)):
        yield dict(zip(names, values))


# %% [markdown]
# ## The model: `depth` blocks of conv3x3 -> BatchNorm -> ReLU -> maxpool, channels doubling

# %%
class SmallCNN(nn.Module):
    """Conv blocks, global average pooling, dropout, one linear layer."""

    def __init__(self, in_channels, width, depth, dropout, num_classes):
        super().__init__()
        blocks, c = [], in_channels
        for i in range(depth):
            out = width * 2 ** i
            blocks += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c = out
        self.features = nn.Sequential(*blocks)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):                         # x: (N, C, H, W)
        h = self.features(x)                      # (N, width * 2**(depth-1), H / 2**depth, W / 2**depth)
        h = F.adaptive_avg_pool2d(h, 1).flatten(1)  # (N, channels)
        return self.fc(self.drop(h))              # (N, num_classes)


def build_model(config, input_shape=(3, 32, 32), num_classes=10):
    """The CNN for one config (width, depth and dropout are used)."""
    return SmallCNN(input_shape[0], int(config["width"]), int(config["depth"]), float(config.get("dropout", 0.0)),
                    num_classes)


# %% [markdown]
# ## One training: Adam, fixed number of epochs, accuracy on the validation split

# %%
def train_and_evaluate(config, data, *, seed, device="cpu", max_epochs=10, report=None, return_model=False):
    """Train on data["x_train"]; the seed fixes the initialisation, dropout and batch order."""
    torch.manual_seed(seed)
    order_gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(data["x_train"]), torch.as_tensor(data["y_train"])
    xv, yv = torch.as_tensor(data["x_val"]), torch.as_tensor(data["y_val"])
    model = build_model(config, input_shape=tuple(x.shape[1:]), num_classes=10)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    bs = int(config["batch_size"])
    t0 = time.perf_counter()
    for epoch in range(max_epochs):
        model.train()
        perm = torch.randperm(len(x), generator=order_gen)
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            if len(idx) < 2:   # BatchNorm needs two images in a batch
                continue
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    out = {"val_accuracy": acc, "params": sum(p.numel() for p in model.parameters()), "epochs": max_epochs,
           "train_seconds": time.perf_counter() - t0}
    if return_model:
        out["model"] = model
    return out


# %% [markdown]
# ## Run the grid, then print what the analysis needs

# %%
def rank_correlation(a, b):
    """Spearman's rho via scipy (it is in the course environment)."""
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


if __name__ == "__main__":
    torch.set_num_threads(1)
    data = load_data()
    space = search_space()
    with TrialLog("hpo_log.jsonl", method="grid-search", dataset="digits", overwrite=True, max_epochs=EPOCHS,
                  n_train=len(data["y_train"]), n_val=len(data["y_val"]), device="cpu") as log:
        for n, config in enumerate(grid(space)):
            r = train_and_evaluate(config, data, seed=SEED + n, max_epochs=EPOCHS)
            log.record(trial=n, config=config, seed=SEED + n, params=r["params"], val_accuracy=r["val_accuracy"],
                       train_seconds=round(r["train_seconds"], 3), epochs=r["epochs"])
    _, trials = load_trial_log("hpo_log.jsonl")
    params = np.array([t["params"] for t in trials])
    acc = np.array([t["val_accuracy"] for t in trials])
    print("trainings:", len(trials), "rho(params, acc):", round(rank_correlation(params, acc), 3))
    for lr in LRS:
        m = np.array([t["config"]["lr"] == lr for t in trials])
        print(f"lr {lr:g}: rho {rank_correlation(params[m], acc[m]):+.2f}, mean acc {acc[m].mean():.3f}")
    for w in WIDTHS:
        for d in DEPTHS:
            m = np.array([t["config"]["width"] == w and t["config"]["depth"] == d for t in trials])
            print(f"width {w} depth {d}: params {params[m][0]}, best {acc[m].max():.3f}, median {np.median(acc[m]):.3f}")
    best = trials[int(np.argmax(acc))]
    print("best:", best["trial"], best["val_accuracy"], best["params"], best["config"])
    full = {"x_train": np.concatenate([data["x_train"], data["x_val"]]),
            "y_train": np.concatenate([data["y_train"], data["y_val"]]),
            "x_val": data["x_test"], "y_val": data["y_test"]}
    print("test accuracy:", train_and_evaluate(best["config"], full, seed=1, max_epochs=EPOCHS)["val_accuracy"])
