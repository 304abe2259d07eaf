"""Imports a library the grading machine does not have."""
import numpy as np
import tensorflow as tf  # noqa: F401  (not installed where the grader runs)


def answer():
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
