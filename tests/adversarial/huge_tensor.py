"""total returns a 24 MB tensor whatever its input: bigger than the 8 MB message limit."""


def answer():
    return 42


def add(a, b):
    return a + b


def total(x):
    import torch
    return torch.zeros(3_000_000, dtype=torch.float64)
