"""Trusted, grader-side quality metrics for the GAN assignment.

Nothing here imports or runs student code: every function takes plain arrays (numpy or torch) of
images in [-1, 1], shaped (N, C, H, W), or feature matrices, and returns numbers.

The feature space is the grader's own small CNN classifier, one per data set (8x8 digits, MNIST,
CIFAR-10), trained deterministically in seconds to a minute on a CPU and cached on disk. Its
penultimate layer (FEATURE_DIM ReLU units) plays the role Inception-v3's pool layer plays in FID;
the numbers are therefore comparable only with numbers from the same classifier (same data, seed
and CODE_VERSION), never with published FIDs.

Metrics:
- `frechet_distance(feat_a, feat_b)`: FID formula on two feature sets. Biased upwards for small
  sample sizes, so always compare sets of the same sizes.
- `class_fidelity(model, images, class_index)`: share of images the classifier assigns to the class.
- `diversity(feat_samples, feat_real)`: mean pairwise feature distance of samples / of real images
  (0 for a collapsed generator, about 1 for real data).
- `mode_coverage(model, images)`: number of classes predicted for at least `min_share` of images.
Whether samples are copies of real images is gan_copies.py's question, not a metric of this module.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CODE_VERSION = "gan-metrics-classifier-v1"  # bump whenever the classifier or its training changes
FEATURE_DIM = 64


# --- the grader's feature classifier -------------------------------------------------------------

class FeatureClassifier(nn.Module):
    """Small CNN: conv stages (3x3 conv, BatchNorm, ReLU, 2x2 max-pool) down to <= 7x7, global
    average pool, a FEATURE_DIM hidden layer (the feature space) and a linear classifier."""

    def __init__(self, channels: int, image_size: int, n_classes: int = 10, width: int = 16):
        super().__init__()
        self.channels, self.image_size, self.n_classes = channels, image_size, n_classes
        layers, c, size = [], channels, image_size
        while size > 7:  # 8 -> 4, 28 -> 14 -> 7, 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c, width, size = width, width * 2, size // 2
        layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.hidden = nn.Sequential(nn.Linear(c, FEATURE_DIM), nn.ReLU(inplace=True))
        self.out = nn.Linear(FEATURE_DIM, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.body(x))  # (N, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))  # (N, n_classes) logits


def as_images(images) -> torch.Tensor:
    """Images (an array or a tensor) as an (N, C, H, W) float32 tensor on the CPU; ValueError for another shape."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).detach()
    x = x.to("cpu", torch.float32)
    if x.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    return x


