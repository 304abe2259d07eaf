"""sys.exit(0) inside a class body: class bodies run at import, so the filter cannot skip it."""
import sys


def answer():
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())


class Config:
    epochs = 3
    sys.exit(0)
