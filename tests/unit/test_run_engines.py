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
    assert "worker process died" in by_label["crash"].error
    assert by_label["boom"].error == "boom run failed"


def test_unknown_engine_and_a_stray_address_are_config_errors():
    with pytest.raises(ConfigError, match="unknown engine 'dask'"):
        run_jobs([_job("a")], engine="dask")
    with pytest.raises(ConfigError, match="--engine ray"):
        run_jobs([_job("a")], engine="process", address="auto")


def test_ray_engine_without_ray_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(ConfigError, match=r"install clearway\[ray\]"):
        run_jobs([_job("a")], engine="ray")
