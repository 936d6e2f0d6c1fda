"""Road networks: loading SUMO nets into an immutable :class:`Network`."""

from clearway.network.loader import load_network
from clearway.network.model import (
    Edge,
    GeoReference,
    Junction,
    Lane,
    Link,
    Network,
    Phase,
    SignalProgram,
    TrafficLight,
)

__all__ = [
    "Edge",
    "GeoReference",
    "Junction",
    "Lane",
    "Link",
    "Network",
    "Phase",
    "SignalProgram",
    "TrafficLight",
    "load_network",
]
