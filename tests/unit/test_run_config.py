"""The run configuration every request's ``created`` record carries, for a replay."""

from __future__ import annotations

import gzip
import hashlib
import json

from clearway.service.run_config import content_digest, run_config
from clearway.sim.scenario import Scenario


def _scenario(tmp_path, seed=7):
    net = tmp_path / "city.net.xml"
    net.write_text("<net/>")
    routes = tmp_path / "city.rou.xml"
    routes.write_text("<routes/>")
    return Scenario("city", net, (routes,), (), None, seed, 900.0, demand_scale=1.5, begin_s=60.0)


def test_a_twin_run_names_its_files_with_digests_its_seed_and_its_control(tmp_path):
    sc = _scenario(tmp_path)
    cfg = run_config(sc, strategy="corridor", normal="max-pressure", tick_s=1.0, backend="libsumo")
    assert cfg["site"] == "twin" and cfg["scenario"] == "city"
    assert (cfg["strategy"], cfg["normal"], cfg["tick_s"]) == ("corridor", "max-pressure", 1.0)
    assert (cfg["seed"], cfg["begin_s"], cfg["end_s"], cfg["demand_scale"]) == (7, 60.0, 900.0, 1.5)
    assert cfg["net"] == {
        "path": str(sc.net_file.resolve()),
        "sha256": hashlib.sha256(b"<net/>").hexdigest(),
        "content_sha256": hashlib.sha256(b"<net/>").hexdigest(),
    }
    assert [f["sha256"] for f in cfg["routes"]] == [hashlib.sha256(b"<routes/>").hexdigest()]
    assert cfg["detectors"] is None and cfg["additional"] == []
    json.dumps(cfg)  # goes into an audit payload as it is


def test_another_seed_is_another_configuration(tmp_path):
    a = run_config(_scenario(tmp_path, 1), strategy="corridor", normal="fixed-time", tick_s=1.0,
                   backend="libsumo")  # fmt: skip
    b = run_config(_scenario(tmp_path, 2), strategy="corridor", normal="fixed-time", tick_s=1.0,
                   backend="libsumo")  # fmt: skip
    assert (a["seed"], b["seed"]) == (1, 2)


def test_field_controllers_have_no_scenario(tmp_path):
    cfg = run_config(None, strategy="corridor", normal="fixed-time", tick_s=2.0, backend="libsumo")
    assert cfg == {"site": "field", "strategy": "corridor", "normal": "fixed-time", "tick_s": 2.0}


def test_a_network_generated_again_has_the_same_content_digest(tmp_path):
    a, b, c = tmp_path / "a.net.xml", tmp_path / "b.net.xml.gz", tmp_path / "c.net.xml"
    a.write_text("<!-- generated on 10:00 into /tmp/x -->\n<net><edge id='e'/></net>")
    b.write_bytes(
        gzip.compress(b"<!-- generated on 11:00\n into /y -->\n<net><edge id='e'/></net>")
    )
    c.write_text("<!-- generated on 10:00 into /tmp/x -->\n<net><edge id='f'/></net>")
    assert content_digest(a) == content_digest(b) != content_digest(c)
    assert content_digest(tmp_path / "gone.net.xml") == ""
