"""Fuzz ``load_network`` with corrupted SUMO nets (issue 8): every outcome is a usable
:class:`Network` or a :class:`ClearwayError` naming the file, and no case hangs.

The seed file is a 3x3 grid with traffic lights made by netgenerate; the cases truncate it,
edit its bytes, drop/duplicate/move its elements, break attributes (lane shapes, junction
foes/response, phase states, link indices, numbers, dangling ids), transcode it, gzip it, or
hand over empty files, junk and directories. The network cache is off (a cached model must not
hide a loader error); one test checks a cache in a folder does not either.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from clearway.errors import NetworkError
from clearway.network import Network, cache, load_network
from clearway.network.diagnostics import network_problems, network_summary
from tests.fakes.networks import NETGENERATE, netgenerate_grid
from tests.fuzz.corrupt import (
    ENCODINGS,
    apply_byte_edits,
    apply_xml_edits,
    assert_clear_error,
    byte_edits,
    fuzz_settings,
    gzipped,
    reencode,
    time_limit,
    xml_edits,
)

#: Seconds one load may take (the seed net loads in ~10 ms).
LIMIT_S = 10

if not NETGENERATE.exists():  # pragma: no cover - depends on the installed wheel
    pytest.skip("netgenerate is not installed next to the Python interpreter",
                allow_module_level=True)  # fmt: skip


@pytest.fixture(scope="module")
def seed_net(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = netgenerate_grid(tmp_path_factory.mktemp("seed") / "grid.net.xml", 3)
    return path.read_bytes()


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cases")


# -- the contract ----------------------------------------------------------------------------
def check_load(path: Path) -> Network | NetworkError:
    """Load ``path``: a consistent network, or a clear NetworkError (returned); never a hang."""
    try:
        with time_limit(LIMIT_S, f"loading {path}"):
            net = load_network(path)
            check_invariants(net)
        return net
    except NetworkError as exc:
        with keep_failing_case(path):
            assert_clear_error(exc, path)
        return exc
    except BaseException:
        with keep_failing_case(path):
            raise


@contextlib.contextmanager
def keep_failing_case(path: Path) -> Iterator[None]:
    """On failure, copy the case (overwritten by the next example) next to it for a reproducer."""
    try:
        yield
    except BaseException:
        if path.is_file():
            kept = path.with_name(f"failing-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
                                  f"-{path.name}")  # fmt: skip
            shutil.copyfile(path, kept)
            if currently_in_test_context():
                note(f"reproducer kept as {kept}")
        raise


def check_invariants(net: Network) -> None:
    """What the rest of clearway relies on in a loaded network."""
    for edge in net.edges.values():
        assert all(lane_id in net.lanes for lane_id in edge.lane_ids), edge
    for lane in net.lanes.values():
        assert math.isfinite(lane.length_m) and math.isfinite(lane.speed_mps), lane
    for link in net.links:
        assert link.from_lane in net.lanes and link.to_lane in net.lanes, link
        if link.signal_id is not None:
            light = net.traffic_lights[link.signal_id]
            assert 0 <= link.signal_index < light.link_count, (link, light.link_count)
    for light in net.traffic_lights.values():
        assert light.default_program_id in light.programs, light
        for program in light.programs.values():
            assert all(len(p.state) <= light.link_count for p in program.phases), light.id
        net.signal_links(light.id)
    for junction in net.junctions.values():
        assert len(junction.foes) == len(junction.response), junction.id
    # Diagnostics and the cache's pickling must cope with whatever was loaded.
    network_problems(net)
    network_summary(net)
    pickle.loads(pickle.dumps(net, protocol=pickle.HIGHEST_PROTOCOL))


def write_case(case_dir: Path, data: bytes, name: str = "case.net.xml") -> Path:
    path = case_dir / name
    path.write_bytes(data)
    return path


# -- byte-level corruption -------------------------------------------------------------------
def test_seed_net_loads(seed_net: bytes, case_dir: Path) -> None:
    net = check_load(write_case(case_dir, seed_net, "seed.net.xml"))
    assert isinstance(net, Network) and len(net.traffic_lights) == 5


@fuzz_settings(default=60)
@given(cut=st.floats(0.0, 1.0, exclude_max=True), packed=st.booleans())
def test_truncated(seed_net: bytes, case_dir: Path, cut: float, packed: bool) -> None:
    data = gzipped(seed_net) if packed else seed_net
    check_load(write_case(case_dir, data[: int(len(data) * cut)]))


@fuzz_settings(default=80)
@given(data=st.data(), packed=st.booleans())
def test_byte_edits(seed_net: bytes, case_dir: Path, data: st.DataObject, packed: bool) -> None:
    edits = data.draw(byte_edits(len(seed_net)))
    mutated = apply_byte_edits(seed_net, edits)
    check_load(write_case(case_dir, gzipped(mutated) if packed else mutated))


@fuzz_settings(default=40)
@given(data=st.data())
def test_gzip_stream_edits(seed_net: bytes, case_dir: Path, data: st.DataObject) -> None:
    packed = gzipped(seed_net)
    check_load(write_case(case_dir, apply_byte_edits(packed, data.draw(byte_edits(len(packed))))))


# -- XML-aware corruption --------------------------------------------------------------------
@fuzz_settings(default=150)
@given(edits=xml_edits())
def test_xml_edits(seed_net: bytes, case_dir: Path, edits: list) -> None:
    check_load(write_case(case_dir, apply_xml_edits(seed_net, edits)))


@fuzz_settings(default=40)
@given(
    encoding=st.sampled_from(ENCODINGS),
    declared=st.sampled_from([None, "UTF-8", "UTF-16", "ISO-8859-1", "ascii", "nonsense-42"]),
    accent=st.booleans(),
)
def test_encodings(
    seed_net: bytes, case_dir: Path, encoding: str, declared: str | None, accent: bool
) -> None:
    text = seed_net.replace(b'id="A0"', 'id="Ä0é"'.encode()) if accent else seed_net
    check_load(write_case(case_dir, reencode(text, encoding, declared)))


# -- not a net at all --------------------------------------------------------------------------
@fuzz_settings(default=40)
@given(junk=st.binary(max_size=2048), packed=st.booleans())
def test_binary_junk(case_dir: Path, junk: bytes, packed: bool) -> None:
    check_load(write_case(case_dir, gzipped(junk) if packed else junk))


@fuzz_settings(default=30)
@given(text=st.text(max_size=300), root=st.sampled_from(["net", "routes", "osm", "x", ""]))
def test_text_in_a_root(case_dir: Path, text: str, root: str) -> None:
    from xml.sax.saxutils import escape

    body = f"<{root}>{escape(text)}</{root}>" if root else text
    check_load(write_case(case_dir, body.encode("utf-8", errors="replace")))


@pytest.mark.parametrize(
    "data",
    [b"", gzipped(b""), b"\x1f\x8b", b"<net/>", b"<net>", b"<?xml version='1.0'?>",
     b"<!DOCTYPE net [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
     b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'><!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>"
     b"<!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'><!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'>"
     b"<!ENTITY g '&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;'><!ENTITY h '&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;'>]>"
     b"<net><location projParameter='&h;'/></net>",
     b"<!DOCTYPE net SYSTEM 'file:///dev/zero'><net/>",
     b"<net><edge id='e' from='a' to='b'><lane id='e_0' index='0' speed='1' length='1' "
     b"shape='0,0 1,1'/></edge></net>"],
    ids=["empty", "empty-gzip", "gzip-magic-only", "empty-net", "unclosed-net", "declaration",
         "billion-laughs", "external-dtd", "edge-without-junctions"],
)  # fmt: skip
def test_special_files(case_dir: Path, data: bytes) -> None:
    check_load(write_case(case_dir, data))


def test_directory_and_missing_paths(case_dir: Path, seed_net: bytes) -> None:
    folder = case_dir / "a-folder.net.xml"
    folder.mkdir(exist_ok=True)
    write_case(folder, seed_net, "inside.net.xml")
    for path in (folder, case_dir / "missing.net.xml", case_dir / "no" / "such" / "dir.net.xml"):
        assert isinstance(check_load(path), NetworkError)


# -- regressions found by this fuzz (each was a crash or a hang) ---------------------------
@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        # hang: link_count became 10**21 and network_problems iterated over it
        ('tl="B0" linkIndex="3"', 'tl="B0" linkIndex="999999999999999999999"', "linkIndex"),
        # a signalised link with index -1 would read the *last* state character
        ('tl="B0" linkIndex="3"', 'tl="B0" linkIndex="-1"', "linkIndex -1"),
        # AttributeError: an internal edge without function="internal" has no junctions
        ('<edge id=":B1_8" function="internal">', '<edge id=":B1_8">', "edge ':B1_8'"),
        # LookupError from the root sniffer
        ('encoding="UTF-8"', 'encoding="abc"', "unknown text encoding"),
        # hang: a foes tuple of 10**9 rows
        ('<request index="0"', '<request index="999999999"', "index 999999999"),
        # SUMO refuses these; routing on NaN lengths would be silently wrong
        ('length="183.20" shape="210.40,395.20', 'length="nan" shape="210.40,395.20', "length=nan"),
        # was "ValueError: cannot convert float NaN to integer" without saying where
        ('<phase duration="42" state="GGggrrrrGGGg"/>', '<phase duration="nan" state="G"/>',
         "<phase>"),
    ],
)  # fmt: skip
def test_regressions(seed_net: bytes, case_dir: Path, old: str, new: str, says: str) -> None:
    assert old.encode() in seed_net
    path = write_case(case_dir, seed_net.replace(old.encode(), new.encode(), 1))
    error = check_load(path)
    assert isinstance(error, NetworkError)
    assert says in str(error)


def test_cache_does_not_hide_a_corrupted_file(
    seed_net: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    path = write_case(tmp_path, seed_net)
    assert isinstance(check_load(path), Network)  # now cached
    path.write_bytes(seed_net.replace(b'linkIndex="3"', b'linkIndex="-1"', 1))
    with pytest.raises(NetworkError, match="linkIndex -1"):
        load_network(path)
    path.write_bytes(seed_net[: len(seed_net) // 2])
    with pytest.raises(NetworkError, match="truncated"):
        load_network(path)
