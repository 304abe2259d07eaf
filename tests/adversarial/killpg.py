"""answer() SIGKILLs its own process group."""
import os
import signal


def answer():
    os.killpg(0, signal.SIGKILL)
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
