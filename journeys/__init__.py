"""Journey lookup over Kafka.

Packages: ``api`` (HTTP gateway, DMZ side), ``responder`` (Kafka → store → Kafka),
``store`` (the journey store server and its client), ``offload`` (Parquet lake),
``journeys.devstack`` (the local stack behind ``journeys up``), ``journeys.cli`` (the
``journeys`` command). ``schema`` and ``contract`` are shared by all.

The version is declared once, in ``pyproject.toml``; everything reads it from the installed
distribution's metadata through :data:`__version__`.
"""

from importlib.metadata import version

__version__: str = version("journeys")
