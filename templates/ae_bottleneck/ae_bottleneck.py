"""A dense autoencoder and the size of its bottleneck.

Follows the "simplest possible autoencoder" of F. Chollet, "Building Autoencoders in Keras" (Keras
blog, 2016): a fully connected encoder squeezes each image into a short code, a decoder with a
sigmoid output rebuilds the pixels, and binary cross-entropy scores the reconstruction. We train one
model per code size (32, 16, 8) and compare how much of the image survives the squeeze.

Train it (or run the notebook top to bottom; it uses the defaults of Config):
    python ae_bottleneck.py                                    # 8x8 digits, seconds
    python ae_bottleneck.py --mode full --data-dir DATA        # MNIST; DATA holds mnist/
"""
# %% [markdown]
# # Autoencoders: how small can the bottleneck be?
#
# An **autoencoder** learns to copy its input to its output through a narrow layer, the
# **bottleneck**. The encoder maps an image with `input_dim` pixels to a code of `bottleneck_dim`
# numbers (`bottleneck_dim` much smaller than `input_dim`); the decoder maps the code back to
# `input_dim` pixel intensities in [0, 1]. Since the code is too small to store every pixel, the
# network has to discover what digit images have in common and keep only what tells them apart.
# The smaller the bottleneck, the more is lost, and the blurrier the reconstructions.
#
# Pixels are scaled to [0, 1] and treated as probabilities, so the loss is the **binary
# cross-entropy** (BCE) between input and reconstruction, averaged over all pixels. Note that BCE
# does not reach 0 even for a perfect copy when pixels are grey rather than black or white: a perfect
# copy of the test images would score about 0.21 on the 8x8 digits and 0.058 on MNIST.
#
# The embedded mode uses the 1,797 8x8 digits of scikit-learn (64 pixels, trains in seconds); the
# full mode uses MNIST (784 pixels, 60,000 training images).

# %%
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dlcourse.config import from_command_line
from dlcourse.datasets import load_digits, load_mnist


@dataclass
class Config:
    mode: str = "embedded"           # "embedded": sklearn 8x8 digits | "full": MNIST from data_dir
    data_dir: str = "../shared/data"  # holds mnist/ (only read in full mode)
    bottlenecks: tuple = (32, 16, 8)  # code sizes to compare, one model each
    epochs: int = 50                 # passes over the training set
    batch_size: int = 0              # images per Adam step; 0: 64 on the digits, 256 on MNIST (215 steps an epoch)
    lr: float = 3e-3                 # Adam learning rate (1e-3 is slower to converge at the same budget)
    seed: int = 0                    # fixes the digits split, the initial weights and the shuffling


device = "cuda" if torch.cuda.is_available() else "cpu"

# %% [markdown]
# ## Data
#
# `prepare` is given: it flattens images to vectors and scales them to [0, 1].

# %%
def prepare(images, max_value: float | None = None) -> np.ndarray:
    """Flatten images (N, H, W) to float32 vectors (N, H*W) with values in [0, 1].

    max_value is the intensity that maps to 1.0: 16 for the sklearn digits (0..16), 255 for MNIST.
    If None it is guessed: 1.0 for float input already in [0, 1], else 16 when no value exceeds 16,
    else 255.
    """
    images = np.asarray(images)
    if max_value is None:
        top = float(images.max()) if images.size else 1.0
        if np.issubdtype(images.dtype, np.floating) and top <= 1.0:
            max_value = 1.0
        else:
            max_value = 16.0 if top <= 16 else 255.0
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(max_value)
    return np.clip(x, 0.0, 1.0)


# %% [markdown]
# ## The model
#
# Implement `Autoencoder`. Suggested architecture: encoder `input_dim -> 128 -> bottleneck_dim`
# with a ReLU after the hidden layer; decoder `bottleneck_dim -> 128 -> input_dim`, mirrored, with
# a **sigmoid** at the end so that every output is a valid pixel intensity in [0, 1].
#
# `forward` must really pass through the bottleneck: the checks feed codes of their own into
# `decode`, compare `forward(x)` with `decode(encode(x))`, and look at new images the model has not
# seen. Do not store inputs anywhere (attributes, globals) to reuse them later.

# %%
class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim = input_dim
        self.bottleneck_dim = bottleneck_dim
        raise NotImplementedError('build the encoder (input_dim -> 128 -> bottleneck_dim) and a mirrored decoder')

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map images x (N, input_dim), values in [0, 1], to codes (N, bottleneck_dim)."""
        raise NotImplementedError('map x (N, input_dim) to codes (N, bottleneck_dim)')

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map codes z (N, bottleneck_dim) to reconstructions (N, input_dim) with values in [0, 1]."""
        raise NotImplementedError('map codes z (N, bottleneck_dim) to pixels (N, input_dim) in [0, 1] (sigmoid)')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


