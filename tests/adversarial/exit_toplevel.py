"""Correct, but calls sys.exit(0) at top level: the definitions-only load skips the call (with a note)."""
import sys


def answer():
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())


sys.exit(0)
