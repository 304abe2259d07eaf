"""answer() tries to SIGKILL its parent process, then answers correctly."""
import os
import signal
import time


def answer():
    try:
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass
    time.sleep(0.3)
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
