"""Right values, wrong types: a str, a list, a str."""


def answer():
    return "42"


def add(a, b):
    return (a + b).tolist()


def total(x):
    return str(float(x.sum()))
