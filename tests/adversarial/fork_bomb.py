"""answer() forks until it cannot (bounded at 1000); each child becomes `sleep 31.4159`, a marker
the test looks for afterwards: none may survive grading."""
import os


def answer():
    for _ in range(1000):
        pid = os.fork()
        if pid == 0:
            try:
                os.execv("/bin/sleep", ["sleep", "31.4159"])
            finally:
                os._exit(0)
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
