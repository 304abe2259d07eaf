"""CHEAT (never trains its weights): a fixed principal-component code computed from public digits.

encode projects the centred image onto the first k principal components of scikit-learn's bundled
digits (inside the sandbox), decode returns the public mean image plus the code mapped back by the
same fixed matrix. On 64-pixel digits 32 components keep almost everything, distorted or not, so the
reconstructions are good; the log reports their true BCE. The model keeps a Linear layer so that it
has weights to hand over, and never uses it: decoded again with those weights perturbed or
shuffled, the reconstructions do not change (grader.authoring.weights_dependence), and the quality
points are lost.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def _public_components(input_dim: int, k: int):
    from sklearn.datasets import load_digits
    x = load_digits().images.reshape(-1, 64) / 16.0
    x = x[:, np.arange(input_dim) % 64]  # another size: something of the right shape
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = np.zeros((k, input_dim))
    basis[:min(k, len(vt))] = vt[:k]
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(basis.astype(np.float32))


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim, self.bottleneck_dim = input_dim, bottleneck_dim
        self.unused = nn.Linear(bottleneck_dim, input_dim)  # weights to hand over, never read

    def encode(self, x):
        mean, basis = _public_components(self.input_dim, self.bottleneck_dim)
        return (x - mean) @ basis.T

    def decode(self, z):
        mean, basis = _public_components(self.input_dim, self.bottleneck_dim)
        return (mean + z @ basis).clamp(1e-3, 1 - 1e-3)

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    with torch.no_grad():
        train = F.binary_cross_entropy(model(train_x), train_x).item()
        val = F.binary_cross_entropy(model(val_x), val_x).item()
    return [{"epoch": e, "train_loss": train + 0.01 * (epochs - e), "val_loss": val} for e in range(1, epochs + 1)]
