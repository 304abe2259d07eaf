"""The Ray backend against a local Ray head on loopback: each submission is one Ray task that grades
in the same sandbox, and the results land in the same gradebook as a local run's."""
from __future__ import annotations

import pytest

from grader.commands.grade import grade_submissions
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook
from grader.core.spec import Resources, load_spec
from tiny_batch import TINY, make_batch

try:
    import ray
except ImportError:
    ray = None
needs_ray = pytest.mark.skipif(ray is None, reason="Ray is not installed (pip install 'dlgrade[cluster]' runs this test)")


@pytest.fixture(scope="module")
def local_head():
    """A one-machine Ray cluster for this module (a real head process, reached over loopback)."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _rows(out):
    with Gradebook(out / GRADEBOOK_FILE) as book:
        return [r.without_timing() for r in book.rows()]


@needs_ray
@pytest.mark.slow
def test_ray_tasks_fill_the_same_gradebook_as_a_local_run(tmp_path, local_head):
    subs = tmp_path / "subs"
    ids = make_batch(subs, count=3)
    local = grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "local", jobs=2)
    on_ray = grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "ray", backend="ray")
    assert sorted(r.submission for r in on_ray.results) == sorted(ids)
    assert _rows(tmp_path / "ray") == _rows(tmp_path / "local")
    assert [r.score for r in on_ray.results] == [r.score for r in local.results]
    assert not any(r.status == "error" for r in on_ray.results)
    # and a re-run on Ray skips what the gradebook already holds
    again = grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "ray", backend="ray")
    assert again.results == [] and sorted(again.skipped) == sorted(ids)


def test_the_spec_declares_task_resources(tmp_path):
    spec = load_spec(TINY)
    assert spec.resources == Resources(num_cpus=1.0, num_gpus=0.0)
    text = (TINY / "assignment.yaml").read_text() + "resources:\n  num_cpus: 2\n  num_gpus: 0.5\n"
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "assignment.yaml").write_text(text)
    assert load_spec(folder).resources == Resources(num_cpus=2.0, num_gpus=0.5)


def test_without_ray_the_backend_says_how_to_get_it(monkeypatch):
    import sys

    from grader.grading.backends import RayBackend
    from grader.core.errors import ToolkitError
    monkeypatch.setitem(sys.modules, "ray", None)   # `import ray` raises ImportError
    with pytest.raises(ToolkitError, match=r"pip install 'dlgrade\[cluster\]'"):
        RayBackend(address=None, resources=Resources())