def default_epochs(n_images: int) -> int:
    """Epochs so that small sets still see ~40k-80k image presentations (digits 30, CIFAR subset 20, MNIST 10k: 8)."""
    return int(np.clip(round(80_000 / max(n_images, 1)), 8, 30))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random translation by up to size/8 pixels (edge padding) and, for colour images, horizontal flips."""
    n, c, h, w = x.shape
    pad = max(1, h // 8)
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (oy[:, None] + torch.arange(h))[:, None, :, None]  # (N, 1, H, 1)
    cols = (ox[:, None] + torch.arange(w))[:, None, None, :]  # (N, 1, 1, W)
    out = xp[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    if c == 3:
        flip = torch.rand(n, generator=gen) < 0.5
        out[flip] = out[flip].flip(3)
    return out


@contextlib.contextmanager
def _torch_rng(seed: int):
    """Seed torch's global RNG inside the block only (weight init), leaving the caller's state alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_feature_classifier(images, labels, *, seed: int = 0, epochs: int | None = None, device: str = "cpu",
                             batch_size: int = 128, lr: float = 3e-3) -> FeatureClassifier:
    """Train the grader's classifier on images (N, C, H, W) in [-1, 1] and int labels (N,).

    Deterministic for a given seed (and thread count): initialisation, shuffling and augmentation
    use their own seeded generators. Adam with a one-cycle schedule; returns the model in eval mode
    on the CPU.
    """
    x = as_images(images)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n_classes = int(y.max()) + 1 if len(y) else 10
    n_classes = max(n_classes, 10)
    epochs = default_epochs(len(x)) if epochs is None else epochs
    with _torch_rng(seed):
        model = FeatureClassifier(x.shape[1], x.shape[2], n_classes).to(device)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, len(x) // batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            xb = _augment(x[idx], gen).to(device)
            loss = F.cross_entropy(model(xb), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.cpu().eval()


def _data_key(images, labels) -> str:
    h = hashlib.sha256(CODE_VERSION.encode())
    x = np.ascontiguousarray(as_images(images).numpy())
    y = np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
    h.update(repr((x.shape, y.shape, FEATURE_DIM, default_epochs(len(x)))).encode())
    h.update(x.tobytes())
    h.update(y.tobytes())
    return h.hexdigest()


def load_or_train_classifier(name: str, images, labels, cache_dir: str | os.PathLike) -> FeatureClassifier:
    """The classifier for (images, labels), from `cache_dir/<name>-<sha256>.pt` or freshly trained.

    The sha256 covers the training images, labels and CODE_VERSION, so new data or new code never
    reuses an old model. Next to the weights, `<file>.sha256` holds the sha256 of the weight file;
    a file that is missing, truncated, corrupted or fails to load is retrained and rewritten.
    """
    x = as_images(images)
    cache_dir = Path(cache_dir)
    path = cache_dir / f"{name}-{_data_key(x, labels)}.pt"
    check = path.with_name(path.name + ".sha256")
    n_classes = max(int(np.max(labels)) + 1, 10)
    if path.exists() and check.exists():
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() == check.read_text().strip():
            try:
                model = FeatureClassifier(x.shape[1], x.shape[2], n_classes)
                model.load_state_dict(torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True))
                return model.eval()
            except Exception:  # noqa: BLE001 - any unreadable cache is simply rebuilt
                pass
    model = train_feature_classifier(x, labels)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    raw = buf.getvalue()
    cache_dir.mkdir(parents=True, exist_ok=True)
    for target, data in ((path, raw), (check, hashlib.sha256(raw).hexdigest().encode())):
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-")  # atomic: concurrent graders never see half a file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return model


@torch.no_grad()
def _forward(model: nn.Module, images, fn, batch_size: int = 500) -> torch.Tensor:
    x = as_images(images)
    model.eval()
    dev = next(model.parameters()).device
    if not len(x):
        return fn(x.to(dev)).double().cpu()
    return torch.cat([fn(xb.to(dev)).double().cpu() for xb in x.split(batch_size)])


def features(model: FeatureClassifier, images) -> np.ndarray:
    """Penultimate-layer features (N, FEATURE_DIM) float64 of images (N, C, H, W) in [-1, 1]."""
    return _forward(model, images, model.features).numpy()


def predict(model: FeatureClassifier, images) -> np.ndarray:
    """Predicted class indices (N,) int64."""
    return _forward(model, images, model).argmax(1).numpy()


def accuracy(model: FeatureClassifier, images, labels) -> float:
    return float((predict(model, images) == np.asarray(labels)).mean())


# --- metrics -------------------------------------------------------------------------------------

