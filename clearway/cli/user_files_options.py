"""Options every command that runs a user's own SUMO files shares (``run``, ``evaluate``).

One definition each, so the commands name, explain and default them alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["AdditionalOption", "NetOption", "RoutesOption", "SumocfgOption"]

NetOption = Annotated[
    Path | None, typer.Option(help="SUMO network (.net.xml or .net.xml.gz).")
]  # fmt: skip
RoutesOption = Annotated[
    list[Path] | None, typer.Option(help="SUMO route/trip files for --net (repeatable).")
]
AdditionalOption = Annotated[
    list[Path] | None,
    typer.Option(
        help="SUMO additional files the --routes need, e.g. vTypes or bus stops (repeatable)."
    ),
]
SumocfgOption = Annotated[
    Path | None,
    typer.Option(
        help="SUMO configuration (.sumocfg): its net, route and additional files, begin and "
        "end; options given beside it override its values."
    ),
]
