"""answer() tries to read what only the grader may read: the hidden tests, the reference solution,
the outputs of other submissions (TARGETS, filled in by the test fixture with the real paths).
It returns 42 only if every one of them is unreadable; otherwise the paths it could read."""
TARGETS = []  # replaced at test time


def answer():
    read = []
    for path in TARGETS:
        try:
            with open(path, "rb") as f:
                f.read(16)
            read.append(path)
        except OSError:
            pass
    return 42 if not read else read


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
