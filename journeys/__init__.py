"""Journey lookup over Kafka.

Packages: ``api`` (HTTP gateway, DMZ side), ``responder`` (Kafka → store → Kafka),
``store`` (the journey store server and its client), ``offload`` (Parquet lake),
``stack`` (the embedded local stack). ``schema`` and ``contract`` are shared by all.
"""

__version__ = "0.1.0"
