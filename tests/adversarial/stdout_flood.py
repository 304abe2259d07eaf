"""answer() prints forever (gigabytes, if nothing stopped it)."""


def answer():
    line = "spam " * 200
    while True:
        print(line)


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
