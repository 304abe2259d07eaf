"""Where submissions are graded: threads on this machine (`local`) or Ray tasks on a cluster (`ray`).

Both backends take a `GradeTask` and hand back a `concurrent.futures.Future` of a `Graded`, so
`grade` collects results the same way from either. A task calls `grader.grading.runner.grade_submission`
on the machine that runs it, inside the same sandbox, and sends back the result and the feedback
pictures as bytes; the caller writes every output and the gradebook row. With Ray, the assignment
folder and the submissions must be readable at the same paths on every node (a shared filesystem).
"""
from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.intake.discovery import SubmissionInput
from grader.core.errors import INTERNAL_ERROR, GradingCancelled, ToolkitError
from grader.core.results import SubmissionResult, SubmissionStatus
from grader.grading.runner import RunOptions, grade_submission
from grader.core.spec import Resources, Spec

BACKENDS = ("local", "ray")
TOOLKIT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class GradeTask:
    """One submission to grade: plain data, so that it can travel to a Ray node."""
    spec: Spec
    submission: SubmissionInput
    options: RunOptions          # `keep` is ignored: pictures come back in `Graded.images`


@dataclass
class Graded:
    """What grading one submission sends back."""
    result: SubmissionResult
    images: dict = field(default_factory=dict)   # file name -> PNG bytes, the feedback pictures


def run_task(task: GradeTask, *, cancel: threading.Event | None = None) -> Graded:
    """Grade one submission here; always a result (a crash of the grader becomes status 'error')."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-keep-") as keep:
        try:
            result = grade_submission(task.spec, task.submission.path, replace(task.options, keep=Path(keep)),
                                      cancel=cancel)
        except GradingCancelled:
            raise
        except Exception as e:  # noqa: BLE001 - one broken submission must not stop the batch
            result = SubmissionResult(task.submission.id, task.spec.name, task.options.mode or task.spec.default_mode,
                                      status=SubmissionStatus.ERROR, reason=f"{INTERNAL_ERROR}: {type(e).__name__}: {e}",
                                      total_points=task.spec.automatic_points(task.options.mode))
        result.submission = task.submission.id
        images = {p.name: p.read_bytes() for p in sorted((Path(keep) / "images").glob("*")) if p.is_file()}
    return Graded(result, images)


# --- this machine ----------------------------------------------------------------------------------

def available_memory_mb() -> int:
    """Memory that can still be used: the smaller of MemAvailable and what this cgroup has left."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) // 1024
    except OSError:
        pass
    if avail is None:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2 ** 20
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            avail = min(avail, (int(limit) - used) // 2 ** 20)
    except (OSError, ValueError):
        pass
    return max(0, avail)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_jobs(spec: Spec) -> int:
    """As many submissions at once as there are cores and room for the spec's memory limit, at least 1."""
    return max(1, min(cpu_count(), available_memory_mb() // max(1, spec.limits.memory_mb)))


class LocalBackend:
    """A pool of `jobs` threads, each driving one grading process at a time; GPUs handed out one per job."""

    def __init__(self, *, jobs: int, gpus: list[str] | None = None):
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade")
        self.cancelled = threading.Event()
        self.gpus = list(gpus or [])
        self.lock = threading.Lock()

    def submit(self, task: GradeTask) -> Future:
        return self.pool.submit(self._run, task)

    def _run(self, task: GradeTask) -> Graded:
        if self.cancelled.is_set():
            raise GradingCancelled("grading was cancelled")
        with self.lock:
            gpu = self.gpus.pop(0) if self.gpus else None
        try:
            options = replace(task.options, gpu=gpu) if gpu is not None else task.options
            return run_task(replace(task, options=options), cancel=self.cancelled)
        finally:
            if gpu is not None:
                with self.lock:
                    self.gpus.append(gpu)

    def cancel(self) -> None:
        """Stop everything: queued tasks never start, running ones are killed (no result)."""
        self.cancelled.set()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


# --- a Ray cluster ---------------------------------------------------------------------------------

def _ray_grade(task: GradeTask) -> Graded:
    """The Ray task: runs on a node, with the GPUs Ray assigned to it (if any)."""
    import ray
    gpu_ids = ray.get_gpu_ids()
    options = replace(task.options, gpu=",".join(str(g) for g in gpu_ids) if gpu_ids else None)
    return run_task(replace(task, options=options))


class RayBackend:
    """Each submission is one Ray task reserving the spec's `resources` (num_cpus, num_gpus).

    `address`: a running cluster (`ray://host:10001`, `host:6379` or `auto`); None starts a local
    head for this run, or uses the one this process already initialised."""

    def __init__(self, *, address: str | None, resources: Resources):
        try:
            import ray
        except ImportError:
            raise ToolkitError("the ray backend needs Ray: pip install 'dlgrade[cluster]' (or pip install 'ray>=2.9')") from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            # local workers import the engine from this checkout (a cluster's nodes have it installed)
            path = os.environ.get("PYTHONPATH", "")
            if str(TOOLKIT_ROOT) not in path.split(os.pathsep):
                os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOOLKIT_ROOT), path) if p)
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level="ERROR", configure_logging=True)
            except Exception as e:  # noqa: BLE001 - ray raises many types for "cannot connect"
                raise ToolkitError(f"could not start or reach the Ray cluster at {address or 'a new local head'}: "
                                   f"{type(e).__name__}: {e}") from None
            self.started = True
        self.remote = ray.remote(_ray_grade).options(num_cpus=resources.num_cpus, num_gpus=resources.num_gpus,
                                                     max_retries=0)
        self.refs: list = []

    def submit(self, task: GradeTask) -> Future:
        ref = self.remote.remote(task)
        self.refs.append(ref)
        return ref.future()

    def cancel(self) -> None:
        # not force: the task gets KeyboardInterrupt, and the runner's cleanup kills the test processes
        for ref in self.refs:
            try:
                self.ray.cancel(ref, force=False)
            except Exception:  # noqa: BLE001 - already finished
                pass

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_backend(name: str, *, jobs: int, gpus: list[str] | None, address: str | None, resources: Resources):
    if name == "local":
        return LocalBackend(jobs=jobs, gpus=gpus)
    if name == "ray":
        return RayBackend(address=address, resources=resources)
    raise ToolkitError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
