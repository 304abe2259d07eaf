"""Returns objects that claim to equal anything: evil __eq__, __float__, __int__, __array__, __bool__.
They must stay in the worker (as handles) and fail the checks, not fool them or crash the grader."""
import numpy as np


class EvilInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class Evil:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __float__(self):
        return 42.0

    def __int__(self):
        return 42

    def __index__(self):
        return 42

    def __bool__(self):
        return True

    def __len__(self):
        return 6

    def __array__(self, *args, **kwargs):
        return np.ones((2, 3))

    def __repr__(self):
        return "42"

    __hash__ = object.__hash__


class EvilArray(np.ndarray):
    def __eq__(self, other):
        return True


def answer():
    return EvilInt(42)


def add(a, b):
    return np.asarray(a + b).view(EvilArray)


def total(x):
    return Evil()
