"""answer() starts sleeping threads until it cannot (bounded at 2000)."""
import threading
import time


def answer():
    for _ in range(2000):
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
