"""The process engine survives a worker process that dies: that run fails, the others finish."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from clearway.errors import ConfigError
from clearway.evaluation.engines import run_jobs


def crash_or_echo(job):
    """Runs in the spawned worker: ``crash`` kills its process the way a SUMO segfault would."""
    if job.label == "crash":
        os._exit(3)
    if job.label == "boom":
        raise RuntimeError("boom run failed")
    return job.label


def _job(label: str, seed: int = 1) -> SimpleNamespace:
    return SimpleNamespace(label=label, scenario=SimpleNamespace(seed=seed))


def test_a_dead_worker_fails_its_own_run_only():
    jobs = [_job("a"), _job("crash"), _job("b"), _job("boom"), _job("c"), _job("d")]
    outcomes = list(run_jobs(jobs, engine="process", workers=2, fn=crash_or_echo))
    by_label = {o.job.label: o for o in outcomes}
    assert len(outcomes) == len(jobs) and set(by_label) == {j.label for j in jobs}
    for label in "abcd":
        assert by_label[label].ok and by_label[label].measures == label
    assert "crash run, seed 1: its worker process died" in by_label["crash"].error
    # The sweep maps outcomes back to its cases by the very job object it submitted.
    assert all(any(o.job is j for o in outcomes) for j in jobs)
    assert by_label["boom"].error == "boom run failed"


def test_a_dead_run_without_a_seed_is_named_without_one():
    # A sweep's free-flow run has no seed (it runs the trips alone, without demand).
    from clearway.evaluation.engines import _died

    assert _died(SimpleNamespace(label="free-flow")).startswith("free-flow run: its worker")
    assert _died(_job("corridor", 3)).startswith("corridor run, seed 3: its worker")


def test_unknown_engine_and_a_stray_address_are_config_errors():
    with pytest.raises(ConfigError, match="unknown engine 'dask'"):
        run_jobs([_job("a")], engine="dask")
    with pytest.raises(ConfigError, match="--engine ray"):
        run_jobs([_job("a")], engine="process", address="auto")


def test_ray_engine_without_ray_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(ConfigError, match=r"install clearway\[ray\]"):
        run_jobs([_job("a")], engine="ray")
