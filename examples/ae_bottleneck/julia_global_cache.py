"""CHEAT (never trains): forward and encode keep the input in a module global; decode returns it.

Within one process decode(encode(x)) is a perfect copy. The grader decodes the codes in another
process that holds only the weights, where the global is empty, and compares with forward(x).
"""
import torch
import torch.nn as nn

_SEEN = {}


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim, self.bottleneck_dim = input_dim, bottleneck_dim
        self.encoder = nn.Linear(input_dim, bottleneck_dim)
        self.decoder = nn.Linear(bottleneck_dim, input_dim)

    def encode(self, x):
        z = self.encoder(x)
        _SEEN[len(x)] = x.detach().clamp(0, 1)
        return z

    def decode(self, z):
        if len(z) in _SEEN:
            return _SEEN[len(z)]
        return torch.sigmoid(self.decoder(z))

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    return [{"epoch": e, "train_loss": 0.3 - 0.002 * e, "val_loss": 0.3 - 0.002 * e} for e in range(1, epochs + 1)]
