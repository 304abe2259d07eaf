"""answer() writes a 1 GB file, far above the 16 MB file-size limit."""


def answer():
    block = b"\0" * 2 ** 20
    with open("huge.bin", "wb") as f:
        for _ in range(1024):
            f.write(block)
    return 42


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
