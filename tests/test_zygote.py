"""Workers and trusted test processes forked by a zygote: on every rung a forked worker is as
isolated as a cold-started one (its own uid, no capabilities, its own view of the filesystem and
processes), no state passes from one forked process to the next, the zygote is fork-safe (one
thread, CUDA untouched), and when the zygote is gone the grader starts processes cold instead of
failing anybody."""
from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from grader.boundary import launch, sandbox, zygote
from grader.core.assignments import find_assignment
from grader.boundary.client import WorkerSession
from grader.grading.runner import RunOptions, grade_submission
from grader.core.spec import load_spec
from rungs import RUNGS, on_rung
from test_engine_integrity import write_assignment
from tiny_batch import REFERENCE, TINY

LIMITS = find_assignment(TINY).limits

PROBE = '''\
import os, sys

STASH = []


def who():
    status = open("/proc/self/status").read()
    caps = [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")][0]
    return {"uid": os.getuid(), "caps": caps, "cwd": os.getcwd(), "pid": os.getpid(),
            "cuda_env": os.environ.get("CUDA_VISIBLE_DEVICES"), "home": os.environ.get("HOME")}


def can_read(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


def remember(value):
    STASH.append(value)
    import builtins
    builtins.dlgrade_leak = value
    return len(STASH)


def remembered():
    import builtins
    return [len(STASH), getattr(builtins, "dlgrade_leak", None)]


def booted():
    """What the boot left this process: its limits, its user, its environment."""
    import resource
    names = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC", "RLIMIT_AS")
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return {"rlimits": {n: list(resource.getrlimit(getattr(resource, n))) for n in names},
            "uid": os.getuid(), "gid": os.getgid(), "caps": status["CapEff"].strip(),
            "no_new_privs": status["NoNewPrivs"].strip(), "env": dict(os.environ), "cwd": os.getcwd()}


def threads_and_matmul(n):
    import torch
    torch.set_num_threads(n)
    x = torch.ones(64, 64)
    return [torch.get_num_threads(), float((x @ x).sum()), torch.cuda.is_initialized()]
'''


def _pristine(tmp_path: Path) -> Path:
    pristine = tmp_path / "pristine"
    pristine.mkdir(parents=True)
    (pristine / "submission.py").write_text(PROBE)
    tmp_path.chmod(0o755)
    return pristine


def _session(pristine: Path, iso, **kwargs) -> WorkerSession:
    # the workers' copies where a rung (c) uid can reach its own (as grader.grading.runner keeps them)
    scratch = Path(tempfile.mkdtemp(prefix="dlgrade-test-w-"))
    scratch.chmod(0o711)
    return WorkerSession(pristine, LIMITS, isolation=iso, scratch=scratch, **kwargs)


@pytest.fixture
def forked(monkeypatch):
    """Workers in this test are forked by this process's worker zygote (as the trusted process's are)."""
    def use(iso):
        address = sandbox.worker_zygote(iso, LIMITS)
        assert address, "the worker zygote does not serve this rung"
        monkeypatch.setenv(sandbox.WORKER_ZYGOTE_ENV, address)
        return address
    return use


@pytest.mark.rungs
@pytest.mark.parametrize("rung", RUNGS)
def test_a_forked_worker_is_as_isolated_as_a_cold_one(rung, tmp_path, forked):
    with on_rung(rung, tmp_path / "shims") as iso:
        forked(iso)
        pristine = _pristine(tmp_path / "sub")
        neighbour = tmp_path / "neighbour"
        neighbour.mkdir()
        with _session(pristine, iso) as first, _session(pristine, iso) as second:
            me = first.module.who()
            assert isinstance(first.process.proc, zygote.ForkedProcess), "the worker was started cold"
            other = second.module.who()
            assert me["caps"] == "0000000000000000", f"the worker holds capabilities on rung {rung}: {me['caps']}"
            assert me["cwd"] == str(first.workspace) and me["home"] == str(first.workspace)
            if rung in ("bwrap", "namespaces"):
                assert me["uid"] == 65534
                assert me["pid"] < 10, "the worker sees the machine's PIDs, not its own namespace's"
            else:
                assert me["uid"] == first.process.slot.uid != other["uid"]
            # what the worker must not reach: the grader's folders, another worker's copy
            assert not first.module.can_read(str(neighbour))
            assert not first.module.can_read(str(second.workspace))


