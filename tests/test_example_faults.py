"""Examples stored as their planted fault (`examples/<assignment>/<name>.fault.py`) are made whole by
examples/materialise.py: the reference's code file with the fault's definitions in place of the
reference's (a `...` line keeps the reference's lines there), the fault's added code before the main
guard, and its docstring as an `# EXAMPLE SUBMISSION` comment. The grading tests
(tests/test_conv1d_integrity.py, tests/test_gan_cheats.py) grade the whole files.

    python examples/materialise.py conv1d_windowing /tmp/conv1d-examples
    python examples/materialise.py gan /tmp/gan-examples
"""
from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MATERIALISE = runpy.run_path(str(REPO / "examples" / "materialise.py"))
plant, materialise = MATERIALISE["plant"], MATERIALISE["materialise"]

# example -> the reference definitions its fault replaces; a cheat that wraps the reference's code adds
# its own after the reference's (True)
CONV1D = {
    "anna_reshape": ({"Conv1dForecaster"}, False),
    "bence_off_by_one": ({"make_windows"}, False),
    "csaba_target_leak": ({"make_targets"}, False),
    "dora_no_purge": ({"chronological_split"}, False),
    "erik_output_shape": ({"Conv1dForecaster", "train_forecaster"}, False),
    "ferenc_public_lookup": (set(), True),
    "gizella_window_stash": (set(), True),
    "hugo_forward_buffer": (set(), True),
    "kornel_public_csv_lookup": (set(), True),
}
GAN = {
    "blend": ({"Generator", "train_gan"}, False),
    "buffer_bank": ({"Generator", "train_gan"}, False),
    "collapsed": ({"Generator"}, False),
    "log_sigmoid": ({"discriminator_loss"}, False),
    "memoriser": ({"Generator", "train_gan"}, True),  # the module global that train_gan fills
    "noise": ({"Generator"}, False),
    "probabilities": ({"Discriminator"}, False),
    "sklearn_lookup": ({"Generator", "train_gan"}, False),
    "two_sided_smoothing": ({"discriminator_loss"}, False),
    "warped_bank": ({"Generator", "train_gan"}, True),  # the warp helper
    "warped_lookup": ({"Generator", "train_gan"}, True),
}
FAULTS = {"conv1d_windowing": CONV1D, "gan": GAN}
# examples written from scratch: stored whole, materialised as they are
WHOLE = {"conv1d_windowing": "julia_dilated_tcn.ipynb", "gan": "honest_upsample.py"}
REFERENCE = '''"""The reference."""
import math


def area(r):
    """Area of a circle of radius r."""
    # BEGIN SOLUTION
    return math.pi * r * r
    # END SOLUTION


class Model:
    size = 1

    def grow(self):
        """One bigger."""
        return self.size + 1

    def shrink(self):
        return self.size - 1


def train(model):
    return model.size


if __name__ == "__main__":
    print(area(1.0))
'''


