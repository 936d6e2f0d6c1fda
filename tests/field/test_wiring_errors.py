"""The virtual street refuses a controller that is not on 127.0.0.1, and the command its
error names is one the CLI has (it once named ``clearway field init``, which does not exist)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from clearway.cli.app import app
from clearway.errors import ConfigError
from clearway.field.config import ControllerConfig, FieldConfig
from clearway.field.wiring import virtual_cabinets
from clearway.signals.nema import PhaseMap


def controller(host: str) -> ControllerConfig:
    return ControllerConfig("J1", host, 1161, "v3", "env:CW_UNUSED", 10.0, PhaseMap("J1", 0, ()))


def test_a_remote_controller_is_refused_naming_the_config_command():
    cfg = FieldConfig((controller("127.0.0.1"), controller("10.0.0.5")))
    with pytest.raises(ConfigError, match=r"'J1' is at 10\.0\.0\.5") as err:
        virtual_cabinets(cfg, net=None)  # type: ignore[arg-type]  # refused before the net is read
    named = re.search(r"`clearway ([^`]+)`", str(err.value))
    assert named is not None, str(err.value)
    words = named.group(1).split()
    assert words[:2] == ["field", "config"]
    assert "--host" in words and words[words.index("--host") + 1] == "127.0.0.1"
    # The named subcommand and its options exist: --help parses them without an error.
    res = CliRunner().invoke(app, [*words[:2], "--help"])
    assert res.exit_code == 0, res.output
    assert "--out" in res.output and "--host" in res.output
