"""The run's collector policy: frozen setup heap and rarer young passes inside, all restored."""

from __future__ import annotations

import gc

import pytest

from clearway.heap import RUN_YOUNG_THRESHOLD, long_lived_heap


@pytest.fixture(autouse=True)
def _clean_heap():
    before = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_freezes_and_raises_the_young_threshold_inside_then_restores() -> None:
    before = gc.get_threshold()
    with long_lived_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (max(RUN_YOUNG_THRESHOLD, before[0]), *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_restores_on_error_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), long_lived_heap():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_heap_frozen_by_its_owner_stays_frozen() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with long_lived_heap():
        pass
    assert gc.get_freeze_count() == frozen


def test_never_lowers_a_higher_threshold() -> None:
    gc.set_threshold(50_000, 10, 10)
    with long_lived_heap(young_threshold=100):
        assert gc.get_threshold()[0] == 50_000
    with pytest.raises(ValueError), long_lived_heap(young_threshold=0):
        pass
