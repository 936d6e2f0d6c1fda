"""Junction configs: round trip, credentials by reference only, and every bad input named."""

from __future__ import annotations

import pytest

from clearway.errors import ConfigError, UnsafeTimingError
from clearway.field.config import check_config, config_for, load_config, phase_timings, write_config
from clearway.field.snmp_client import SnmpV2cCommunity, SnmpV3Credentials
from tests.fakes.junctions import four_leg

GOOD = """
[[controller]]
signal_id = "J"
host = "10.0.0.12"
port = 1161
snmp = "{snmp}"
credentials = "{ref}"
backup_time_s = 8
link_count = 4

[[controller.phase]]
number = 1
ring = 1
links = [0, 2]
permissive = [2]

[[controller.phase]]
number = 2
ring = 1
links = [1]

[[controller.overlap]]
number = 1
parents = [1, 2]
links = [3]

[controller.sequence]
rings = [[1, 2]]
barriers = [[1], [2]]
{extra}
"""


def write(tmp_path, *, snmp="v3", ref="env:CW_TEST_SNMP", extra=""):
    path = tmp_path / "junctions.toml"
    path.write_text(GOOD.format(snmp=snmp, ref=ref, extra=extra))
    return path


def test_a_good_config_loads_checks_and_resolves(tmp_path, monkeypatch):
    cfg = load_config(write(tmp_path))
    c = cfg.controller("J")
    assert (c.host, c.port, c.snmp, c.backup_time_s) == ("10.0.0.12", 1161, "v3", 8.0)
    assert c.phase_map.rings == ((1, 2),) and c.phase_map.overlaps[0].parents == {1, 2}
    assert check_config(cfg, {"J": four_leg()}) == []
    monkeypatch.setenv("CW_TEST_SNMP", "ops:authkey-123456:privkey-123456")
    creds = c.credentials()
    assert isinstance(creds, SnmpV3Credentials) and creds.user == "ops"
    assert "authkey" not in repr(creds)


def test_round_trip_keeps_everything(tmp_path):
    cfg = load_config(write(tmp_path, extra="[controller.timings.2]\nmin_green_s = 12.0\n"))
    again = load_config(write_config(tmp_path / "out.toml", cfg))
    assert [replace_source(c) for c in again.controllers] == [
        replace_source(c) for c in cfg.controllers
    ]


def replace_source(c):
    from dataclasses import replace

    return replace(c, source="")


@pytest.mark.sumo
def test_generated_config_round_trips_and_passes_the_checks(tmp_path):
    from tests.unit.test_nema import real_nets

    net, models = real_nets()[0]
    cfg = config_for(net, models, sorted(models), "127.0.0.1", 16100, "env:CW_X", 5.0)
    assert [c.port for c in cfg.controllers] == list(range(16100, 16100 + len(models)))
    again = load_config(write_config(tmp_path / "grid.toml", cfg))
    assert [replace_source(c) for c in again.controllers] == list(cfg.controllers)
    assert check_config(again, models, net) == []


@pytest.mark.parametrize("key", ["auth_key", "password", "community", "priv_key"])
def test_a_secret_in_the_file_is_refused(tmp_path, key):
    path = write(tmp_path, extra=f'\n[controller.snmp_user]\n{key} = "hunter2hunter2"\n')
    with pytest.raises(
        ConfigError,
        match=rf"junctions.toml: controller 1 \('J'\) field 'snmp_user.{key}'.*env:NAME",
    ) as e:
        load_config(path)
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize("ref", ["hunter2", "env:", "env:1BAD", "vault:x"])
def test_a_credentials_value_that_is_no_reference_is_refused(tmp_path, ref):
    with pytest.raises(ConfigError, match=r"controller 1 \('J'\) field 'credentials'"):
        load_config(write(tmp_path, ref=ref))


def test_a_world_readable_credentials_file_is_refused(tmp_path):
    secret = tmp_path / "j.secret"
    secret.write_text("ops:authkey-123456:privkey-123456\n")
    c = load_config(write(tmp_path, ref=f"file:{secret}")).controller("J")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others.*chmod 600"):
        c.credentials()
    secret.chmod(0o600)
    assert c.credentials().user == "ops"


def test_missing_env_and_malformed_secrets_are_named(tmp_path, monkeypatch):
    c = load_config(write(tmp_path)).controller("J")
    monkeypatch.delenv("CW_TEST_SNMP", raising=False)
    with pytest.raises(
        ConfigError, match="controller 'J' field 'credentials'.*'CW_TEST_SNMP' is not set"
    ):
        c.credentials()
    monkeypatch.setenv("CW_TEST_SNMP", "only-a-user")
    with pytest.raises(ConfigError, match="user:auth_key:priv_key"):
        c.credentials()
    monkeypatch.setenv("CW_TEST_SNMP", "ops:short:short")
    with pytest.raises(ConfigError, match="at least"):
        c.credentials()
    v2c = load_config(write(tmp_path, snmp="v2c")).controller("J")
    monkeypatch.setenv("CW_TEST_SNMP", "public-ish")
    assert v2c.credentials() == SnmpV2cCommunity("public-ish")


def test_bad_fields_name_file_controller_and_field(tmp_path):
    path = write(tmp_path)
    path.write_text(path.read_text().replace("port = 1161", "port = 99999"))
    with pytest.raises(ConfigError, match=r"junctions.toml: controller 1 \('J'\) field 'port'"):
        load_config(path)
    path.write_text(path.read_text().replace("port = 99999", "port = 161\ncolour = 3"))
    with pytest.raises(ConfigError, match="field 'colour'"):
        load_config(path)
    path.write_text("[[controller]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_unknown_signal_and_broken_map_are_reported_by_the_checker(tmp_path):
    cfg = load_config(write(tmp_path))
    (msg,) = check_config(cfg, {"JJ": four_leg()})
    assert "unknown traffic light 'J'" in msg and "'JJ'" in msg
    path = write(tmp_path)
    path.write_text(path.read_text().replace("links = [1]", "links = [1, 2]"))
    msgs = check_config(load_config(path), {"J": four_leg()})
    assert any("link 2" in m and "one ring" in m for m in msgs), msgs


def test_timing_overrides_may_lengthen_never_shorten(tmp_path):
    model = four_leg(min_green_s=6.0, yellow_s=3.5, clearance_s=2.0)
    longer = load_config(write(tmp_path, extra="[controller.timings.1]\nmin_green_s = 15\n"))
    assert phase_timings(longer.controller("J"), model)[1].min_green_s == 15
    shorter = load_config(write(tmp_path, extra="[controller.timings.1]\nyellow_s = 3.0\n"))
    with pytest.raises(
        UnsafeTimingError, match=r"field 'timings.1.yellow_s': 3 s is below the 3.5 s"
    ):
        phase_timings(shorter.controller("J"), model)
    assert any("below" in m for m in check_config(shorter, {"J": model}))
    unknown = load_config(write(tmp_path, extra="[controller.timings.9]\nmin_green_s = 15\n"))
    with pytest.raises(ConfigError, match="no phase 9"):
        phase_timings(unknown.controller("J"), model)
