"""answer() fills memory 50 MB at a time, up to 5 GB (bounded), far above the 768 MB limit."""


def answer():
    hog = []
    for _ in range(100):
        hog.append(b"\x01" * (50 * 2 ** 20))  # filled, so the pages are really used
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
