"""Networks for tests, generated with the SUMO tools of the installed wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NETGENERATE = Path(sys.executable).parent / "netgenerate"


def netgenerate_grid(
    out: Path,
    size: int,
    *extra: str,
    block_m: float = 200.0,
    lanes: int = 2,
    traffic_lights: bool = True,
) -> Path:
    """A ``size`` x ``size`` grid written to ``out``, with traffic lights at its junctions
    unless ``traffic_lights`` is false; ``extra`` netgenerate options go last."""
    args = [str(NETGENERATE), "--grid", "--grid.number", str(size), "--grid.length", f"{block_m:g}",
            "--default.lanenumber", str(lanes)]  # fmt: skip
    if traffic_lights:
        args += ["--tls.guess", "true"]
    subprocess.run([*args, *extra, "-o", str(out)], check=True, capture_output=True, timeout=120)
    return out