def _boot_of(session) -> dict:
    """The worker's state after its boot, its own workspace written as <workspace>."""
    seen = session.module.booted()
    ws = str(session.workspace)
    seen["env"] = {k: v.replace(ws, "<workspace>") for k, v in seen["env"].items()}
    seen["cwd"] = seen["cwd"].replace(ws, "<workspace>")
    if session.process.slot is not None:  # each worker has a uid of its own: the same one as its slot's?
        own = session.isolation.level == "uid"
        seen["uid"] = "own" if own and seen["uid"] == session.process.slot.uid else seen["uid"]
        seen["gid"] = "own" if own and seen["gid"] == session.process.slot.uid else seen["gid"]  # the slot's group too
    return seen


def _cold_and_forked_boots(iso, tmp_path, forked, monkeypatch) -> tuple[dict, dict]:
    pristine = _pristine(tmp_path / "sub")
    monkeypatch.delenv(sandbox.WORKER_ZYGOTE_ENV, raising=False)
    with _session(pristine, iso) as cold:
        cold_boot = _boot_of(cold)
        assert not isinstance(cold.process.proc, zygote.ForkedProcess)
    forked(iso)
    with _session(pristine, iso) as fork:
        fork_boot = _boot_of(fork)
        assert isinstance(fork.process.proc, zygote.ForkedProcess), "the worker was started cold"
    return cold_boot, fork_boot


def test_cold_and_forked_workers_boot_the_same(tmp_path, forked, monkeypatch):
    """One boot for both ways a worker starts: the same rlimits, user, privileges and environment."""
    cold, fork = _cold_and_forked_boots(sandbox.require_isolation("auto"), tmp_path, forked, monkeypatch)
    assert cold == fork
    assert cold["rlimits"]["RLIMIT_NPROC"] == [LIMITS.max_processes] * 2   # soft = hard: not to be raised
    assert cold["rlimits"]["RLIMIT_CPU"] == [LIMITS.cpu_time_s] * 2
    assert cold["env"]["HOME"] == "<workspace>" and "DLGRADE_BOOT_PLAN" not in cold["env"]
    assert cold["no_new_privs"] == "1"


@pytest.mark.rungs
@pytest.mark.parametrize("rung", RUNGS)
def test_cold_and_forked_workers_boot_the_same_on_every_rung(rung, tmp_path, forked, monkeypatch):
    with on_rung(rung, tmp_path / "shims") as iso:
        cold, fork = _cold_and_forked_boots(iso, tmp_path, forked, monkeypatch)
    assert cold == fork
    assert cold["uid"] == (65534 if rung in ("bwrap", "namespaces") else "own")
    assert cold["caps"] == "0000000000000000"


def test_no_state_passes_from_one_forked_worker_to_the_next(tmp_path, forked):
    iso = sandbox.require_isolation("auto")
    forked(iso)
    pristine = _pristine(tmp_path)
    with _session(pristine, iso) as first:
        assert first.module.remember("the first student's secret") == 1
        first_pid = first.process.proc.pid
    with _session(pristine, iso) as second:
        assert second.module.remembered() == [0, None]
        assert second.process.proc.pid != first_pid


def test_the_zygote_is_fork_safe_and_children_choose_threads_and_gpu(tmp_path, forked):
    iso = sandbox.require_isolation("auto")
    forked(iso)
    z = zygote._shared[zygote.WORKER]
    assert len(os.listdir(f"/proc/{z.proc.pid}/task")) == 1, "the zygote runs threads: a fork may deadlock"
    with _session(_pristine(tmp_path), iso, threads=2, gpu="0") as s:
        threads, total, cuda_started = s.module.threads_and_matmul(2)
        assert not cuda_started, "the worker started CUDA without being asked"
        assert (threads, total) == (2, 64.0 ** 3)
        assert s.module.who()["cuda_env"] == "0", "the worker did not get the GPU it was given"
    # (the zygote itself refuses to serve if CUDA was initialised before the fork: grader.boundary.zygote.main)


