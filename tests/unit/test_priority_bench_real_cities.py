"""The free-passage bench's real cities: each is a RESCO network with its own demand and an
ambulance trip on it; one that cannot be fetched (offline) is skipped with the reason, in the
result and in its table, and the others still run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH_DIR))  # the bench's modules import each other
    spec = importlib.util.spec_from_file_location("priority_bench", BENCH_DIR / "priority_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("resco_fetch", None)


def test_a_city_that_cannot_be_fetched_is_skipped_with_the_reason(bench, monkeypatch, tmp_path):
    from resco_fetch import FetchSkipped

    asked = []

    def offline(out_dir, city):
        asked.append(city)
        raise FetchSkipped(f"pip download sumo-rl==1.4.5 failed (offline?): no {city}")

    monkeypatch.setattr(bench, "_real_city", offline)
    out = bench.case_priority(tmp_path, seeds=1, names=tuple(bench.REAL_CITIES))
    assert asked == list(bench.REAL_CITIES) and out["scenarios"] == {}
    assert set(out["skipped"]) == set(bench.REAL_CITIES)
    text = "\n".join(bench.markdown(out))
    for city in bench.REAL_CITIES:
        assert f"- {city} skipped: pip download sumo-rl==1.4.5 failed (offline?): no {city}" in text


def test_every_real_city_trip_departs_inside_its_run(bench):
    for city, ((origin, destination, depart_s), begin_s, duration_s) in bench.REAL_CITIES.items():
        assert origin and destination and origin != destination, city
        assert begin_s < depart_s < begin_s + duration_s, city
