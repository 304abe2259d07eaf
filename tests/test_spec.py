"""grader/core/spec.py: assignment.yaml is checked key by key, and every error names the file and the key."""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from grader.core.errors import SpecError
from grader.core.spec import Limits, ManualItem, Mode, Spec, Submission, describe_schema, load_spec

MINIMAL = """\
title: "Demo"
points: 3
default_mode: embedded
modes:
  embedded:
    description: "no files"
"""


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "assignment.yaml").write_text(text)
    return folder


def test_a_minimal_spec_gets_every_default(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert (spec.name, spec.title, spec.points, spec.default_mode) == ("demo", "Demo", 3.0, "embedded")
    assert spec.limits == Limits() and spec.submission == Submission()
    assert spec.mode("embedded") == Mode(description="no files")
    assert spec.mode(None) is spec.modes["embedded"]
    assert spec.public_tests == spec.path / "tests" / "public"


def test_the_fixture_assignment_loads():
    spec = load_spec(Path(__file__).parent / "fixtures" / "assignments" / "tiny")
    assert spec.limits.memory_mb == 768 and spec.limits.max_message_mb == 8
    assert set(spec.modes) == {"embedded", "torch"}


@pytest.mark.parametrize("extra,key", [
    ("bogus: 1\n", "'bogus'"),
    ("limits:\n  memroy_mb: 100\n", "'memroy_mb'"),
    ("submission:\n  globs: ['*.py']\n", "'globs'"),
])
def test_unknown_keys_name_the_file_and_the_key(tmp_path, extra, key):
    folder = write(tmp_path, MINIMAL + extra)
    with pytest.raises(SpecError) as err:
        load_spec(folder)
    message = str(err.value)
    assert str(folder / "assignment.yaml") in message and f"unknown key {key}" in message and "allowed:" in message


def test_unknown_key_in_a_mode(tmp_path):
    folder = write(tmp_path, MINIMAL + "    thresholds_typo: {}\n")
    with pytest.raises(SpecError, match=r"assignment\.yaml\.modes\.embedded: unknown key 'thresholds_typo'"):
        load_spec(folder)


@pytest.mark.parametrize("extra,message", [
    ('points: "ten"\n', r"\.points: expected float, got 'ten'"),
    ("points: true\n", r"\.points: expected float, got True"),
    ("seed: 1.5\n", r"\.seed: expected int, got 1\.5"),
    ("limits:\n  memory_mb: yes\n", r"\.limits\.memory_mb: expected int, got True"),
    ("limits:\n  call_timeout_s: soon\n", r"\.limits\.call_timeout_s: expected float, got 'soon'"),
    ("api: answer()\n", r"\.api: expected list, got 'answer\(\)'"),
    ("limits: 5\n", r"\.limits: expected a mapping, got int"),
    ("submission:\n  load: everything\n", r"\.submission\.load: expected 'definitions' or 'full'"),
])
def test_wrong_types_are_refused(tmp_path, extra, message):
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, MINIMAL.replace("points: 3\n", "") + extra if extra.startswith("points")
                        else MINIMAL + extra))


def test_modes_must_be_a_mapping(tmp_path):
    with pytest.raises(SpecError, match=r"\.modes: expected dict"):
        load_spec(write(tmp_path, 'title: "x"\npoints: 1\nmodes: [embedded]\n'))


def test_the_default_mode_must_exist(tmp_path):
    with pytest.raises(SpecError, match=r"default_mode: 'embedded' is not one of the modes \(none\)"):
        load_spec(write(tmp_path, 'title: "x"\npoints: 1\n'))
    with pytest.raises(SpecError, match=r"default_mode: 'full' is not one of the modes \(embedded\)"):
        load_spec(write(tmp_path, MINIMAL + "default_mode: full\n", name="other"))


def test_an_unknown_mode_is_named(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    with pytest.raises(SpecError, match="no data mode 'full'; modes: embedded"):
        spec.mode("full")


def test_points_must_be_positive(tmp_path):
    with pytest.raises(SpecError, match=r"\.points: must be positive"):
        load_spec(write(tmp_path, MINIMAL.replace("points: 3", "points: 0")))


def test_folder_names_are_lower_snake_case(tmp_path):
    with pytest.raises(SpecError, match="lower_snake_case"):
        load_spec(write(tmp_path, MINIMAL, name="My-Homework"))


def test_missing_file_and_bad_yaml(tmp_path):
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(SpecError, match="no assignment.yaml"):
        load_spec(tmp_path / "empty_dir")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(write(tmp_path, "title: [unclosed\n"))
    with pytest.raises(SpecError, match="expected a mapping, got list"):
        load_spec(write(tmp_path, "- a\n- b\n", name="listy"))


def _all_keys(cls=Spec, prefix="") -> list[str]:
    """Every key an assignment.yaml may hold, from the dataclasses themselves."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        keys.append(prefix + f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            keys += _all_keys(hints[f.name], prefix + f.name + ".")
        elif cls is Spec and f.name == "modes":
            keys += _all_keys(Mode, prefix + "modes.<name>.")
        elif cls is Spec and f.name == "manual":
            keys += _all_keys(ManualItem, prefix + "manual[].")
    return keys


def test_the_schema_description_lists_every_key_with_help():
    rows = describe_schema()
    keys = [key for key, _, _ in rows]
    assert keys == _all_keys()
    assert {"limits.memory_mb", "limits.max_message_mb", "submission.load", "modes", "default_mode",
            "modes.<name>.settings", "modes.<name>.thresholds", "modes.<name>.requires"} <= set(keys)
    assert "name" not in keys and "path" not in keys  # set by the loader, not by the file
    assert all(help_text.strip() for _, _, help_text in rows)
    defaults = {key: default for key, default, _ in rows}
    assert defaults["limits.memory_mb"] == "4096" and defaults["submission.load"] == "'definitions'"


def test_the_new_command_writes_the_whole_schema(tmp_path):
    from grader.scaffold.new import new_assignment
    new_assignment(name="schema_demo", root=tmp_path)
    text = (tmp_path / "assignments" / "schema_demo" / "assignment.yaml").read_text()
    for key in _all_keys():
        assert f"#   {key}: " in text, key


def test_the_spec_crosses_to_the_trusted_process_as_the_command_holds_it():
    """The run file carries the command's spec (an in-memory `--pick` included), checked like YAML."""
    import dataclasses
    import json

    from grader.core.assignments import find_assignment
    from grader.core.spec import spec_from_json, spec_to_json
    for name in ("ae_bottleneck", "conv1d_windowing", "gan", "hpo"):
        spec = find_assignment(name)
        assert spec_from_json(json.loads(json.dumps(spec_to_json(spec)))) == spec
    spec = find_assignment("ae_bottleneck")
    picked = dataclasses.replace(spec, submission=dataclasses.replace(spec.submission, code=["hw2/*.ipynb"]))
    assert spec_from_json(json.loads(json.dumps(spec_to_json(picked)))).submission.code == ["hw2/*.ipynb"]
    bad = spec_to_json(spec)
    bad["yaml"] += "pionts: 3\n"
    with pytest.raises(SpecError, match="unknown key 'pionts'"):
        spec_from_json(bad)
