"""The PostgreSQL fixture skips where PostgreSQL is missing, but never in CI."""

from __future__ import annotations

import pytest

from .pg import find_pg_bin, unavailable


def test_missing_postgresql_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        unavailable("initdb not found")


def test_missing_postgresql_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="initdb not found"):
        unavailable("initdb not found")


def test_binaries_are_found_off_path(monkeypatch):
    monkeypatch.setenv("PATH", "")
    found = find_pg_bin("initdb")
    if found is None:
        unavailable("no initdb under /usr/lib/postgresql/*/bin")
    assert found.name == "initdb" and found.exists()
