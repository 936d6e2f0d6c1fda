"""Where the runs of an evaluation execute: a local process pool or a Ray cluster.

Both engines take the same job list (:class:`~clearway.evaluation.priority_run.RunJob` objects,
or any picklable job the ``fn`` given runs, e.g. a sweep's free-flow runs) and yield a
:class:`JobOutcome` per job as soon as it finishes, in finishing order. A run that fails (its
``SimulationError``, or its worker process dying) is yielded as an outcome with an error; the
other runs go on. libsumo holds one simulation per process, so each worker runs one job at a time.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearway.errors import ConfigError
from clearway.evaluation.priority_run import RunJob, RunMeasures, run_job

#: The engines :func:`run_jobs` knows.
ENGINES = ("process", "ray")
#: Ray retries a task once if its worker or node dies (a lost node on a cluster), not more:
#: a run that kills its worker every time should be reported, not repeated.
RAY_MAX_RETRIES = 1

#: Runs one job in a worker; its return value is the outcome's ``measures``.
JobFn = Callable[[Any], Any]


@dataclass(frozen=True)
class JobOutcome:
    """One finished job: its measures, or why it failed.

    Attributes
    ----------
    job
        The job as submitted (the same object).
    measures
        What the run measured (``fn``'s return value: :class:`RunMeasures` for a
        :class:`RunJob`); ``None`` if it failed.
    error
        The failure's message (names the run); ``None`` if it succeeded.
    """

    job: RunJob | Any
    measures: RunMeasures | Any | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run finished and was measured."""
        return self.error is None


def run_jobs(
    jobs: Sequence[Any],
    *,
    engine: str = "process",
    workers: int = 2,
    address: str | None = None,
    fn: JobFn = run_job,
) -> Iterator[JobOutcome]:
    """Run every job; yield each outcome as it finishes.

    Parameters
    ----------
    jobs
        The runs: each has a ``label`` (and, for a :class:`RunJob`, a ``scenario.seed``) that
        names it in failure messages.
    engine
        ``process`` (spawned local processes) or ``ray``.
    workers
        Simulations at once (processes; for Ray the CPUs of the local instance it starts).
    address
        Ray only: address of a running cluster (``ray://host:10001`` or ``auto``); ``None``
        starts a local Ray instance. The cluster's workers need clearway and the job files at
        the same paths (a shared file system).
    fn
        What runs one job (tests swap it; must be importable by the workers).

    Raises
    ------
    ConfigError
        Unknown engine, ``--address`` without Ray, or Ray is not installed.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if address is not None and engine != "ray":
        raise ConfigError("--address is a Ray cluster address: give it with --engine ray")
    if not jobs:
        return iter(())
    if engine == "ray":
        return _ray_jobs(_import_ray(), list(jobs), workers, address, fn)
    return _process_jobs(list(jobs), workers, fn)


# --- process pool ----------------------------------------------------------------------------


def _process_jobs(jobs: list[Any], workers: int, fn: JobFn) -> Iterator[JobOutcome]:
    # A worker that dies breaks the whole pool: every unfinished job fails with
    # BrokenProcessPool and the culprit cannot be told apart. Jobs that had not started yet go
    # to a fresh shared pool; those that had (a marker file says so) run one per pool, where a
    # death names its job. A job hit twice without starting also runs alone, so this ends.
    with tempfile.TemporaryDirectory(prefix="clearway-runs-") as tmp:
        markers = Path(tmp)
        shared = list(range(len(jobs)))
        alone: list[int] = []
        hit: set[int] = set()
        while shared or alone:
            if shared:
                victims = yield from _pool_round(jobs, shared, workers, fn, markers)
                shared = []
                for i in victims:
                    started = (markers / str(i)).exists()
                    (alone if started or i in hit else shared).append(i)
                    hit.add(i)
            else:
                i = alone.pop(0)
                for j in (yield from _pool_round(jobs, [i], 1, fn, markers)):
                    yield JobOutcome(jobs[j], error=_died(jobs[j]))


def _pool_round(
    jobs: list[Any], indices: list[int], workers: int, fn: JobFn, markers: Path
) -> Generator[JobOutcome, None, list[int]]:
    """Run ``indices`` in one pool; yield their outcomes, return those a dead worker took."""
    victims: list[int] = []
    # spawn, not fork: the parent may hold threads (progress display) and SUMO state.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(indices)), mp_context=ctx) as pool:
        try:
            futures = {pool.submit(_marked, fn, jobs[i], markers / str(i)): i for i in indices}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        yield JobOutcome(jobs[i], measures=fut.result())
                    except BrokenProcessPool:
                        victims.append(i)
                    except Exception as exc:  # the run's SimulationError, as a message
                        yield JobOutcome(jobs[i], error=str(exc) or type(exc).__name__)
        except BaseException:
            # Ctrl-C, or the consumer stopped early: do not start the queued runs.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return sorted(victims)


def _marked(fn: JobFn, job: Any, marker: Path) -> Any:
    """Leave ``marker`` (the job started), then run the job (in the worker process)."""
    marker.touch()
    return fn(job)


def _died(job: Any) -> str:
    # A sweep's free-flow run has no seed: it runs the trips alone, without demand.
    seed = getattr(getattr(job, "scenario", None), "seed", None)
    where = "" if seed is None else f", seed {seed}"
    return (
        f"{job.label} run{where}: its worker process died (a crash inside "
        "SUMO, or out of memory); run it alone with --workers 1 --backend traci to see SUMO's "
        "own error"
    )


# --- Ray -------------------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray: install clearway[ray] (pip install 'clearway[ray]')"
        ) from None
    return ray


def _ray_jobs(
    ray: Any, jobs: list[Any], workers: int, address: str | None, fn: JobFn
) -> Iterator[JobOutcome]:
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    refs: dict[Any, Any] = {}
    try:
        # num_cpus=1: one simulation per worker process at a time (libsumo is per process).
        remote = ray.remote(num_cpus=1, max_retries=RAY_MAX_RETRIES)(fn)
        refs = {remote.remote(job): job for job in jobs}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                job = refs[ref]
                try:
                    yield JobOutcome(job, measures=ray.get(ref))
                except ray.exceptions.RayTaskError as exc:
                    # The run's own SimulationError: its message, not Ray's traceback.
                    cause = getattr(exc, "cause", None)
                    yield JobOutcome(job, error=str(cause) if cause is not None else str(exc))
                except ray.exceptions.RayError as exc:  # worker or node died
                    yield JobOutcome(job, error=f"{_died(job)} ({type(exc).__name__})")
    except BaseException:
        for ref in refs:  # Ctrl-C: stop the runs still queued or running
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
