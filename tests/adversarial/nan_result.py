"""add and total return NaN."""
import numpy as np


def answer():
    return 42


def add(a, b):
    return a + b + np.nan


def total(x):
    return float("nan")
