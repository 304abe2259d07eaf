"""CHEAT (never trains): the test images are scikit-learn's digits, so return the nearest one.

In the embedded mode the grader's test split used to be sklearn's bundled digits, split with a
seed that ships to students; sklearn is inside the sandbox. The "code" is a few pixels; decode
loads the public digits and returns the one those pixels match best. Now every graded image is
bent by its own distortion drawn from the course key, and no public digit matches it.
"""
import numpy as np
import torch
import torch.nn as nn


def _public_digits(input_dim):
    from sklearn.datasets import load_digits
    x = load_digits().images.reshape(-1, 64) / 16.0
    side = int(round(input_dim ** 0.5))
    if input_dim != 64 and side * side == input_dim:  # MNIST-sized: blow the 8x8 digits up (nearest neighbour)
        idx = np.arange(side) * 8 // side
        x = x.reshape(-1, 8, 8)[:, idx][:, :, idx].reshape(len(x), -1)
    elif input_dim != 64:  # any other size: something of the right shape
        x = x[:, np.arange(input_dim) % 64]
    return torch.from_numpy(x.astype(np.float32))


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim, self.bottleneck_dim = input_dim, bottleneck_dim
        self.register_buffer("probe", torch.linspace(0, input_dim - 1, bottleneck_dim).round().long())
        self.scale = nn.Parameter(torch.ones(1))

    def encode(self, x):
        return x[:, self.probe] * self.scale

    def decode(self, z):
        bank = _public_digits(self.input_dim)
        return bank[torch.cdist(z, bank[:, self.probe]).argmin(1)]

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    return [{"epoch": e, "train_loss": 0.3 - 0.002 * e, "val_loss": 0.3 - 0.002 * e} for e in range(1, epochs + 1)]
