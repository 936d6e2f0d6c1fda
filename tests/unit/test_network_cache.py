"""The network cache: a model is reused only for the same bytes, and never breaks a load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearway.errors import NetworkError
from clearway.network import cache, load_network
from clearway.network.loader import _build_network
from clearway.network.netfile import read_sumo_net
from tests.fakes.networks import netgenerate_grid


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return netgenerate_grid(tmp_path_factory.mktemp("net") / "grid.net.xml", 3)


@pytest.fixture
def net_file(tmp_path: Path, grid_file: Path) -> Path:
    path = tmp_path / "grid.net.xml"
    shutil.copy(grid_file, path)
    return path


class CountingBuild:
    """The real parser, counting how often the cache had to call it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path):
        self.calls += 1
        return _build_network(read_sumo_net(path), path)


def _same_model(a, b) -> None:
    assert a.links == b.links
    for name in ("junctions", "edges", "lanes", "traffic_lights"):
        assert dict(getattr(a, name)) == dict(getattr(b, name)), name
    assert (a.geo, a.bounds_m) == (b.geo, b.bounds_m)
    for sid in a.traffic_lights:
        assert a.signal_links(sid) == b.signal_links(sid)


def test_second_load_comes_from_the_cache_and_equals_a_fresh_parse(cache_dir, net_file):
    build = CountingBuild()
    first = cache.cached_network(net_file, build)
    second = cache.cached_network(net_file, build)
    assert build.calls == 1
    assert len(list((cache_dir / "networks").glob("*.pickle"))) == 1
    _same_model(second, first)
    # read-only mappings survive the round trip
    with pytest.raises(TypeError):
        second.edges["x"] = None  # type: ignore[index]
    tl = next(iter(second.traffic_lights.values()))
    with pytest.raises(TypeError):
        tl.programs["x"] = None  # type: ignore[index]


def test_changed_bytes_are_parsed_again(cache_dir, net_file):
    build = CountingBuild()
    cache.cached_network(net_file, build)
    text = net_file.read_text(encoding="utf-8")
    net_file.write_text(text.replace("</net>", "<!-- edited -->\n</net>"), encoding="utf-8")
    cache.cached_network(net_file, build)
    assert build.calls == 2


def test_same_bytes_under_another_name_name_their_own_file(cache_dir, net_file, tmp_path):
    build = CountingBuild()
    cache.cached_network(net_file, build)
    other = tmp_path / "copy.net.xml"
    shutil.copy(net_file, other)
    net = cache.cached_network(other, build)
    assert build.calls == 1
    assert net.source == other


def test_a_damaged_entry_is_rebuilt(cache_dir, net_file):
    build = CountingBuild()
    cache.cached_network(net_file, build)
    (entry,) = (cache_dir / "networks").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    net = cache.cached_network(net_file, build)
    assert build.calls == 2
    assert net.traffic_lights
    assert entry.read_bytes() != b"not a pickle"


def test_off_writes_nothing(monkeypatch, tmp_path, net_file):
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    build = CountingBuild()
    cache.cached_network(net_file, build)
    cache.cached_network(net_file, build)
    assert build.calls == 2
    assert not (tmp_path / "xdg").exists()


def test_an_unwritable_cache_never_breaks_a_load(monkeypatch, tmp_path, net_file):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))  # a folder under a file
    assert load_network(net_file).traffic_lights


def test_oldest_entries_are_pruned(cache_dir, net_file, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    build = CountingBuild()
    text = net_file.read_text(encoding="utf-8")
    for k in range(3):
        variant = tmp_path / f"v{k}.net.xml"
        variant.write_text(text.replace("</net>", f"<!-- {k} -->\n</net>"), encoding="utf-8")
        cache.cached_network(variant, build)
    assert len(list((cache_dir / "networks").glob("*.pickle"))) == 2


def test_bad_files_still_get_the_loader_error(cache_dir, tmp_path):
    missing = tmp_path / "missing.net.xml"
    with pytest.raises(NetworkError, match="not found"):
        load_network(missing)
    broken = tmp_path / "broken.net.xml"
    broken.write_text("<net version=\"1.20\"><edge id=\"a\"", encoding="utf-8")
    with pytest.raises(NetworkError, match="truncated or malformed"):
        load_network(broken)
    assert not list(cache_dir.glob("networks/*.pickle"))  # nothing cached for a bad file


def test_reading_pauses_the_collector_and_restores_it() -> None:
    import gc

    from clearway.network.cache import _collector_paused

    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()