def _definitions(source: str) -> dict[str, str]:
    """{name: the code without its docstring} for the first top-level definition of each name in source."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            if ast.get_docstring(node) is not None:
                node.body = node.body[1:]
            out.setdefault(node.name, ast.dump(node))
    return out


def test_a_fault_replaces_the_definition_in_place_and_keeps_the_rest_of_the_reference():
    fault = '"""area forgets the square: loses the area test."""\n\n\ndef area(r):\n    return math.pi * r\n'
    whole, replaced, adds = plant("demo", fault, REFERENCE)
    assert (replaced, adds) == (["area"], False)
    assert "return math.pi * r\n" in whole and "r * r" not in whole and "END SOLUTION" not in whole
    assert '"""Area of a circle of radius r."""' in whole  # a replacement without a docstring keeps the reference's
    assert whole.index("def area") < whole.index("class Model") < whole.index("def train")
    assert whole.startswith('"""The reference."""\n# EXAMPLE SUBMISSION (demo): area forgets the square')
    ns: dict = {"__name__": "example"}
    exec(compile(whole, "example.py", "exec"), ns)
    assert ns["area"](2.0) == pytest.approx(2 * 3.141592653589793) and ns["train"](ns["Model"]()) == 1


def test_a_fault_class_replaces_only_the_methods_it_defines():
    fault = '"""grow adds two: loses the growth test."""\n\n\nclass Model:\n    def grow(self):\n        return self.size + 2\n'
    whole, replaced, _ = plant("demo", fault, REFERENCE)
    assert replaced == ["Model"] and '"""One bigger."""' in whole and "self.size + 1" not in whole
    ns: dict = {"__name__": "example"}
    exec(compile(whole, "example.py", "exec"), ns)
    model = ns["Model"]()
    assert (model.grow(), model.shrink(), model.size) == (3, 0, 1)


def test_code_that_wraps_the_reference_is_added_after_it_in_order():
    fault = ('"""A cheat: remembers its inputs."""\n\n\nclass Model(Model):\n    size = 2\n\n\n'
             '_honest_train = train\n\n\ndef train(model):\n    return 10 * _honest_train(model)\n')
    whole, replaced, adds = plant("demo", fault, REFERENCE)
    assert (replaced, adds) == ([], True)
    assert whole.index("return model.size") < whole.index("class Model(Model)") < whole.index('if __name__')
    ns: dict = {"__name__": "example"}
    exec(compile(whole, "example.py", "exec"), ns)
    assert ns["train"](ns["Model"]()) == 20  # the wrapper calls the reference's train, not itself


def test_a_fault_without_a_docstring_is_refused():
    with pytest.raises(ValueError, match="docstring"):
        plant("demo", "def area(r):\n    return 0\n", REFERENCE)


def test_a_fault_shows_only_the_lines_it_changes_in_a_long_definition():
    fault = ('"""area of a negative radius is positive: loses nothing."""\n\n\ndef area(r):\n    ...\n'
             '    # BEGIN SOLUTION\n    r = abs(r)  # CHANGED\n    return math.pi * r * r\n    ...\n')
    whole, replaced, adds = plant("demo", fault, REFERENCE)
    assert (replaced, adds) == (["area"], False) and "    ...\n" not in whole
    # the reference's lines at each `...` stay: the docstring before the change, the closing comment after it
    assert ('    """Area of a circle of radius r."""\n    # BEGIN SOLUTION\n    r = abs(r)  # CHANGED\n'
            '    return math.pi * r * r\n    # END SOLUTION\n') in whole
    ns: dict = {"__name__": "example"}
    exec(compile(whole, "example.py", "exec"), ns)
    assert ns["area"](-2.0) == pytest.approx(4 * 3.141592653589793)


def test_changed_lines_must_sit_between_lines_of_the_reference():
    fault = '"""area is wrong."""\n\n\ndef area(r):\n    ...\n    return 0  # CHANGED\n    ...\n'
    with pytest.raises(ValueError, match="no line of the reference's area"):
        plant("demo", fault, REFERENCE)


@pytest.fixture(scope="module", params=sorted(FAULTS))
def assignment(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def whole(assignment, tmp_path_factory) -> dict[str, Path]:
    return materialise(assignment, tmp_path_factory.mktemp(f"{assignment}-examples"))


def _reference(assignment: str) -> str:
    return (REPO / "reference_solutions" / assignment / f"{assignment}.py").read_text()


def test_each_fault_file_holds_only_what_differs_from_the_reference(assignment):
    reference_source = _reference(assignment)
    reference = _definitions(reference_source)
    stored = sorted(p.name for p in (REPO / "examples" / assignment).glob("*.fault.py"))
    assert stored == sorted(f"{name}.fault.py" for name in FAULTS[assignment])
    for name, (replaced, adds) in FAULTS[assignment].items():
        source = (REPO / "examples" / assignment / f"{name}.fault.py").read_text()
        # the fault, not a copy: a third of the reference at most (the longest, a cheat that adds a lookup: 143 of 455)
        assert len(source.splitlines()) < len(reference_source.splitlines()) / 3, f"{name}.fault.py is no short fault"
        _, got, got_adds = plant(assignment, source, reference_source)
        assert (set(got), got_adds) == (replaced, adds), name
        unchanged = [d for d, code in _definitions(source).items() if reference.get(d) == code]
        assert not unchanged, f"{name}.fault.py copies the reference's {unchanged} unchanged"


def test_materialised_examples_are_whole_files_with_the_fault_in_place(assignment, whole):
    reference = _definitions(_reference(assignment))
    assert set(whole) == set(FAULTS[assignment]) | {WHOLE[assignment]}  # written from scratch: as it is
    for name, (replaced, _) in FAULTS[assignment].items():
        path = whole[name]
        assert path.name == f"{name}.py"
        text = path.read_text()
        compile(text, str(path), "exec")
        assert f"# EXAMPLE SUBMISSION ({assignment}): " in text and "\n        ...\n" not in text
        defs = _definitions(text)
        assert {d for d in reference if defs.get(d) != reference[d]} == replaced, name
        fault = (REPO / "examples" / assignment / f"{name}.fault.py").read_text()
        changed = [line for line in fault.splitlines() if "# CHANGED" in line]
        assert all(line in text.splitlines() for line in changed), f"{name}: a changed line is not in the file"
    stored = REPO / "examples" / assignment / WHOLE[assignment]
    assert whole[WHOLE[assignment]].read_bytes() == stored.read_bytes()


def test_a_tool_beside_folder_examples_is_not_an_example(tmp_path):
    whole = materialise("hpo", tmp_path)
    assert "make_rerun_attacks.py" not in whole and not (tmp_path / "make_rerun_attacks.py").exists()
    with pytest.raises(ValueError, match="no such example of conv1d_windowing: nobody"):
        materialise("conv1d_windowing", tmp_path, ["nobody"])
