"""Fuzz the OpenStreetMap import (issue 8) with corrupted extracts: every outcome is a report
or a :class:`ClearwayError` naming the file (netconvert's own words quoted), never a hang.

The seed is a tiny hand-written extract (a 3x3 street grid with one tagged signal) so a case
takes well under a second; the cases truncate it, edit its bytes, drop/duplicate/move elements,
break attributes (coordinates, node references, tags), transcode or compress it.
"""

from __future__ import annotations

import bz2
import gzip
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.errors import NetworkError
from clearway.sim import osm_import
from clearway.sim.osm_import import import_osm
from tests.fuzz.corrupt import (
    ENCODINGS,
    apply_byte_edits,
    apply_xml_edits,
    assert_clear_error,
    byte_edits,
    fuzz_settings,
    reencode,
    time_limit,
    xml_edits,
)

#: Seconds one import may take (the seed imports in ~0.7 s).
LIMIT_S = 60

pytestmark = pytest.mark.sumo


def tiny_osm() -> bytes:
    """A 3x3 grid of secondary roads ~200 m apart, its middle node a tagged signal."""
    nodes = []
    for r in range(3):
        for c in range(3):
            signal = '<tag k="highway" v="traffic_signals"/>' if (r, c) == (1, 1) else ""
            nodes.append(f'<node id="{1 + r * 3 + c}" lat="{37.8 + r * 0.002:.4f}" '
                         f'lon="{-122.29 + c * 0.002:.4f}" version="1">{signal}</node>')  # fmt: skip
    ways = []
    lines = [[1 + r * 3 + c for c in range(3)] for r in range(3)]
    lines += [[1 + r * 3 + c for r in range(3)] for c in range(3)]
    for k, refs in enumerate(lines):
        nds = "".join(f'<nd ref="{n}"/>' for n in refs)
        ways.append(f'<way id="{100 + k}" version="1">{nds}<tag k="highway" v="secondary"/>'
                    f'<tag k="name" v="Street {k}"/></way>')  # fmt: skip
    body = "\n".join(nodes + ways)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{body}\n</osm>\n'.encode()


SEED = tiny_osm()


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("osm-cases")


def check_import(case_dir: Path, data: bytes, name: str = "case.osm") -> None:
    """Import ``data``: a report, or a clear ClearwayError naming the file; never a hang."""
    source = case_dir / name
    source.write_bytes(data)
    out = case_dir / "out"
    shutil.rmtree(out, ignore_errors=True)
    try:
        with time_limit(LIMIT_S, f"importing {source}"):
            report = import_osm(source, out, end_s=30.0)
    except Exception as exc:  # noqa: BLE001 - the contract is checked, not swallowed
        kept = case_dir / f"failing-{name}"
        shutil.copyfile(source, kept)
        try:
            assert_clear_error(exc, source)
        except AssertionError as failure:
            raise AssertionError(f"{failure} (reproducer: {kept})") from exc
        return
    assert report.edges > 0 and report.net_file.is_file()


def test_seed_imports(case_dir: Path) -> None:
    check_import(case_dir, SEED)


@fuzz_settings(default=4)
@given(cut=st.floats(0.0, 1.0, exclude_max=True), packer=st.sampled_from(["", "gz", "bz2"]))
def test_truncated(case_dir: Path, cut: float, packer: str) -> None:
    data = {"": SEED, "gz": gzip.compress(SEED, mtime=0), "bz2": bz2.compress(SEED)}[packer]
    check_import(
        case_dir, data[: int(len(data) * cut)], f"case.osm{'.' + packer if packer else ''}"
    )


@fuzz_settings(default=4)
@given(data=st.data())
def test_byte_edits(case_dir: Path, data: st.DataObject) -> None:
    check_import(case_dir, apply_byte_edits(SEED, data.draw(byte_edits(len(SEED)))))


@fuzz_settings(default=8)
@given(edits=xml_edits())
def test_xml_edits(case_dir: Path, edits: list) -> None:
    check_import(case_dir, apply_xml_edits(SEED, edits))


@fuzz_settings(default=3)
@given(
    encoding=st.sampled_from(ENCODINGS),
    declared=st.sampled_from([None, "UTF-8", "UTF-16", "nonsense-42"]),
)
def test_encodings(case_dir: Path, encoding: str, declared: str | None) -> None:
    check_import(case_dir, reencode(SEED.replace(b"Street 1", "Straße 1".encode()), encoding,
                                    declared))  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 64, b"BZh9 not really bzip2", b"\x1f\x8b\x08junk", b"<osm/>",
     b"<osm version='0.6'><node id='1' lat='x' lon='y'/></osm>", b"<html><body>429</body></html>",
     b"<osm><way id='1'><nd ref='7'/><nd ref='8'/><tag k='highway' v='primary'/></way></osm>",
     # was a LookupError from the inventory pass (found by test_encodings)
     b"<?xml version='1.0' encoding='nonsense-42'?><osm version='0.6'/>"],
    ids=["empty", "zeros", "fake-bz2", "fake-gzip", "empty-osm", "bad-coordinates", "html",
         "ways-without-nodes", "unknown-encoding"],
)  # fmt: skip
def test_special_files(case_dir: Path, data: bytes) -> None:
    check_import(case_dir, data)


def test_directory_is_a_clear_error(case_dir: Path) -> None:
    folder = case_dir / "folder.osm"
    folder.mkdir(exist_ok=True)
    with pytest.raises(NetworkError, match="is not a file"):
        import_osm(folder, case_dir / "out")


def test_netconvert_timeout_is_a_clear_error(
    case_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(osm_import, "_NETCONVERT_TIMEOUT_S", 0.001)
    source = case_dir / "slow.osm"
    source.write_bytes(SEED)
    with pytest.raises(NetworkError) as err:
        import_osm(source, case_dir / "out-slow")
    assert_clear_error(err.value, source)
    assert "did not finish" in str(err.value)
