"""The SNMP manager against the agent, for real over UDP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from clearway.errors import ClearwayError
from clearway.field.ntcip import SnmpType, obj
from clearway.field.snmp_agent import DictObjectStore, NtcipAgent
from clearway.field.snmp_client import (
    ControllerAuthError,
    ControllerRefusedError,
    ControllerReplyError,
    ControllerUnreachableError,
    FieldError,
    SnmpRunner,
    SnmpTarget,
    SnmpV2cCommunity,
    SnmpV3Credentials,
)

INT, OCT = SnmpType.INTEGER, SnmpType.OCTET_STRING
USER = SnmpV3Credentials("clearway-ops", "auth-secret-1", "priv-secret-1")
COMMUNITY = SnmpV2cCommunity("community-secret")
YELLOW_2 = obj("phaseYellowChange").instance(2)
HOLD_1 = obj("phaseControlGroupHold").instance(1)
FORCE_1 = obj("phaseControlGroupForceOff").instance(1)
CONC_2 = obj("phaseConcurrency").instance(2)
BACKUP = obj("unitBackupTime").instance()
SECRETS = ("auth-secret-1", "priv-secret-1", "community-secret", "wrong-auth-9", "wrong-priv-9")


def _store() -> DictObjectStore:
    return DictObjectStore(
        {YELLOW_2: (INT, 40), HOLD_1: (INT, 0), FORCE_1: (INT, 0), CONC_2: (OCT, b"\x05\x06"),
         BACKUP: (INT, 10)},
        writable=[HOLD_1, FORCE_1, BACKUP],
        ranges={HOLD_1: (0, 255), FORCE_1: (0, 255), BACKUP: (1, 65535)},
    )  # fmt: skip


@pytest.fixture(scope="module")
def runner():
    with SnmpRunner() as r:
        yield r


@pytest.fixture
def agent(runner):
    a = NtcipAgent(_store(), port=0, v3_users=[USER], v2c_community=COMMUNITY)
    runner.run(a.start())
    yield a
    runner.run(a.stop())


def _client(runner, agent, creds=USER, timeout_s=2.0):
    return runner.client(SnmpTarget("127.0.0.1", agent.port, creds, timeout_s, 0))


def _no_secret(exc: BaseException) -> None:
    assert not any(s in str(exc) or s in repr(exc) for s in SECRETS)


@pytest.mark.parametrize("creds", [USER, COMMUNITY], ids=["v3-authPriv", "v2c"])
def test_get_set_and_walk_round_trip(runner, agent, creds):
    c = _client(runner, agent, creds)
    assert runner.run(c.get([YELLOW_2, CONC_2])) == {YELLOW_2: 40, CONC_2: b"\x05\x06"}
    echoed = runner.run(c.set([(HOLD_1, 0b10), (FORCE_1, 0b100000), (BACKUP, 30)]))
    assert echoed == {HOLD_1: 0b10, FORCE_1: 0b100000, BACKUP: 30}
    assert agent.store.values[HOLD_1] == (INT, 0b10)  # applied in the store, not just echoed
    walked = runner.run(c.walk(obj("phaseYellowChange").oid[:-3]))  # the whole phase branch
    assert list(walked) == sorted(walked)
    assert walked == {YELLOW_2: 40, CONC_2: b"\x05\x06", HOLD_1: 0b10, FORCE_1: 0b100000}


@pytest.mark.parametrize("bulk", [0, 2, 50], ids=["getnext", "getbulk-2", "getbulk-50"])
def test_walk_of_everything_matches_the_store(runner, agent, bulk):
    c = _client(runner, agent)
    walked = runner.run(c.walk((1, 3, 6, 1, 4, 1, 1206), bulk=bulk))
    assert list(walked.items()) == [(o, v) for o, (_, v) in sorted(agent.store.values.items())]


def test_refused_set_names_the_oid_and_changes_nothing(runner, agent):
    c = _client(runner, agent)
    with pytest.raises(ControllerRefusedError) as info:
        runner.run(c.set([(HOLD_1, 0b1), (YELLOW_2, 30), (FORCE_1, 0b1)]))
    assert info.value.status == "notWritable"
    assert info.value.oid == YELLOW_2
    assert "1.3.6.1.4.1.1206.4.2.1.1.2.1.8.2" in str(info.value)
    assert agent.store.values[HOLD_1] == (INT, 0)  # all or nothing (RFC 3416 two-phase SET)
    assert agent.store.values[FORCE_1] == (INT, 0)


@pytest.mark.parametrize(
    ("item", "status"),
    [((HOLD_1, b"\x01"), "wrongType"), ((BACKUP, 0), "wrongValue"),
     ((obj("phaseRing").instance(9), 1), "noCreation")],
)  # fmt: skip
def test_set_errors_map_to_their_error_status(runner, agent, item, status):
    c = _client(runner, agent)
    with pytest.raises(ControllerRefusedError) as info:
        runner.run(c.set([(FORCE_1, 1), item]))
    assert (info.value.status, info.value.oid) == (status, item[0])


def test_get_of_a_missing_object_is_a_reply_error(runner, agent):
    c = _client(runner, agent)
    with pytest.raises(ControllerReplyError, match=r"1\.3\.6\.1\.4\.1\.1206\.4\.2\.1\.7\.1\.0"):
        runner.run(c.get([YELLOW_2, obj("maxRings").instance()]))


@pytest.mark.parametrize(
    ("creds", "says"),
    [
        (SnmpV3Credentials("clearway-ops", "wrong-auth-9", "priv-secret-1"), "wrong digest"),
        (SnmpV3Credentials("clearway-ops", "auth-secret-1", "wrong-priv-9"), "decryption error"),
        (SnmpV3Credentials("intruder", "auth-secret-1", "priv-secret-1"), "unknown SNMPv3 user"),
        (SnmpV3Credentials("clearway-ops", "auth-secret-1", "priv-secret-1", "SHA-256"),
         "wrong digest"),
    ],
)  # fmt: skip
def test_bad_credentials_say_which_without_the_secret(runner, agent, creds, says):
    c = runner.client(SnmpTarget("127.0.0.1", agent.port, creds, 0.5, 0))
    with pytest.raises(ControllerAuthError, match=says) as info:
        runner.run(c.get([YELLOW_2]))
    _no_secret(info.value)


def test_v2c_is_not_answered_by_an_agent_with_only_v3(runner):
    a = NtcipAgent(_store(), port=0, v3_users=[USER])
    runner.run(a.start())
    try:
        c = _client(runner, a, COMMUNITY)
        with pytest.raises(ControllerUnreachableError, match="community") as info:
            runner.run(c.get([YELLOW_2]))
        _no_secret(info.value)
    finally:
        runner.run(a.stop())


def test_unreachable_port_fails_within_the_timeout(runner, agent):
    warm = _client(runner, agent)
    runner.run(warm.get([YELLOW_2]))  # the shared engine exists; only the wait is timed
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    c = runner.client(SnmpTarget("127.0.0.1", dead_port, USER, 0.3, 0))
    t0 = time.perf_counter()
    with pytest.raises(ControllerUnreachableError) as info:
        runner.run(c.get([YELLOW_2]))
    elapsed = time.perf_counter() - t0
    # pysnmp counts a timeout in whole ticks of its 0.1 s timer from the tick in progress,
    # so it fires between one tick early and on time, depending on the timer's phase.
    assert 0.3 - 0.1 <= elapsed < 0.9, elapsed
    assert f"127.0.0.1:{dead_port}" in str(info.value) and "0.3 s" in str(info.value)


def test_several_agents_share_one_loop_each_with_its_engine(runner):
    agents = []
    for yellow in (35, 45, 55):
        store = _store()
        store.values[YELLOW_2] = (INT, yellow)
        agents.append(NtcipAgent(store, port=0, v3_users=[USER]))
    for a in agents:
        runner.run(a.start())
    try:
        assert len({a.engine_id for a in agents}) == 3
        clients = [_client(runner, a) for a in agents]
        got = runner.gather([c.get([YELLOW_2]) for c in clients])
        assert [g[YELLOW_2] for g in got] == [35, 45, 55]
    finally:
        for a in agents:
            runner.run(a.stop())


def test_gather_returns_each_controllers_failure_beside_the_others_replies(runner, agent):
    good = _client(runner, agent)
    bad = runner.client(SnmpTarget("127.0.0.1", agent.port,
                                   SnmpV3Credentials("intruder", "auth-secret-1", "x" * 8), 0.3, 0))  # fmt: skip
    out = runner.gather([good.get([YELLOW_2]), bad.get([YELLOW_2])], return_exceptions=True)
    assert out[0] == {YELLOW_2: 40}
    assert isinstance(out[1], FieldError)


def test_credentials_hide_their_keys_and_refuse_short_ones():
    assert "auth-secret-1" not in repr(USER) and "priv-secret-1" not in repr(USER)
    assert "community-secret" not in repr(COMMUNITY)
    with pytest.raises(ClearwayError, match="at least 8") as info:
        SnmpV3Credentials("u", "short", "priv-secret-1")
    assert "short" not in str(info.value)
    with pytest.raises(ClearwayError, match="auth protocol"):
        SnmpV3Credentials("u", "auth-secret-1", "priv-secret-1", auth_protocol="MD5")


@pytest.mark.parametrize(("auth", "priv"), [("SHA-256", "AES-256"), ("SHA-512", "AES-192")])
def test_stronger_protocols_round_trip(runner, auth, priv):
    creds = SnmpV3Credentials("strong", "auth-secret-1", "priv-secret-1", auth, priv)
    a = NtcipAgent(_store(), port=0, v3_users=[creds])
    runner.run(a.start())
    try:
        c = _client(runner, a, creds)
        assert runner.run(c.get([YELLOW_2])) == {YELLOW_2: 40}
    finally:
        runner.run(a.stop())


def test_agent_port_in_use_is_a_clear_error(runner, agent):
    other = NtcipAgent(_store(), port=agent.port, v3_users=[USER])
    with pytest.raises(ClearwayError, match=f"cannot bind UDP 127.0.0.1:{agent.port}"):
        runner.run(other.start())


def test_a_stopped_agent_frees_its_port(runner):
    a = NtcipAgent(_store(), port=0, v3_users=[USER])
    runner.run(a.start())
    port = a.port
    runner.run(a.stop())
    again = NtcipAgent(_store(), port=port, v3_users=[USER])
    runner.run(again.start())
    try:
        assert runner.run(_client(runner, again).get([YELLOW_2])) == {YELLOW_2: 40}
    finally:
        runner.run(again.stop())


def test_runner_refuses_to_wait_on_its_own_thread(runner):
    async def inner():
        return runner.run(asyncio.sleep(0))

    with pytest.raises(ClearwayError, match="deadlock"):
        runner.run(inner())
