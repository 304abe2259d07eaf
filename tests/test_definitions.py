"""grader/definitions.py: the definitions-only load keeps what a submission defines and skips what it
runs, in place, so line numbers do not move."""
from __future__ import annotations

import ast
import textwrap

import pytest

from grader.definitions import definitions_only

SOURCE = textwrap.dedent('''\
    """A student's notebook, flattened."""
    import os
    import numpy as np
    from dataclasses import dataclass, field

    LR = 3e-4
    SIZES = [32, 16, 8]
    NAME: str = "ae"
    PATHS = {k: os.path.join("data", k) for k in ("train", "test")}
    device = "cuda" if len(SIZES) > 99 else "cpu"
    np.random.seed(0)


    @dataclass
    class Config:
        lr: float = 1e-3
        sizes: list = field(default_factory=lambda: [1, 2])


    cfg = Config(lr=LR)


    class Model:
        scale = 2

        def forward(self, x):
            return x * self.scale


    def train(model, epochs=3):
        raise RuntimeError("training ran while grading")


    model = Model()
    train(model)
    for epoch in range(10):
        train(model)
    while True:
        train(model)
    with open("log.txt", "w") as f:
        f.write("x")
    if len(SIZES) == 3:
        DEPTH = 3
        train(model)
    try:
        import missing_library
    except ImportError:
        missing_library = None
    history = train(
        model,
        epochs=100,
    )
    if __name__ == "__main__":
        train(model)
    AFTER = "still here"
    ''')


def _skipped_lines(skipped):
    return {s.line: s.what for s in skipped}


def test_keeps_definitions_and_cheap_constants():
    out, _ = definitions_only(SOURCE)
    ns: dict = {}
    exec(compile(out, "submission.py", "exec"), ns)  # nothing in the result may train
    assert ns["LR"] == 3e-4 and ns["SIZES"] == [32, 16, 8] and ns["NAME"] == "ae"
    assert ns["PATHS"]["test"] == "data/test" and ns["device"] == "cpu"
    assert ns["Config"]().sizes == [1, 2]
    assert ns["cfg"].lr == 3e-4  # a dataclass config built from constants is kept
    assert ns["Model"]().forward(2) == 4
    assert ns["DEPTH"] == 3  # the cheap `if` is kept and filtered inside
    assert ns["missing_library"] is None  # try/except kept
    assert ns["AFTER"] == "still here"
    for name in ("model", "history", "epoch", "f"):
        assert name not in ns, name


def test_skips_calls_loops_with_blocks_and_main():
    _, skipped = definitions_only(SOURCE)
    lines = SOURCE.splitlines()
    found = _skipped_lines(skipped)

    def line_of(text):
        return next(i for i, line in enumerate(lines, 1) if line.strip() == text)

    assert found[line_of("model = Model()")].startswith("statement: model = Model()")
    assert found[line_of("train(model)")].startswith("call: train(model)")
    assert found[line_of("for epoch in range(10):")].startswith("loop: ")
    assert found[line_of("while True:")].startswith("loop: ")
    assert found[line_of('with open("log.txt", "w") as f:')].startswith("with-block: ")
    assert found[line_of("history = train(")].startswith("statement: history = train(")
    assert found[line_of('if __name__ == "__main__":')].startswith('`if __name__ == "__main__":` block')
    assert line_of("np.random.seed(0)") not in found  # seeding is kept
    assert line_of("cfg = Config(lr=LR)") not in found


def test_line_numbers_are_preserved():
    out, skipped = definitions_only(SOURCE)
    before, after = SOURCE.splitlines(), out.splitlines()
    assert len(after) == len(before)
    skipped_lines = {s.line for s in skipped}
    for number, (old, new) in enumerate(zip(before, after), 1):
        if number in skipped_lines:
            assert new.strip() == "pass" and new[: len(new) - 4] == old[: len(old) - len(old.lstrip())]
        elif new != old:
            assert new == "", f"line {number}: {old!r} became {new!r}"  # the tail of a skipped statement
    tree = ast.parse(out)
    train = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train")
    assert before[train.lineno - 1].startswith("def train(")


def test_several_statements_on_one_line_and_non_ascii_text():
    source = 'GREETING = "árvíztűrő"; print_and_train(GREETING); X = 1\nY = "ő"  ;  run()\n'
    out, skipped = definitions_only(source)
    assert out == 'GREETING = "árvíztűrő"; pass; X = 1\nY = "ő"  ;  pass\n'
    assert [s.line for s in skipped] == [1, 2]


def test_nested_blocks_of_kept_statements_are_filtered():
    source = textwrap.dedent("""\
        import torch
        if torch.cuda.is_available():
            DEVICE = "cuda"
            torch.cuda.empty_cache()
        else:
            DEVICE = "cpu"
            for i in range(3):
                pass
        """)
    out, skipped = definitions_only(source)
    assert [s.line for s in skipped] == [4, 7]
    assert out.splitlines()[3] == "    pass" and out.splitlines()[6] == "    pass"
    assert out.splitlines()[7] == ""


def test_expensive_conditions_and_unknown_calls_are_skipped():
    source = "import torch\nif train():\n    X = 1\nW = torch.randn(10**9)\nLOSS = torch.nn.MSELoss()\n"
    out, skipped = definitions_only(source)
    assert [s.line for s in skipped] == [2, 4]
    assert "LOSS = torch.nn.MSELoss()" in out  # nn constructors are cheap


def test_a_syntax_error_is_raised():
    with pytest.raises(SyntaxError):
        definitions_only("def f(:\n    pass\n")


def test_source_with_nothing_to_skip_is_unchanged():
    source = "import math\n\n\ndef f(x):\n    return math.sqrt(x)\n"
    assert definitions_only(source) == (source, [])