def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feat_a, feat_b, *, method: str = "numpy") -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N_a, D) and (N_b, D):

        ||mu_a - mu_b||^2 + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2)).

    method "numpy" (default, no scipy needed) uses tr((C_a C_b)^(1/2)) = tr((S C_b S)^(1/2)) with
    S = C_a^(1/2): both roots are of symmetric PSD matrices, so a symmetric eigendecomposition
    gives them exactly and stably even for singular covariances (a collapsed generator). method
    "scipy" uses scipy.linalg.sqrtm(C_a C_b) as in the reference FID code; the two agree to ~1e-6.
    """
    a, b = np.asarray(feat_a, dtype=np.float64), np.asarray(feat_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two (N >= 2, D) feature sets of the same D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))  # D = 1: np.cov gives 0-d
    if method == "numpy":
        s = _sqrt_psd(ca)
        tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((s @ cb @ s + (s @ cb @ s).T) / 2), 0, None)).sum()
    elif method == "scipy":
        from scipy import linalg

        covmean = linalg.sqrtm(ca @ cb)
        tr_covmean = np.trace(np.real(covmean))
    else:
        raise ValueError(f"method must be 'numpy' or 'scipy', not {method!r}")
    fd = float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_covmean)
    return max(fd, 0.0)


def class_fidelity(model: FeatureClassifier, images, class_index: int) -> float:
    """Fraction of images the grader's classifier assigns to class_index."""
    pred = predict(model, images)
    return float((pred == class_index).mean()) if len(pred) else 0.0


def mode_coverage(model: FeatureClassifier, images, *, min_share: float = 0.02) -> int:
    """Number of distinct predicted classes that get at least min_share of the images."""
    pred = predict(model, images)
    if not len(pred):
        return 0
    share = np.bincount(pred, minlength=model.n_classes) / len(pred)
    return int((share >= min_share).sum())


def _mean_pairwise_distance(f: np.ndarray) -> float:
    f = torch.as_tensor(f, dtype=torch.float64)
    if len(f) < 2:
        return 0.0
    d = torch.cdist(f, f)
    return float(d.sum() / (len(f) * (len(f) - 1)))


def diversity(feat_samples, feat_real, *, max_n: int = 1000) -> float:
    """Mean pairwise Euclidean feature distance among samples divided by that among real images.

    ~1 for samples as varied as the real data, 0 for a collapsed generator, > 1 for noise-like
    samples spread wider than the data. Uses the first max_n rows of each set.
    """
    real = _mean_pairwise_distance(np.asarray(feat_real)[:max_n])
    if real == 0:
        raise ValueError("the real features have no spread")
    return _mean_pairwise_distance(np.asarray(feat_samples)[:max_n]) / real


# --- data ---------------------------------------------------------------------------------------

def load_metric_data(name: str, data_dir: str | os.PathLike | None = None, *, mnist_train_subset: int = 10_000) -> dict:
    """Images in [-1, 1] (N, C, H, W) float32 and labels for the grader's classifier.

    name: "digits" (sklearn 8x8 digits; test = every fifth image, index % 5 == 0, the split the
    reference solution uses), "mnist" (the first `mnist_train_subset` training images, the full
    test set) or "cifar10" (whatever split load_cifar10 finds: the 4,000/1,000 subset here).
    Returns train_images, train_labels, test_images, test_labels.
    """
    from grader.authoring import load_cifar10, load_digits, load_mnist

    if name == "digits":
        d = load_digits()
        x = d["images"][:, None].astype(np.float32) / 8.0 - 1.0
        test = np.arange(len(x)) % 5 == 0
        return {"train_images": x[~test], "train_labels": d["labels"][~test],
                "test_images": x[test], "test_labels": d["labels"][test]}
    if name == "mnist":
        d = load_mnist(data_dir)
        scale = lambda a: a[:, None].astype(np.float32) / 127.5 - 1.0  # noqa: E731
        return {"train_images": scale(d["train_images"][:mnist_train_subset]),
                "train_labels": d["train_labels"][:mnist_train_subset],
                "test_images": scale(d["test_images"]), "test_labels": d["test_labels"]}
    if name == "cifar10":
        d = load_cifar10(data_dir)
        scale = lambda a: a.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0  # noqa: E731
        return {"train_images": scale(d["train_images"]), "train_labels": d["train_labels"],
                "test_images": scale(d["test_images"]), "test_labels": d["test_labels"]}
    raise ValueError(f"unknown data set {name!r}; expected 'digits', 'mnist' or 'cifar10'")
