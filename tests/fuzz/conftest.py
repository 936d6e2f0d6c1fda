"""Every fuzz test loads what it corrupts from the file itself: the network cache is off, so
a cached model can never hide a loader error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clearway.network import cache


@pytest.fixture(scope="module", autouse=True)
def _no_cache() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(cache.CACHE_ENV, "off")
        yield
