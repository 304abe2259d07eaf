"""Batches of quick submissions of the `tiny` fixture assignment, for the batch-grading tests and
bench/bench_batch.py: copies of the reference, the template and cases of the hostile corpus."""
from __future__ import annotations

import shutil
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY = HERE / "fixtures" / "assignments" / "tiny"
REFERENCE = HERE / "fixtures" / "reference_solutions" / "tiny" / "tiny.py"
TEMPLATE = HERE / "fixtures" / "templates" / "tiny" / "tiny.ipynb"
CORPUS = HERE / "adversarial"

# each grades in about a second and always to the same result
WRONG = ("wrong_type", "nan_result", "wrong_shape", "syntax_error", "empty", "missing_import")
HOSTILE = ("evil_object", "exit_toplevel", "exit_in_class", "os_exit_default_arg", "bad_json")
ENCODINGS = ("bom_source", "latin1_source")


def _corpus_file(case: str) -> Path:
    return next(CORPUS.glob(f"{case}.*"))


def renamed_reference(seed: int) -> str:
    """The reference with other names, comments and layout: the same program to the grader."""
    text = REFERENCE.read_text()
    text = text.replace("(a, b)", f"(a{seed}, b{seed})").replace("a + b", f"a{seed} + b{seed}")
    text = text.replace("(x)", f"(x_{seed})").replace("x.sum()", f"x_{seed}.sum()")
    return f"# submission {seed}\n" + text.replace("\n\n\n", "\n\n")


def make_batch(folder: Path, *, count: int = 12) -> list[str]:
    """`count` submissions in `folder`, cycling through correct, wrong and hostile ones; their ids."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ["correct", *WRONG[:3], "template", *HOSTILE[:2], *ENCODINGS, "zip", *WRONG[3:], *HOSTILE[2:]]
    ids = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        sid = f"s{i:03d}_{kind}"
        if kind == "correct":
            (folder / f"{sid}.py").write_text(renamed_reference(i))
        elif kind == "template":
            shutil.copyfile(TEMPLATE, folder / f"{sid}.ipynb")
        elif kind == "zip":
            with zipfile.ZipFile(folder / f"{sid}.zip", "w") as zf:
                zf.writestr("homework/tiny.py", renamed_reference(i))
                zf.writestr("homework/train_log.jsonl", "".join(f'{{"epoch": {e}, "loss": {1 / (e + 1):.4f}}}\n'
                                                                for e in range(8)))
        else:
            src = _corpus_file(kind)
            shutil.copyfile(src, folder / f"{sid}{src.suffix}")
        ids.append(sid)
    return ids


def gradebook_count(path: Path) -> int:
    """Rows committed to a gradebook that another process may be writing (0 before it exists)."""
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(path, timeout=5)) as db:
            return db.execute("SELECT count(*) FROM submissions").fetchone()[0]
    except sqlite3.OperationalError:   # the table is not created yet
        return 0
