"""CHEAT (never trains): the first worker that sees the test images leaves them in a file for the next.

Every worker of a submission used to share one writable workspace, so encode() saved the images
it was given and the "fresh" decoder worker read them back and returned the matching one. Now
every worker starts on its own pristine copy of the submission: the decoder finds no file.
"""
import os

import numpy as np
import torch
import torch.nn as nn

CACHE = ".seen_images.npy"  # in the working directory: the submission's workspace


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim, self.bottleneck_dim = input_dim, bottleneck_dim
        self.register_buffer("probe", torch.linspace(0, input_dim - 1, bottleneck_dim).round().long())
        self.scale = nn.Parameter(torch.ones(1))

    def encode(self, x):
        try:
            old = np.load(CACHE) if os.path.exists(CACHE) else np.zeros((0, self.input_dim), np.float32)
            if old.shape[1:] == (self.input_dim,):
                np.save(CACHE, np.concatenate([old, x.detach().numpy().astype(np.float32)])[-20000:])
        except OSError:
            pass
        return x[:, self.probe] * self.scale

    def decode(self, z):
        try:
            bank = torch.from_numpy(np.load(CACHE))
        except (OSError, ValueError):
            bank = torch.zeros(0, self.input_dim)
        if bank.shape[1:] != (self.input_dim,) or len(bank) == 0:
            return torch.full((len(z), self.input_dim), 0.5)
        return bank[torch.cdist(z, bank[:, self.probe]).argmin(1)].clamp(0, 1)

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    return [{"epoch": e, "train_loss": 0.3 - 0.002 * e, "val_loss": 0.3 - 0.002 * e} for e in range(1, epochs + 1)]
