"""CHEAT (never trains): a buffer declared in __init__ remembers the last large batch forward() saw.

It used to score 20/20: the grader took state_dict() after the training worker had already run
forward on the whole test set, and the "fresh" decoder loaded that buffer. encode returns a few
pixels of the image as the "code"; decode looks up the remembered image that matches them best.
Now the weights are taken right after training, so the memory holds training images at best,
and the hidden test images (distorted with the course key) match none of them.
"""
import torch
import torch.nn as nn

MEMORY = 2048  # images


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim, self.bottleneck_dim = input_dim, bottleneck_dim
        self.register_buffer("memory", torch.zeros(MEMORY, input_dim))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("probe", torch.linspace(0, input_dim - 1, bottleneck_dim).round().long())
        self.scale = nn.Parameter(torch.ones(1))  # so that there is something to "train"

    def encode(self, x):
        return x[:, self.probe] * self.scale

    def decode(self, z):
        n = int(self.filled)
        if n == 0:
            return torch.full((len(z), self.input_dim), 0.5)
        bank = self.memory[:n]
        nearest = torch.cdist(z, bank[:, self.probe]).argmin(1)
        return bank[nearest].clamp(0, 1)

    def forward(self, x):
        if len(x) >= 100:  # the grader's big evaluation batch
            n = min(len(x), MEMORY)
            self.memory[:n] = x[:n].detach()
            self.filled.fill_(n)
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    with torch.no_grad():
        model(torch.as_tensor(train_x, dtype=torch.float32))  # remember the training images
    return [{"epoch": e, "train_loss": 0.3 - 0.002 * e, "val_loss": 0.3 - 0.002 * e} for e in range(1, epochs + 1)]
