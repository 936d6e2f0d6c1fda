"""Outside dev mode the service refuses to start without a strong token secret."""

from __future__ import annotations

import pytest

from clearway.errors import ConfigError
from clearway.service.app import create_app
from clearway.service.settings import ServiceSettings

STRONG = "k3Q9v-Zr8TnW2pLx7Yb4Hc6Jd1Fg5Ms0Ae-Ru"


@pytest.mark.parametrize(
    "secret, why",
    [(None, "not set"), ("", "not set"), ("changeme", "default"), ("a" * 40, "default"),
     ("Xy7-short-Q2", "fewer than 32")],
)  # fmt: skip
def test_refuses_missing_default_or_short_secret(secret, why):
    with pytest.raises(ConfigError, match="CLEARWAY_TOKEN_SECRET") as info:
        ServiceSettings(token_secret=secret, dev=False).check_secrets()
    assert why in str(info.value)


def test_dev_mode_makes_a_random_secret_per_process():
    a = ServiceSettings(dev=True).check_secrets()
    b = ServiceSettings(dev=True).check_secrets()
    assert len(a.secret_bytes()) >= 32 and a.secret_bytes() != b.secret_bytes()


def test_a_strong_secret_is_kept_as_given():
    s = ServiceSettings(token_secret=STRONG).check_secrets()
    assert s.secret_bytes() == STRONG.encode()


def test_settings_come_from_clearway_env(monkeypatch):
    monkeypatch.setenv("CLEARWAY_TOKEN_SECRET", STRONG)
    monkeypatch.setenv("CLEARWAY_TOKEN_TTL_S", "60")
    monkeypatch.setenv("CLEARWAY_MAX_BODY_BYTES", "1024")
    s = ServiceSettings()
    assert (s.token_ttl_s, s.max_body_bytes, s.dev) == (60, 1024, False)
    assert STRONG not in repr(s)  # the secret never shows up in logs


def test_create_app_refuses_to_start_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("CLEARWAY_TOKEN_SECRET", raising=False)
    with pytest.raises(ConfigError, match="refusing to start"):
        create_app(ServiceSettings(db_url=f"sqlite:///{tmp_path}/x.db"))


def test_position_age_and_clock_tolerance_from_the_environment(monkeypatch):
    assert (ServiceSettings().max_position_age_s, ServiceSettings().clock_tolerance_s) == (10, 2)
    monkeypatch.setenv("CLEARWAY_MAX_POSITION_AGE_S", "4.5")
    monkeypatch.setenv("CLEARWAY_CLOCK_TOLERANCE_S", "0.5")
    s = ServiceSettings()
    assert (s.max_position_age_s, s.clock_tolerance_s) == (4.5, 0.5)
    monkeypatch.setenv("CLEARWAY_MAX_POSITION_AGE_S", "0")
    with pytest.raises(ValueError, match="max_position_age_s"):
        ServiceSettings()
