"""clearway: free passage for emergency vehicles through a city's traffic signals.

The package is layered (see ``DESIGN.md``): the core (``network``, ``signals``, ``state``,
``control``, ``monitor``) never imports the adapters (``sim``), the service, the CLI or the
database; ``bootstrap`` wires ports to adapters.
"""

__version__ = "0.1.0"
