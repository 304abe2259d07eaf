"""os._exit(3) in a default argument: evaluated when the def runs, at import; the process just ends."""
import os


def answer():
    return 42


def add(a, b):
    return a + b


def total(x, _unused=os._exit(3)):
    return float(x.sum())
