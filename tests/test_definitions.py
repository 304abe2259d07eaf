"""grader/intake/definitions.py: the definitions-only load keeps what a submission defines and skips what it
runs, in place, so line numbers do not move."""
from __future__ import annotations

import ast
import os
import textwrap

import pytest

from grader.intake.definitions import definitions_only, filter_definitions

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


# --- following the data: a kept statement needs every name it reads -------------------------------

def _reasons(source, **kw):
    out = filter_definitions(textwrap.dedent(source), **kw)
    return out, {s.what.split(": ", 1)[1]: s.reason for s in out.skipped}


def test_statements_reading_skipped_names_are_skipped_with_the_reason():
    out, why = _reasons("""\
        import numpy as np
        X = np.load("train.npy")
        input_dim = X.shape[1]
        X /= 255
        n = len(X)
        args = parser.parse_args()
        args.k = 8
        cfg = {}
        cfg["k"] = input_dim
        K = 8
        K2 = K * 2
        """)
    assert why["X = np.load(\"train.npy\")"] == "calls `np.load`, which may do real work"
    assert why["input_dim = X.shape[1]"] == "reads `X`, which comes from a skipped statement (line 2)"
    assert why["X /= 255"] == "reads `X`, which comes from a skipped statement (line 2)"  # augmented: reads its target
    assert why["n = len(X)"] == "reads `X`, which comes from a skipped statement (line 4)"
    assert why["args.k = 8"] == "reads `args`, which comes from a skipped statement (line 6)"  # attribute target
    assert why['cfg["k"] = input_dim'].startswith("reads `input_dim`")  # subscript target kept, its value not
    ns: dict = {}
    exec(out.source, ns)
    assert ns["K2"] == 16 and ns["cfg"] == {} and "input_dim" not in ns


def test_a_name_never_defined_above_is_not_read():
    _, why = _reasons("Y = X_later + 1\nX_later = 1\n")
    assert why == {"Y = X_later + 1": "reads `X_later`, which is not defined above it"}


def test_function_bodies_are_free_but_decorators_defaults_and_class_bodies_are_checked():
    out, why = _reasons("""\
        import torch
        data = torch.load("x.pt")
        def uses_data_later():
            return data.sum()
        @register(data)
        def decorated():
            pass
        class Holder:
            size = data.shape[0]
        class Model(torch.nn.Module):
            scale = 2
            width = scale * 4
            def forward(self, x):
                return x * data
        """)
    assert "uses_data_later():" not in " ".join(why) and "class Model(torch.nn.Module):" not in why
    assert why["def decorated():"] == "reads `data`, which comes from a skipped statement (line 2)"
    assert "@register" not in out.source  # the decorator goes with its function
    assert why["class Holder:"] == "reads `data`, which comes from a skipped statement (line 2)"
    ns: dict = {}
    exec(out.source, ns)
    assert ns["Model"].width == 8 and "Holder" not in ns
    assert any("`Model`" in w and "`data`" in w for w in out.warnings)  # a graded method reading skipped data


def test_a_default_read_from_skipped_data_keeps_the_function():
    out, why = _reasons("""\
        import numpy as np
        X = np.load("x.npy")
        input_dim = X.shape[1]
        class Net:
            def __init__(self, input_dim=input_dim, k=32):
                self.shape = (input_dim, k)
        """)
    assert why["Net.__init__(... = input_dim)"].startswith("reads `input_dim`, which comes from a skipped statement (line 3)")
    ns: dict = {}
    exec(out.source, ns)
    assert ns["Net"](64, 8).shape == (64, 8)
    with pytest.raises(ImportError, match="a default value of your function was not computed while grading: it reads `input_dim`"):
        ns["Net"]().shape[0] + 1


def test_rebinding_a_skipped_name_with_a_kept_value_makes_it_usable():
    out, why = _reasons("X = load()\nX = 3\nY = X + 1\nX = load()\nZ = X\n")
    assert "Y = X + 1" not in why and why["Z = X"] == "reads `X`, which comes from a skipped statement (line 4)"


def test_comprehensions_that_do_work_and_main_blocks_stay_out():
    _, why = _reasons("""\
        SIZES = [2 ** i for i in range(4)]
        MODELS = [train(k) for k in SIZES]
        if __name__ == "__main__":
            run()
        """)
    assert "SIZES = [2 ** i for i in range(4)]" not in why
    assert why["MODELS = [train(k) for k in SIZES]"] == "calls `train`, which may do real work"
    assert why['if __name__ == "__main__":'] == "runs only when the file is run as a script"


def test_names_bound_in_either_branch_of_a_kept_if_are_bound():
    out, why = _reasons("""\
        import torch
        if torch.cuda.is_available():
            DEVICE = "cuda"
        else:
            DEVICE = "cpu"
        LOSS_DEVICE = DEVICE
        """)
    assert why == {}
    ns: dict = {}
    exec(out.source, ns)
    assert ns["LOSS_DEVICE"] in ("cuda", "cpu")


# --- imports the grading environment may lack -----------------------------------------------------

