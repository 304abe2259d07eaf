"""add returns a 24 MB tensor whatever its inputs: bigger than the 8 MB message limit."""


def answer():
    return 42


def add(a, b):
    import torch
    return torch.zeros(3_000_000, dtype=torch.float64)


def total(x):
    return float(x.sum())
