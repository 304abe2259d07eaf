"""Saved by an editor that writes a UTF-8 byte-order mark; graded normally."""


def answer():
    return 42  # réponse


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
