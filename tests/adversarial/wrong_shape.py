"""add flattens its result; total sums only over the first axis."""


def answer():
    return 42


def add(a, b):
    return (a + b).ravel()


def total(x):
    return x.sum(axis=0)
