"""Examples stored as their planted fault (`examples/<assignment>/<name>.fault.py`) are made whole by
examples/materialise.py: the reference's code file with the fault's definitions in place of the
reference's, the fault's added code before the main guard, and its docstring as an `# EXAMPLE
SUBMISSION` comment. The grading tests (tests/test_conv1d_integrity.py) grade the whole files.

    python examples/materialise.py conv1d_windowing /tmp/conv1d-examples
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


@pytest.fixture(scope="module")
def conv1d(tmp_path_factory) -> dict[str, Path]:
    return materialise("conv1d_windowing", tmp_path_factory.mktemp("conv1d-examples"))


def test_each_conv1d_fault_file_holds_only_what_differs_from_the_reference():
    reference = _definitions((REPO / "reference_solutions" / "conv1d_windowing" / "conv1d_windowing.py").read_text())
    stored = sorted(p.name for p in (REPO / "examples" / "conv1d_windowing").glob("*.fault.py"))
    assert stored == sorted(f"{name}.fault.py" for name in CONV1D)
    for name, (replaced, adds) in CONV1D.items():
        source = (REPO / "examples" / "conv1d_windowing" / f"{name}.fault.py").read_text()
        _, got, got_adds = plant("conv1d_windowing", source, (REPO / "reference_solutions" / "conv1d_windowing" /
                                                              "conv1d_windowing.py").read_text())
        assert (set(got), got_adds) == (replaced, adds), name
        unchanged = [d for d, code in _definitions(source).items() if reference.get(d) == code]
        assert not unchanged, f"{name}.fault.py copies the reference's {unchanged} unchanged"


def test_materialised_conv1d_examples_are_whole_files_with_the_fault_in_place(conv1d):
    reference = _definitions((REPO / "reference_solutions" / "conv1d_windowing" / "conv1d_windowing.py").read_text())
    assert set(conv1d) == set(CONV1D) | {"julia_dilated_tcn.ipynb"}  # the notebook is an example as it is
    for name, (replaced, _) in CONV1D.items():
        path = conv1d[name]
        assert path.name == f"{name}.py"
        whole = path.read_text()
        assert "# EXAMPLE SUBMISSION (conv1d_windowing): " in whole
        defs = _definitions(whole)
        assert {d for d in reference if defs.get(d) != reference[d]} == replaced, name
    notebook = REPO / "examples" / "conv1d_windowing" / "julia_dilated_tcn.ipynb"
    assert conv1d["julia_dilated_tcn.ipynb"].read_bytes() == notebook.read_bytes()


def test_a_tool_beside_folder_examples_is_not_an_example(tmp_path):
    whole = materialise("hpo", tmp_path)
    assert "make_rerun_attacks.py" not in whole and not (tmp_path / "make_rerun_attacks.py").exists()
    with pytest.raises(ValueError, match="no such example of conv1d_windowing: nobody"):
        materialise("conv1d_windowing", tmp_path, ["nobody"])