def test_when_the_zygote_is_gone_workers_start_cold_and_say_so(tmp_path, forked, caplog):
    iso = sandbox.require_isolation("auto")
    address = forked(iso)
    z = zygote._shared[zygote.WORKER]
    os.kill(z.proc.pid, signal.SIGKILL)
    z.proc.wait()
    launch._cold_said.clear()
    try:
        with _session(_pristine(tmp_path), iso) as s:
            assert s.module.who()["caps"] in ("0000000000000000",) or iso.level in ("none", "off")
            assert not isinstance(s.process.proc, zygote.ForkedProcess)
        assert "starting workers cold" in caplog.text   # a warning in the log (the CLI shows it, -q hides it)
        # the next user of the shared zygote gets a new one
        assert sandbox.worker_zygote(iso, LIMITS) not in (None, address)
    finally:
        launch._cold_said.append(1)


CGROUP_TESTS = '''\
import os

import pytest


@pytest.mark.points(1)
def test_the_trusted_process_is_fresh_and_bounded(student):
    from grader.boundary.cgroups import cgroup_kind
    cgroups = open("/proc/self/cgroup").read()
    assert "dlgrade-trusted-" in cgroups or cgroup_kind() is None, cgroups  # (no cgroups to write here)
    import builtins
    assert not hasattr(builtins, "dlgrade_seen"), "state of an earlier submission's trusted process"
    builtins.dlgrade_seen = True
    import random
    with open(%r, "a") as f:  # what this process drew, beside its pid
        f.write(f"{os.getpid()} {random.random()}\\n")
    assert student.answer() == 42
'''


def test_each_submission_gets_a_fresh_trusted_process_in_its_memory_cgroup(tmp_path):
    drawn = tmp_path / "drawn.txt"
    folder = write_assignment(tmp_path, "fresh", points=1, tests={"public/test_fresh.py": CGROUP_TESTS % str(drawn)})
    spec = load_spec(folder)
    sub = tmp_path / "sub.py"
    sub.write_text("def answer():\n    return 42\n")
    results = [grade_submission(spec, sub, RunOptions()) for _ in range(2)]
    assert [(r.status, r.score) for r in results] == [("graded", 1.0)] * 2, [r.tests[0].message for r in results]
    assert zygote._shared.get(zygote.TRUSTED) is not None, "the trusted process was started cold"
    (pid1, r1), (pid2, r2) = [line.split() for line in drawn.read_text().splitlines()]
    assert pid1 != pid2 and r1 != r2, "two submissions' trusted processes share their random state"
    assert "test_fresh" not in Path(f"/proc/{zygote._shared[zygote.TRUSTED].proc.pid}/cmdline").read_text()


def test_the_reference_grades_the_same_forked_and_cold(tmp_path, monkeypatch):
    spec = find_assignment(TINY)
    forked = grade_submission(spec, REFERENCE, RunOptions())
    monkeypatch.setenv("DLGRADE_NO_ZYGOTE", "1")
    monkeypatch.delenv(sandbox.WORKER_ZYGOTE_ENV, raising=False)
    cold = grade_submission(spec, REFERENCE, RunOptions())
    assert [(t.name, t.status, t.score) for t in forked.tests] == [(t.name, t.status, t.score) for t in cold.tests]
    assert forked.status == cold.status == "graded"


def test_a_zygote_that_cannot_start_says_why_and_serves_nobody():
    z = zygote.Zygote("no-such-kind", dict(os.environ))
    z.wait_ready()
    assert not z.alive and "unknown zygote kind" in z.error


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no thread pool on one core")
def test_a_zygote_with_threads_refuses_to_fork():
    """With OpenBLAS's thread pool running (its default on a multi-core machine) a fork could deadlock
    the child: the zygote says so and never serves (the caller then starts processes cold)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    z = zygote.Zygote(zygote.WORKER, env, isolated=True)
    z.wait_ready()
    assert not z.alive and "not fork-safe" in z.error
