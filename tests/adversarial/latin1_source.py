"""Saved in latin-1 (not UTF-8): read as latin-1, with a note."""
OWNER = "Gábor Örs"  # ékezetek


def answer():
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
