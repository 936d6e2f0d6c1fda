"""Which scenario a replay re-runs: the logged files, unchanged, or a clear refusal."""

from __future__ import annotations

import pytest

from clearway.replay.rerun import logged_scenario
from clearway.replay.source import ReplayError
from clearway.service.run_config import run_config
from clearway.sim.scenario import Scenario


def _run(tmp_path):
    net, routes = tmp_path / "city.net.xml", tmp_path / "city.rou.xml"
    net.write_text("<net/>")
    routes.write_text("<routes/>")
    sc = Scenario("city", net, (routes,), (), None, 5, 900.0, demand_scale=2.0, begin_s=30.0)
    return sc, run_config(sc, strategy="corridor", normal="fixed-time", tick_s=1.0,
                          backend="libsumo")  # fmt: skip


def test_the_logged_files_unchanged_are_the_scenario_the_service_ran(tmp_path):
    sc, run = _run(tmp_path)
    again = logged_scenario(run)
    assert again.net_file.resolve() == sc.net_file.resolve()
    assert [p.resolve() for p in again.route_files] == [p.resolve() for p in sc.route_files]
    assert (again.seed, again.begin_s, again.end_s, again.demand_scale) == (5, 30.0, 900.0, 2.0)


def test_a_changed_or_missing_file_is_named_and_an_override_asked_for(tmp_path):
    sc, run = _run(tmp_path)
    sc.route_files[0].write_text("<routes><vehicle/></routes>")
    with pytest.raises(ReplayError, match=r"city\.rou\.xml has changed.*--scenario"):
        logged_scenario(run)
    sc.net_file.unlink()
    with pytest.raises(ReplayError, match=r"city\.net\.xml is gone.*--sumocfg"):
        logged_scenario(run)


def test_no_logged_configuration_or_a_field_site_cannot_be_re_run_as_logged():
    with pytest.raises(ReplayError, match="no run configuration.*--scenario"):
        logged_scenario(None)
    field = run_config(None, strategy="corridor", normal="fixed-time", tick_s=1.0,
                       backend="libsumo")  # fmt: skip
    with pytest.raises(ReplayError, match="field controllers, not on a twin"):
        logged_scenario(field)
