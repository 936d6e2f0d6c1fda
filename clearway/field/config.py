"""Junction configs of field controllers: where each controller is, how to reach it, and how
its NEMA phases drive the traffic light's links.

One TOML file holds one or more ``[[controller]]`` tables::

    [[controller]]
    signal_id = "B1"                        # the network's traffic-light id
    host = "10.0.0.12"
    port = 161
    snmp = "v3"                             # or "v2c", only when said so
    credentials = "env:CLEARWAY_SNMP_B1"    # a reference, never the secret: env:NAME or file:PATH
    backup_time_s = 10                      # the controller runs its own program after this silence

    [[controller.phase]]
    number = 2
    ring = 1
    links = [0, 1, 2]
    permissive = [2]
    ped_links = [12]

    [[controller.overlap]]
    number = 1
    parents = [2, 3]
    links = [5]

    [controller.sequence]
    rings = [[1, 2, 3, 4], [5, 6, 7, 8]]
    barriers = [[1, 2, 5, 6], [3, 4, 7, 8]]

    [controller.timings.2]                  # optional, per phase; never below the model's
    min_green_s = 12

A referenced secret is ``user:auth_key:priv_key`` for SNMPv3 or the community for v2c; a file
holding one must not be readable by others. A secret written into the config itself is refused.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clearway.errors import ConfigError, UnknownSignalError, UnsafeTimingError
from clearway.field.snmp_client import SnmpV2cCommunity, SnmpV3Credentials
from clearway.field.virtual.phase_timings import PhaseTimings, phase_timings_from_model
from clearway.network.model import Network
from clearway.signals.model import Intersection
from clearway.signals.nema import NemaPhase, Overlap, PhaseMap, never_green_in
from clearway.signals.nema_check import check_phase_map
from clearway.signals.nema_derive import derive_phase_map

#: Keys that would hold a secret; the config must reference one instead.
SECRET_KEYS = frozenset({"auth_key", "priv_key", "password", "passphrase", "community", "secret",
                         "auth_password", "priv_password", "key"})  # fmt: skip
TIMING_FIELDS = ("min_green_s", "passage_s", "max_green_s", "yellow_s", "red_clear_s", "walk_s",
                 "ped_clear_s")  # fmt: skip
#: Timings that protect road users: an override may lengthen them, never shorten them.
SAFETY_FIELDS = ("min_green_s", "yellow_s", "red_clear_s", "ped_clear_s")

Phase = Annotated[int, Field(ge=1, le=16)]
LinkIndex = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseIn(_Strict):
    number: Phase
    ring: Annotated[int, Field(ge=1, le=4)]
    links: list[LinkIndex] = []
    permissive: list[LinkIndex] = []
    ped_links: list[LinkIndex] = []


class OverlapIn(_Strict):
    number: Annotated[int, Field(ge=1, le=16)]
    parents: list[Phase]
    links: list[LinkIndex] = []
    permissive: list[LinkIndex] = []


class SequenceIn(_Strict):
    rings: list[list[Phase]]
    barriers: list[list[Phase]]


class TimingIn(_Strict):
    min_green_s: Annotated[float, Field(gt=0)] | None = None
    passage_s: Annotated[float, Field(ge=0)] | None = None
    max_green_s: Annotated[float, Field(gt=0)] | None = None
    yellow_s: Annotated[float, Field(gt=0)] | None = None
    red_clear_s: Annotated[float, Field(ge=0)] | None = None
    walk_s: Annotated[float, Field(ge=0)] | None = None
    ped_clear_s: Annotated[float, Field(ge=0)] | None = None


class ControllerIn(_Strict):
    signal_id: Annotated[str, Field(min_length=1)]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 161
    snmp: Literal["v3", "v2c"] = "v3"
    credentials: Annotated[str, Field(pattern=r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")]
    backup_time_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    link_count: Annotated[int, Field(ge=1)] | None = None
    phase: Annotated[list[PhaseIn], Field(min_length=1)]
    overlap: list[OverlapIn] = []
    sequence: SequenceIn
    timings: dict[Phase, TimingIn] = {}


@dataclass(frozen=True)
class ControllerConfig:
    """One field controller: address, credential reference, phase map and timing overrides.

    ``timings`` holds only the overridden fields per phase (s); :func:`phase_timings` merges them
    with the intersection model's. ``link_count_given`` is false when the file did not say how
    many links the signal has (the phase map then counts up to its highest link index).
    """

    signal_id: str
    host: str
    port: int
    snmp: Literal["v3", "v2c"]
    credentials_ref: str
    backup_time_s: float
    phase_map: PhaseMap
    timings: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    source: str = ""
    link_count_given: bool = True

    def credentials(self) -> SnmpV3Credentials | SnmpV2cCommunity:
        """The secret the reference points at (read now, never stored in the config)."""
        return resolve_credentials(
            self.credentials_ref, self.snmp, where=self._where("credentials")
        )

    def _where(self, what: str) -> str:
        return f"{self.source or 'junction config'}: controller {self.signal_id!r} field {what!r}"


@dataclass(frozen=True)
class FieldConfig:
    """Every controller of a junction config."""

    controllers: tuple[ControllerConfig, ...]

    def controller(self, signal_id: str) -> ControllerConfig:
        """The controller of traffic light ``signal_id``."""
        for c in self.controllers:
            if c.signal_id == signal_id:
                return c
        raise UnknownSignalError(signal_id, [c.signal_id for c in self.controllers],
                                 where="the junction config")  # fmt: skip


def resolve_credentials(ref: str, snmp: str, *, where: str) -> SnmpV3Credentials | SnmpV2cCommunity:
    """Read the secret ``ref`` points at: ``env:NAME`` (an environment variable) or ``file:PATH``
    (a file not readable by group or others), holding ``user:auth_key:priv_key`` (v3) or the
    community (v2c).

    Raises
    ------
    ConfigError
        Naming ``where`` (file, controller, field) and what to fix; never the secret itself.
    """
    kind, _, name = ref.partition(":")
    if kind == "env":
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name!r} is not set; export it "
                              "with the controller's secret")  # fmt: skip
        text = os.environ[name]
    elif kind == "file":
        path = Path(name).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError as e:
            raise ConfigError(f"{where}: cannot read credentials file {str(path)!r} "
                              f"({e.strerror})") from None  # fmt: skip
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{where}: credentials file {str(path)!r} is readable by others "
                              f"(mode {stat.filemode(mode)}); run chmod 600 on it")  # fmt: skip
        text = path.read_text(encoding="utf-8")
    else:
        raise ConfigError(f"{where}: {ref!r} is not a reference; use 'env:NAME' or 'file:PATH'")
    text = text.strip()
    if snmp == "v2c":
        if not text:
            raise ConfigError(f"{where}: the referenced SNMPv2c community is empty")
        return SnmpV2cCommunity(text)
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"{where}: the referenced SNMPv3 secret must be 'user:auth_key:priv_key' "
                          f"(3 fields separated by ':', got {len(parts)})")  # fmt: skip
    try:
        return SnmpV3Credentials(*parts)
    except Exception as e:  # the credentials class names what is wrong, never the key
        raise ConfigError(f"{where}: {e}") from None


def load_config(path: str | Path) -> FieldConfig:
    """Read a junction config file (see the module docstring).

    Raises
    ------
    ConfigError
        If the file is missing or malformed, holds a secret, or a value is invalid; the message
        names the file, the controller and the field.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read junction config {str(path)!r}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"junction config {str(path)!r} is not valid TOML: {e}") from None
    extra = set(raw) - {"controller"}
    if extra:
        raise ConfigError(f"junction config {str(path)!r}: unknown top-level keys {sorted(extra)}; "
                          "only [[controller]] tables are allowed")  # fmt: skip
    tables = raw.get("controller", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"junction config {str(path)!r} has no [[controller]] table")
    out = []
    for k, table in enumerate(tables):
        label = f"controller {k + 1}" + (f" ({table.get('signal_id')!r})" if isinstance(table, dict)
                                         and "signal_id" in table else "")  # fmt: skip
        _refuse_secrets(table, f"{path}: {label}")
        try:
            spec = ControllerIn.model_validate(table)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise ConfigError(f"{path}: {label} field {loc!r}: {first['msg']}") from None
        out.append(_controller(spec, str(path)))
    ids = [c.signal_id for c in out]
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        raise ConfigError(f"{path}: signals {dup} have more than one [[controller]] table")
    return FieldConfig(tuple(out))


