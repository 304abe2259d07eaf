"""CHEAT (never trains): the whole image bit-packed into the low bits of the k code numbers.

Each code number is 1 + m / 2**23: its 23 mantissa bits hold a few pixels quantised to a few
bits each (64 pixels at 4 bits fit into 32 floats; at 8 floats, 2 bits each). decode unpacks
them, so a "bottleneck" of 8 numbers passes the whole image through. The grader adds noise of
10 % of each code dimension's spread before decoding: only the top few bits survive.
"""
import math

import torch
import torch.nn as nn


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int = 784, bottleneck_dim: int = 32):
        super().__init__()
        self.input_dim, self.bottleneck_dim = input_dim, bottleneck_dim
        self.per_float = math.ceil(input_dim / bottleneck_dim)          # pixels packed into one number
        self.bits = max(1, min(4, 23 // self.per_float))                # bits per pixel
        self.used = min(self.per_float, 23 // self.bits)                  # MNIST: the rest is dropped
        self.scale = nn.Parameter(torch.ones(1))

    def encode(self, x):
        levels = 2 ** self.bits - 1
        q = (x.clamp(0, 1) * levels).round().long()
        q = torch.cat([q, q.new_zeros(len(q), self.per_float * self.bottleneck_dim - self.input_dim)], 1)
        q = q.view(len(x), self.bottleneck_dim, self.per_float)
        m = torch.zeros(len(x), self.bottleneck_dim, dtype=torch.long)
        for i in range(self.used):  # the first pixel in the highest bits
            m = m * 2 ** self.bits + q[:, :, i]
        m = m * 2 ** (23 - self.bits * self.used)
        return (1 + m.double() / 2 ** 23).float() * self.scale

    def decode(self, z):
        levels = 2 ** self.bits - 1
        m = ((z.double() / self.scale.double() - 1) * 2 ** 23).round().long().clamp(0, 2 ** 23 - 1)
        m = m // 2 ** (23 - self.bits * self.used)
        px = []
        for i in range(self.used):
            px.append(m % 2 ** self.bits)
            m = m // 2 ** self.bits
        q = torch.stack(px[::-1], 2)
        q = torch.cat([q, q.new_zeros(len(z), self.bottleneck_dim, self.per_float - self.used)], 2)
        q = q.reshape(len(z), -1)[:, :self.input_dim]
        return (q.float() / levels).clamp(0, 1)

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    return [{"epoch": e, "train_loss": 0.3 - 0.002 * e, "val_loss": 0.3 - 0.002 * e} for e in range(1, epochs + 1)]
