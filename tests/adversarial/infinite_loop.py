"""answer() never returns; add and total are correct."""


def answer():
    n = 0
    while True:
        n += 1


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