MISSING_IMPORTS = textwrap.dedent("""\
    import os, math
    import numpy as np
    import torch
    import dlgrade_no_such_pkg
    import dlgrade_no_such_viz.pyplot as plt
    from dlgrade_no_such_bar.auto import tqdm
    import tensorflow as tf
    from tensorflow import keras
    import json as dlgrade_no_such_pkg_alias
    plt.rcParams["figure.figsize"] = (8, 4)
    plt.style.use("ggplot")

    class KerasNet(keras.Model):
        def call(self, x):
            return x

    def plots(x):
        plt.imshow(x)

    def progress(n):
        return list(tqdm(range(n)))

    def honest(x):
        return math.sqrt(x) + os.sep.count("/")
    """)


def _load(source, **kw):
    out = filter_definitions(source, **kw)
    ns = {"__file__": "/nonexistent/submission.py"}
    exec(compile(out.source, "submission.py", "exec"), ns)
    return out, ns


def test_missing_third_party_imports_bind_a_stand_in_that_fails_only_when_used():
    out, ns = _load(MISSING_IMPORTS)
    assert len(out.source.splitlines()) == len(MISSING_IMPORTS.splitlines()) + 1  # one line appended, none moved
    assert ns["honest"](4) == 2.0 + os.sep.count("/")  # the graded function works
    with pytest.raises(ImportError, match=r"^dlgrade_no_such_viz is not available when grading \(it is not installed "
                                          r"there; imported at line 5\); the graded functions must not need it \(your code used `plt.imshow`\)"):
        ns["plots"](1)
    with pytest.raises(ImportError, match="dlgrade_no_such_bar is not available when grading .*used `tqdm\\(...\\)`"):
        ns["progress"](3)
    with pytest.raises(ImportError, match="^this assignment is graded in PyTorch; Keras/TensorFlow code cannot be graded"):
        ns["KerasNet"]()
    with pytest.raises(ImportError, match="dlgrade_no_such_pkg is not available"):
        iter(ns["dlgrade_no_such_pkg"])
    assert ns["np"].__name__ == "numpy" and ns["dlgrade_no_such_pkg_alias"].__name__ == "json"
    assert [name for _, name in out.stand_ins] == [
        "dlgrade_no_such_pkg", "dlgrade_no_such_viz.pyplot as plt", "dlgrade_no_such_bar.auto.tqdm",
        "tensorflow as tf", "tensorflow.keras"]


def test_stdlib_torch_and_numpy_imports_are_left_as_written():
    source = "import os\nimport numpy as np\nimport torch.nn as nn\nfrom collections import OrderedDict\n"
    assert definitions_only(source) == (source, [])


def test_the_submissions_own_modules_raise_instead_of_becoming_stand_ins(tmp_path):
    (tmp_path / "helpers.py").write_text("VALUE = 41\n")
    out = filter_definitions("from helpers import VALUE\nfrom helpers import MISSING\n", local_modules={"helpers"})
    ns = {"__file__": str(tmp_path / "__submission__.py")}
    code = compile(out.source, "submission.py", "exec")
    with pytest.raises(ImportError, match="cannot import name 'MISSING' from 'helpers'"):
        exec(code, ns)
    assert ns["VALUE"] == 41  # found through the submission's folder, put first on sys.path
    assert out.stand_ins == []


# --- following mutation: a name a skipped statement changes is not what the student's run left ---

def test_a_list_filled_by_a_skipped_loop_takes_its_readers_with_it():
    out, why = _reasons("""\
        import numpy as np
        temps = []
        for day in range(10):
            temps.append(read_day(day))
        series = np.array(temps)
        n = series.shape[1]
        """)
    assert why["series = np.array(temps)"] == "reads `temps`, which a skipped statement changes (line 3)"
    assert why["n = series.shape[1]"] == "reads `series`, which comes from a skipped statement (line 5)"
    exec(out.source, {})  # before: `n = series.shape[1]` raised IndexError "while importing" code that runs fine


def test_a_dict_filled_by_a_skipped_loop_takes_its_readers_with_it():
    out, why = _reasons("""\
        results = {}
        for k in (8, 16):
            results[k] = evaluate(k)
        best = min(results, key=results.get)
        """)
    assert why["best = min(results, key=results.get)"] == "reads `results`, which a skipped statement changes (line 2)"
    exec(out.source, {})  # before: min() of an empty dict raised ValueError while importing


@pytest.mark.parametrize("change,line", [
    ("log.extra = compute()", 2), ("log += [compute()]", 2), ("del log[0]", 2), ("record(log)", 2),
    ("log[0]['k'] = compute()", 2), ("with open('x') as f:\n    log.append(f.read())", 2),
    ("if compute():\n    log.append(1)", 2), ("if len(log) > 0:\n    log.append(compute())", 3),
])
def test_every_way_a_skipped_statement_changes_a_name_takes_its_readers(change, line):
    _, why = _reasons("log = [{}]\n" + change + "\nLAST = log[-1]\n")
    assert why["LAST = log[-1]"] == f"reads `log`, which a skipped statement changes (line {line})", why


