"""answer() ignores SIGTERM and SIGINT, then spins: only SIGKILL can stop it."""
import signal


def answer():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
