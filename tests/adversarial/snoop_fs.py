"""answer() hunts for hidden tests and reference solutions: the paths it knows (TARGETS, filled in
by the test fixture with the real locations) and a walk of the filesystem. It returns 42 only if
it found nothing; otherwise the paths it found (so the failed check names them)."""
import os
import time

TARGETS = []  # replaced at test time
# names only the grader's side has: the fixture's hidden test, assignment folders, grading outputs
NAMES = {"test_hidden.py", "reference_solutions", "assignment.yaml", "grades.csv", "run.json", "report.json"}


def answer():
    found = []
    for path in TARGETS:
        try:
            with open(path, "rb") as f:
                f.read(16)
            found.append(path)
        except OSError:
            if os.path.exists(path):
                found.append(path)
    deadline = time.monotonic() + 2.0
    here = os.getcwd()
    roots = [os.path.dirname(os.path.dirname(here)), "/tmp", "/work", "/home", "/root", "/srv", "/"]
    for top in roots:
        for root, dirs, files in os.walk(top):
            if root in ("/proc", "/sys", "/dev") or root.startswith(here):
                dirs[:] = []
                continue
            found += [os.path.join(root, n) for n in files + dirs if n in NAMES]
            if time.monotonic() > deadline:
                break
    return 42 if not found else sorted(set(found))[:12]


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
