"""Journey lookup over Kafka.

This package is the shared kernel, the ground floor every room imports: the wire contract
(``contract``), the journey schema (``schema``), Kafka settings and clients (``kafka``),
observability (``observability``) and secret checks (``secrets``). It imports no room.
The rooms above it: ``api`` (HTTP gateway, DMZ side), ``responder`` (Kafka → store → Kafka),
``store`` (both store backends), ``offload`` (the Iceberg lake); above them the ``journeys``
command (``cli``) and the local stack behind ``journeys up`` (``devstack``).

The version is declared once, in ``pyproject.toml``; everything reads it from the installed
distribution's metadata through :data:`__version__`.
"""

from importlib.metadata import version

__version__: str = version("journeys")
