"""The Ray backend against a local Ray head on loopback: each submission is one Ray task that grades
in the same sandbox, and the results land in the same gradebook as a local run's."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from grader.boundary.client import WorkerSession
from grader.commands.grade import grade_submissions
from grader.core.assignments import find_assignment
from grader.core.errors import ToolkitError
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook
from grader.core.spec import Resources, load_spec
from rungs import on_rung
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


def test_ray_is_refused_below_rung_b(tmp_path):
    """Ray's control plane has no authentication: a worker that shares the network and /tmp with it
    (rung c, no sandbox) could list and change the cluster's function table. `grade` refuses first."""
    subs = tmp_path / "subs"
    make_batch(subs, count=1)
    with pytest.raises(ToolkitError, match=r"--backend ray needs the sandbox's rung \(a\) or \(b\)"):
        grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "off", backend="ray", sandbox="off")
    with on_rung("uid", tmp_path):
        with pytest.raises(ToolkitError, match=r"this machine is on rung 'uid'"):
            grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "uid", backend="ray")
    assert not (tmp_path / "off").exists() and not (tmp_path / "uid").exists()  # refused before any output


REACHER = """import os
import socket


def reach(host, port, folder):
    reached = []
    try:
        socket.create_connection((host, port), timeout=3).close()
        reached.append(f"{host}:{port}")
    except OSError:
        pass
    try:
        os.listdir(folder)
        reached.append(folder)
    except OSError:
        pass
    return reached
"""


@needs_ray
@pytest.mark.slow
@pytest.mark.parametrize("rung", ["bwrap", "namespaces"])
def test_a_worker_cannot_reach_the_cluster(rung, tmp_path, local_head):
    """On rungs (a) and (b) a worker has its own network namespace and /tmp: neither the head's port
    nor the session folder with its sockets is there."""
    host, port = ray.get_runtime_context().gcs_address.rsplit(":", 1)
    session = ray._private.worker._global_node.get_session_dir_path()
    pristine = tmp_path / "submission"
    pristine.mkdir()
    (pristine / "submission.py").write_text(REACHER)
    scratch = Path(tempfile.mkdtemp(prefix="dlgrade-w-"))
    scratch.chmod(0o711)
    try:
        with on_rung(rung, tmp_path) as iso, WorkerSession(pristine, find_assignment(TINY).limits, isolation=iso,
                                                          scratch=scratch) as worker:
            worker.ensure_started()
            reached = worker.module.reach(host, int(port), session)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert reached == []
