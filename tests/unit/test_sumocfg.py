"""Reading a ``.sumocfg`` as SUMO does: the forms of an option, paths, times, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearway.sim.sumocfg import SumoConfigError, parse_sumo_time, read_sumocfg


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("<x/>")


def _cfg(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0"?>\n<configuration>\n{body}\n</configuration>\n')
    return path


def test_value_attributes_under_input_and_time_paths_from_the_cfg_folder(tmp_path):
    _touch(tmp_path / "s/net/city.net.xml", tmp_path / "s/a.rou.xml", tmp_path / "s/b.rou.xml",
           tmp_path / "s/v.add.xml")  # fmt: skip
    cfg = _cfg(tmp_path / "s/run.sumocfg", """
      <input>
        <net-file value="net/city.net.xml"/>
        <route-files value="a.rou.xml, b.rou.xml"/>
        <additional-files value="v.add.xml"/>
      </input>
      <time><begin value="25200"/><end value="27600"/></time>
    """)  # fmt: skip
    c = read_sumocfg(cfg)
    s = (tmp_path / "s").resolve()
    assert c.net_file == s / "net/city.net.xml"
    assert c.route_files == (s / "a.rou.xml", s / "b.rou.xml")
    assert c.additional_files == (s / "v.add.xml",)
    assert (c.begin_s, c.end_s) == (25200.0, 27600.0)
    assert c.ignored == ()


def test_short_names_v_attribute_text_values_and_space_separated_lists(tmp_path):
    _touch(tmp_path / "n.net.xml", tmp_path / "r1.xml", tmp_path / "r2.xml")
    cfg = _cfg(tmp_path / "c.sumocfg", """
      <n v="n.net.xml"/>
      <routes>r1.xml r2.xml</routes>
      <b value="7:00:00"/>
      <e value="1:07:40:00"/>
      <step-length value="0.5"/>
      <report><verbose value="true"/></report>
      <gui_only><gui-settings-file value="view.xml"/></gui_only>
    """)  # fmt: skip
    c = read_sumocfg(cfg)
    assert c.net_file.name == "n.net.xml" and [p.name for p in c.route_files] == ["r1.xml", "r2.xml"]
    assert (c.begin_s, c.end_s) == (25200.0, 86400.0 + 7 * 3600 + 40 * 60)
    assert c.ignored == ("step-length",)


def test_absolute_paths_environment_variables_and_no_end(tmp_path, monkeypatch):
    net = tmp_path / "abs" / "x.net.xml"
    _touch(net)
    monkeypatch.setenv("CW_NETS", str(net.parent))
    cfg = _cfg(tmp_path / "other/c.sumocfg", """
      <input><net-file value="${CW_NETS}/x.net.xml"/></input>
      <time><end value="-1"/></time>
    """)  # fmt: skip
    c = read_sumocfg(cfg)
    assert c.net_file == net and c.route_files == () and c.begin_s is None and c.end_s is None


@pytest.mark.parametrize(
    "text, seconds",
    [("0", 0.0), ("25200", 25200.0), ("12.5", 12.5), ("7:00:00", 25200.0), ("1:30", 90.0),
     ("2:00:00:01", 2 * 86400 + 1.0)],
)  # fmt: skip
def test_sumo_times(text, seconds):
    assert parse_sumo_time(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1::2", "1:2:3:4:5", "inf"])
def test_not_a_sumo_time(text):
    with pytest.raises(ValueError):
        parse_sumo_time(text)


def test_a_missing_cfg_is_named(tmp_path):
    with pytest.raises(SumoConfigError, match="nope.sumocfg not found"):
        read_sumocfg(tmp_path / "nope.sumocfg")


def test_a_cfg_that_is_not_xml(tmp_path):
    (tmp_path / "c.sumocfg").write_text("net-file = x.net.xml")
    with pytest.raises(SumoConfigError, match="is not valid XML"):
        read_sumocfg(tmp_path / "c.sumocfg")


def test_a_cfg_without_a_net_file(tmp_path):
    _touch(tmp_path / "r.xml")
    cfg = _cfg(tmp_path / "c.sumocfg", '<input><route-files value="r.xml"/></input>')
    with pytest.raises(SumoConfigError, match="names no network"):
        read_sumocfg(cfg)


@pytest.mark.parametrize("option", ["net-file", "route-files", "additional-files"])
def test_a_file_the_cfg_names_that_does_not_exist(tmp_path, option):
    _touch(tmp_path / "n.net.xml")
    body = '<net-file value="n.net.xml"/>' if option != "net-file" else ""
    cfg = _cfg(tmp_path / "c.sumocfg", f'<input>{body}<{option} value="gone.xml"/></input>')
    with pytest.raises(SumoConfigError, match=rf"{option} names .*gone\.xml, which does not exist"):
        read_sumocfg(cfg)


@pytest.mark.parametrize(
    "times, message",
    [('<begin value="3600"/><end value="3600"/>', "begin 3600 s is not before end 3600 s"),
     ('<begin value="-5"/>', "begin -5 s is negative"),
     ('<begin value="at seven"/>', "begin 'at seven' is not a time")],
)  # fmt: skip
def test_bad_times(tmp_path, times, message):
    _touch(tmp_path / "n.net.xml")
    cfg = _cfg(tmp_path / "c.sumocfg", f'<net-file value="n.net.xml"/><time>{times}</time>')
    with pytest.raises(SumoConfigError, match=message):
        read_sumocfg(cfg)


def test_an_unset_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("CW_UNSET", raising=False)
    cfg = _cfg(tmp_path / "c.sumocfg", '<net-file value="${CW_UNSET}/n.net.xml"/>')
    with pytest.raises(SumoConfigError, match=r"\$\{CW_UNSET\}, which is not set"):
        read_sumocfg(cfg)


@pytest.mark.sumo
def test_reads_the_files_and_times_sumo_itself_reads(tmp_path):
    """SUMO's own reading of the same cfg (written back by --save-configuration, with every
    form normalised to ``<long-name value=...>`` and absolute paths) is the oracle."""
    import subprocess
    import xml.etree.ElementTree as ET

    from clearway.sim.sumo_env import sumo_binary
    from tests.fakes.networks import netgenerate_grid

    (tmp_path / "s/nets").mkdir(parents=True)
    net = netgenerate_grid(tmp_path / "s/nets/g.net.xml", 2)
    (tmp_path / "s/r.rou.xml").write_text("<routes/>")
    (tmp_path / "s/t.rou.xml").write_text("<routes/>")
    (tmp_path / "s/v.add.xml").write_text("<additional/>")
    cfg = _cfg(tmp_path / "s/c.sumocfg", """
      <input><n value="nets/g.net.xml"/><route-files>r.rou.xml,t.rou.xml</route-files>
      <additional v="v.add.xml"/></input>
      <time><b value="1:00:00"/><end value="4000"/></time>
    """)  # fmt: skip
    saved = tmp_path / "saved.sumocfg"
    subprocess.run([sumo_binary("sumo"), "-c", str(cfg), "--save-configuration", str(saved)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    sumo_says = {el.tag: el.get("value") for el in ET.parse(saved).getroot().iter()}
    c = read_sumocfg(cfg)

    def resolved(value: str) -> list[Path]:
        # SUMO writes paths relative to the saved file's folder.
        return [(saved.parent / v).resolve() for v in value.split(",")]

    assert resolved(sumo_says["net-file"]) == [c.net_file] == [net.resolve()]
    assert resolved(sumo_says["route-files"]) == list(c.route_files)
    assert resolved(sumo_says["additional-files"]) == list(c.additional_files)
    assert parse_sumo_time(sumo_says["begin"]) == c.begin_s == 3600.0
    assert parse_sumo_time(sumo_says["end"]) == c.end_s == 4000.0


def test_clearways_own_detector_files_are_recognised(tmp_path):
    from clearway.sim.sumocfg import holds_clearway_detectors

    ours, theirs, other = tmp_path / "a.xml", tmp_path / "b.xml", tmp_path / "c.xml"
    ours.write_text('<additional><laneAreaDetector id="cw_e1_0" lane="e1_0"/></additional>')
    theirs.write_text('<additional><e2Detector id="loop7" lane="e1_0"/></additional>')
    other.write_text('<additional><vType id="bus"/></additional>')
    assert holds_clearway_detectors(ours)
    assert not holds_clearway_detectors(theirs) and not holds_clearway_detectors(other)