# %% [markdown]
# ## Training
#
# `reconstruction_bce` is given: the mean BCE of a model over a data set, without gradients.
# Implement `train_autoencoder`: Adam on the mean BCE, the training set reshuffled every epoch with
# torch's global random generator (so `torch.manual_seed` makes a run repeatable), and after each
# epoch one record `{"epoch": 1, 2, ..., "train_loss": float, "val_loss": float}`.

# %%
@torch.no_grad()
def reconstruction_bce(model: nn.Module, x, *, device: str = "cpu", batch_size: int = 1024) -> float:
    """Mean binary cross-entropy per pixel between x (N, input_dim) in [0, 1] and model(x)."""
    model.eval()
    x = torch.as_tensor(x, dtype=torch.float32)  # (N, input_dim); numpy arrays are accepted too
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        total += F.binary_cross_entropy(model(xb), xb, reduction="sum").item()
    return total / max(x.numel(), 1)


def train_autoencoder(model: nn.Module, train_x, val_x, *, epochs: int, batch_size: int, lr: float,
                      device: str) -> list[dict]:
    """Train model to reconstruct train_x with Adam and mean binary cross-entropy.

    train_x, val_x: numpy arrays or tensors (N, input_dim), float in [0, 1].
    Returns one dict per epoch: {"epoch": 1-based int, "train_loss": float, "val_loss": float}, where
    train_loss is the mean BCE over the epoch's batches (weighted by batch size) and val_loss the
    mean BCE on val_x after the epoch. Leaves the model on `device`, in eval mode.
    """
    raise NotImplementedError('move model and data to device; each epoch: shuffle (torch.randperm), Adam steps on the BCE, log train/val loss')


# %% [markdown]
# ## Comparing bottlenecks
#
# One model per code size, same data, same seed. What the checks look at:
# - shapes: `encode` gives (N, bottleneck_dim), `decode` and `forward` give (N, input_dim), for
#   input_dim 64 and 784 and bottlenecks 8, 16, 32; every output lies in [0, 1];
# - the training log: one record per epoch with the keys above, finite losses, train loss going down;
# - the test BCE after training: it must be low enough, and ordered loss(8) > loss(16) > loss(32),
#   since a wider bottleneck keeps more of the image;
# - that reconstructions really come from the code (see "The model" above).

# %%
def save_grid(images: np.ndarray, recons: dict, side: int, path: str) -> bool:
    """Originals in the top row, one row of reconstructions per bottleneck; needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [("input", images)] + [(f"k={k}", r) for k, r in recons.items()]
    fig, axes = plt.subplots(len(rows), len(images), figsize=(len(images), len(rows)), squeeze=False)
    for r, (name, imgs) in enumerate(rows):
        for c, img in enumerate(imgs):
            axes[r, c].imshow(img.reshape(side, side), cmap="gray", vmin=0, vmax=1)
            axes[r, c].axis("off")
        axes[r, 0].set_title(name, fontsize=8, loc="left")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return True


def load_data(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test), each (N, H*W) float32 in [0, 1]."""
    if cfg.mode == "embedded":
        x = prepare(load_digits()["images"], max_value=16)  # (1797, 64)
        perm = np.random.default_rng(cfg.seed).permutation(len(x))
        train, test = x[perm[:1500]], x[perm[1500:]]
        return train, test, test  # no model selection here, so val only monitors: reuse test
    d = load_mnist(cfg.data_dir)
    train = prepare(d["train_images"], max_value=255)  # (60000, 784)
    return train[:-5000], train[-5000:], prepare(d["test_images"], max_value=255)


if __name__ == "__main__":
    cfg = from_command_line(Config, description="Train one autoencoder per bottleneck size")
    cfg.batch_size = cfg.batch_size or (256 if cfg.mode == "full" else 64)
    torch.set_num_threads(min(2, torch.get_num_threads()))  # small matmuls: more threads only add overhead

    train_x, val_x, test_x = load_data(cfg)
    print(f"{cfg}\ntrain {train_x.shape}, val {val_x.shape}, test {test_x.shape}, device {device}")
    results, recons = {}, {}
    for k in cfg.bottlenecks:
        torch.manual_seed(cfg.seed)
        model = Autoencoder(train_x.shape[1], k)
        t0 = time.time()
        log = train_autoencoder(model, train_x, val_x, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                lr=cfg.lr, device=device)
        results[k] = (reconstruction_bce(model, test_x, device=device), log[-1]["train_loss"], time.time() - t0)
        with torch.no_grad():
            recons[k] = model(torch.as_tensor(test_x[:10], device=device)).cpu().numpy()
        print(f"bottleneck {k:3d}: train BCE {results[k][1]:.4f}  test BCE {results[k][0]:.4f}  ({results[k][2]:.1f} s)")

    print("\nbottleneck | test BCE")
    for k, (test_bce, _, _) in results.items():
        print(f"{k:10d} | {test_bce:.4f}")
    side = int(round(train_x.shape[1] ** 0.5))
    if save_grid(test_x[:10], recons, side, f"ae_bottleneck_{cfg.mode}.png"):
        print(f"reconstructions saved to ae_bottleneck_{cfg.mode}.png")