def _refuse_secrets(value: Any, where: str, at: str = "") -> None:
    if isinstance(value, dict):
        for key, v in value.items():
            here = f"{at}.{key}" if at else str(key)
            if str(key).lower() in SECRET_KEYS:
                raise ConfigError(
                    f"{where} field {here!r}: a secret may not be written in the config; put it in "
                    "an environment variable or a file (chmod 600) and set "
                    'credentials = "env:NAME" or "file:PATH"'
                )
            _refuse_secrets(v, where, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_secrets(v, where, f"{at}[{i}]")


def _controller(spec: ControllerIn, source: str) -> ControllerConfig:
    pm = PhaseMap(
        signal_id=spec.signal_id,
        link_count=spec.link_count
        or 1 + max((i for p in spec.phase for i in (*p.links, *p.ped_links)), default=-1),
        phases=tuple(
            NemaPhase(
                p.number,
                p.ring,
                frozenset(p.links),
                frozenset(p.permissive),
                frozenset(p.ped_links),
            )
            for p in spec.phase
        ),  # fmt: skip
        overlaps=tuple(
            Overlap(o.number, frozenset(o.parents), frozenset(o.links), frozenset(o.permissive))
            for o in spec.overlap
        ),  # fmt: skip
        rings=tuple(tuple(r) for r in spec.sequence.rings),
        barriers=tuple(frozenset(b) for b in spec.sequence.barriers),
    )
    timings = {n: t.model_dump(exclude_none=True) for n, t in spec.timings.items()}
    return ControllerConfig(spec.signal_id, spec.host, spec.port, spec.snmp, spec.credentials,
                            spec.backup_time_s, pm, timings, source,
                            link_count_given=spec.link_count is not None)  # fmt: skip


def check_config(
    cfg: FieldConfig, models: Mapping[str, Intersection], net: Network | None = None
) -> list[str]:
    """Every problem of ``cfg`` against the intersection models: unknown signals, phase-map
    mismatches (:func:`~clearway.signals.nema_check.check_phase_map`), timing overrides of
    unknown phases or below the model's safety timings."""
    out = []
    for c in cfg.controllers:
        model = models.get(c.signal_id)
        if model is None:
            out.append(str(UnknownSignalError(c.signal_id, models, where=c.source or "the config")))
            continue
        links = net.signal_links(c.signal_id) if net is not None else None
        never = frozenset()
        if net is not None and c.signal_id in net.traffic_lights:
            never = never_green_in(model, net.traffic_lights[c.signal_id].programs.values())
        pm = c.phase_map
        if not c.link_count_given:  # then it only counts up to the highest index named
            pm = replace(pm, link_count=max(pm.link_count, model.link_count))
        out += check_phase_map(pm, model, links=links, never_green=never)
        try:
            phase_timings(c, model)
        except ConfigError as e:
            out.append(str(e))
    return out


def phase_timings(c: ControllerConfig, model: Intersection) -> dict[int, PhaseTimings]:
    """Timings per phase: the model's (:func:`phase_timings_from_model`) with the config's
    overrides, which may lengthen a safety timing but never shorten it.

    Raises
    ------
    UnsafeTimingError
        If an override is below the model's safety timing; ConfigError for an unknown phase.
    """
    pm = replace(c.phase_map, link_count=model.link_count)
    base = phase_timings_from_model(pm, model)
    out = dict(base)
    for n, values in c.timings.items():
        if n not in base:
            raise ConfigError(f"{c.source}: controller {c.signal_id!r} field 'timings.{n}': no "
                              f"phase {n}; phases are {sorted(base)}")  # fmt: skip
        for name in SAFETY_FIELDS:
            if name in values and values[name] < getattr(base[n], name) - 1e-9:
                raise UnsafeTimingError(
                    f"{c.source}: controller {c.signal_id!r} field 'timings.{n}.{name}': "
                    f"{values[name]:g} s is below the {getattr(base[n], name):g} s the junction "
                    "needs; a config may lengthen a safety timing, never shorten it"
                )
        out[n] = replace(base[n], **values)
    return out


def config_for(
    net: Network,
    models: Mapping[str, Intersection],
    signal_ids: Iterable[str],
    host: str,
    first_port: int,
    credentials_ref: str,
    backup_time_s: float = 10.0,
    *,
    snmp: Literal["v3", "v2c"] = "v3",
) -> FieldConfig:
    """A config with one controller per signal (ports counting up from ``first_port``), each
    phase map derived from the signal's default program: for the virtual controllers, and a
    starting point for an engineer."""
    out = []
    for k, sid in enumerate(signal_ids):
        if sid not in models or sid not in net.traffic_lights:
            raise UnknownSignalError(sid, models, where="config_for")
        pm = derive_phase_map(models[sid], net.traffic_lights[sid].default_program,
                              net.signal_links(sid))  # fmt: skip
        out.append(ControllerConfig(sid, host, first_port + k, snmp, credentials_ref,
                                    backup_time_s, pm))  # fmt: skip
    return FieldConfig(tuple(out))


def write_config(path: str | Path, cfg: FieldConfig) -> Path:
    """Write ``cfg`` as a junction config that :func:`load_config` reads back unchanged."""
    path = Path(path)
    path.write_text(dumps(cfg), encoding="utf-8")
    return path


def dumps(cfg: FieldConfig) -> str:
    """The TOML text of ``cfg``."""
    lines: list[str] = []
    for c in cfg.controllers:
        pm = c.phase_map
        lines += ["[[controller]]", f"signal_id = {_q(c.signal_id)}", f"host = {_q(c.host)}",
                  f"port = {c.port}", f"snmp = {_q(c.snmp)}", f"credentials = {_q(c.credentials_ref)}",
                  f"backup_time_s = {c.backup_time_s:g}",
                  f"link_count = {pm.link_count}", ""]  # fmt: skip
        for p in sorted(pm.phases, key=lambda p: p.number):
            lines += ["[[controller.phase]]", f"number = {p.number}", f"ring = {p.ring}",
                      f"links = {_ints(p.links)}", f"permissive = {_ints(p.permissive)}",
                      f"ped_links = {_ints(p.ped_links)}", ""]  # fmt: skip
        for o in sorted(pm.overlaps, key=lambda o: o.number):
            lines += ["[[controller.overlap]]", f"number = {o.number}",
                      f"parents = {_ints(o.parents)}", f"links = {_ints(o.links)}",
                      f"permissive = {_ints(o.permissive)}", ""]  # fmt: skip
        rings = ", ".join(_ints(r, ordered=True) for r in pm.rings)
        barriers = ", ".join(_ints(b) for b in pm.barriers)
        lines += ["[controller.sequence]", f"rings = [{rings}]", f"barriers = [{barriers}]", ""]
        for n, values in sorted(c.timings.items()):
            lines += [f"[controller.timings.{n}]"]
            lines += [f"{k} = {float(v)!r}" for k, v in values.items() if k in TIMING_FIELDS]
            lines += [""]
    return "\n".join(lines)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ints(values: Sequence[int] | frozenset[int], *, ordered: bool = False) -> str:
    seq = list(values) if ordered else sorted(values)
    return "[" + ", ".join(str(v) for v in seq) + "]"
