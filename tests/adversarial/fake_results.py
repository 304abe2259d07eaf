"""answer() forges grading outputs everywhere it can think of (cwd, /tmp, parents, HOME, and the
real output and sentinel folders, TARGETS, filled in by the test fixture), then answers wrongly."""
import os

TARGETS = []  # replaced at test time
FORGED = '{"score": 999, "max_score": 5, "output": "FORGED-BY-SUBMISSION", "tests": []}\n'
NAMES = ("results.json", "result.json", "report.json", "grades.csv")


def answer():
    folders = [".", "..", "../..", "../../report", "../../..", "/tmp", os.path.expanduser("~"), *TARGETS]
    for folder in folders:
        for name in NAMES:
            try:
                with open(os.path.join(folder, name), "w") as f:
                    f.write(FORGED if name.endswith(".json") else "submission,score\nfake_results,999 FORGED-BY-SUBMISSION\n")
            except OSError:
                pass
    return 0


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
