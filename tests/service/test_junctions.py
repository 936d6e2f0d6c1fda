"""Junction routes serve the intersection models of the loaded network."""

from __future__ import annotations

import pytest

from clearway.signals.build import build_intersections

from .conftest import make_service

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def test_list_has_every_signal_of_the_network(service, grid_net):
    r = service.client.get("/junctions", headers=service.as_("viewer"))
    assert r.status_code == 200
    assert sorted(j["id"] for j in r.json()) == sorted(grid_net.traffic_lights)


def test_model_matches_the_intersection_built_from_the_net(service, grid_net):
    inter = build_intersections(grid_net)["B1"]
    r = service.client.get("/junctions/B1", headers=service.as_("viewer"))
    assert r.status_code == 200
    model = r.json()
    assert model["link_count"] == inter.link_count == len(model["links"])
    for link, t in zip(model["links"], inter.timings, strict=True):
        assert (link["min_green_s"], link["yellow_s"], link["clearance_s"]) == (
            t.min_green_s, t.yellow_s, t.clearance_s,
        )  # fmt: skip
    assert any(link["foes"] for link in model["links"])
    default = next(p for p in model["programs"] if p["program_id"] == model["default_program_id"])
    assert default["cycle_s"] == pytest.approx(sum(p["duration_s"] for p in default["phases"]))


def test_a_junction_id_finds_its_signal(service, grid_net):
    tl = grid_net.traffic_lights["B1"]
    r = service.client.get(f"/junctions/{tl.junction_ids[0]}", headers=service.as_("viewer"))
    assert r.status_code == 200 and r.json()["id"] == "B1"


def test_without_a_network_the_routes_say_how_to_load_one(engine, sessions):
    svc = make_service(engine, sessions, None)
    r = svc.client.get("/junctions", headers=svc.as_("viewer"))
    assert r.status_code == 503 and "CLEARWAY_NET_FILE" in r.json()["detail"]