def test_what_no_skipped_call_can_change_keeps_its_readers():
    out, why = _reasons("""\
        import numpy as np
        import torch
        DATA = "data/"
        SIZES = (32, 16)
        CFG = {"lr": 0.1}
        def fit(model, cfg):
            return model, cfg["lr"]
        def fill(d):
            d["seen"] = True
        X = np.load(DATA + "x.npy")
        np.random.shuffle(X)
        fit(torch.nn.Linear(2, 2), CFG)
        print(SIZES, CFG)
        box = {}
        fill(box)
        PATH = DATA + "model.pt"
        LR = CFG["lr"]
        SEEN = box["seen"]
        device = "cuda" if torch.cuda.is_available() else "cpu"
        net = torch.nn.Linear(2, 2)
        net.to(device)
        def train(model, cfg=CFG, path=PATH, device=device):
            return cfg, path, device
        """)
    # a string, a tuple, an import; a dict given to a function of the submission that only reads it, or to print
    assert "PATH = DATA + \"model.pt\"" not in why and "LR = CFG[\"lr\"]" not in why
    assert why["SEEN = box[\"seen\"]"] == "reads `box`, which a skipped statement changes (line 15)"
    ns: dict = {}
    exec(out.source, ns)
    assert ns["train"](None) == ({"lr": 0.1}, "data/model.pt", "cpu")  # its defaults are the student's


def test_a_graded_function_reading_a_changed_name_is_warned_about():
    out = filter_definitions("history = []\nfor e in range(3):\n    history.append(e)\ndef last():\n    return history[-1]\n")
    assert out.warnings == ["`last` (line 4) uses `history`, which a statement not run while grading changes (line 2): "
                            "a graded function that needs it sees it as it was before that statement; pass it as an "
                            "argument or compute it inside the function"]


# --- work at class creation that calls the submission's own code is not paid at import ---------

CREATION = textwrap.dedent("""\
    import torch.nn as nn
    MARKER = {marker!r}
    def warm_up(*args):
        open(MARKER, "a").write("ran\\n")  # a 30 s warm-up, as far as the test can tell
        return 8
    class Slow:
        def __set_name__(self, owner, name):
            warm_up()
    class Registry:
        def __init_subclass__(cls, width=0, **kwargs):
            super().__init_subclass__(**kwargs)
            warm_up(cls)
    class Meta(type):
        def __new__(mcs, name, bases, ns, **kwargs):
            warm_up(name)
            return super().__new__(mcs, name, bases, ns, **kwargs)
    def timed(fn):
        warm_up()
        return fn
    class Net(Registry, metaclass=Meta, width=warm_up()):
        cache = warm_up()
        slot = Slow()
        act = nn.ReLU()
        sizes = list(range(3))
        def __init_subclass__(cls, **kwargs):
            pass
        @timed
        def forward(self, x, k=warm_up()):
            return x * 2
    @timed
    def graded(x):
        return x + 1
    """)


def test_class_creation_work_calling_the_submissions_code_never_runs_at_import(tmp_path):
    marker = tmp_path / "warm_up_ran"
    source = CREATION.format(marker=str(marker))
    out, why = _reasons(source)
    ns: dict = {}
    exec(compile(out.source, "submission.py", "exec"), ns)
    assert not marker.exists()  # not once: every worker would have paid it
    lines = source.splitlines()
    assert len(out.source.splitlines()) == len(lines) + 1  # nothing moved (one line appended)
    assert why["Net.cache = warm_up()"] == "calls `warm_up`, defined in your code, when the class is created; using it fails"
    assert why["Net.slot = Slow()"].startswith("calls `Slow`")
    assert why["class Net(... width=warm_up())"].startswith("calls `warm_up`")
    assert why["Net.forward(... = warm_up())"] == ("calls `warm_up`, defined in your code, when `Net.forward` is "
                                                  "defined; using it fails")
    assert why["@timed of graded"] == ("calls `timed`, defined in your code, when `graded` is defined; applied at its "
                                       "first call instead")
    assert why["warm_up()"] == ("calls `warm_up`, defined in your code, when the class is created: not run while "
                                "grading")  # Slow.__set_name__
    assert "warm_up(cls)" in why and "warm_up(name)" in why
    # cheap constructors stay as written; the class and the graded function work
    assert isinstance(ns["Net"].act, ns["nn"].ReLU) and ns["Net"].sizes == [0, 1, 2]
    with pytest.raises(ImportError, match=r"^the class attribute `Net.cache` was not computed while grading: it calls "
                                          r"`warm_up`, defined in your code, when the class is created; compute it in "
                                          r"a method, or make it a constant$"):
        ns["Net"].cache + 1
    assert not marker.exists()
    assert ns["graded"](1) == 2 and ns["graded"](2) == 3  # the decorator is applied at the first call, once
    assert marker.read_text() == "ran\n"
    assert ns["Net"]().forward(3, k=1) == 6


def test_cheap_class_bodies_and_library_decorators_are_left_as_written():
    source = textwrap.dedent("""\
        import functools
        import torch
        class Net(torch.nn.Module):
            act = torch.nn.ReLU()
            @functools.lru_cache(maxsize=None)
            def table(self, k=len("abc")):
                return k
        """)
    assert definitions_only(source) == (source, [])
