"""Networks for tests, generated with the SUMO tools of the installed wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NETGENERATE = Path(sys.executable).parent / "netgenerate"


def netgenerate_grid(out: Path, size: int, *, block_m: float = 200.0, lanes: int = 2) -> Path:
    """A ``size`` x ``size`` grid with traffic lights at its junctions, written to ``out``."""
    subprocess.run(
        [str(NETGENERATE), "--grid", "--grid.number", str(size), "--grid.length", f"{block_m:g}",
         "--default.lanenumber", str(lanes), "--tls.guess", "true", "-o", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out
