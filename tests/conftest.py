"""Shared fixtures. Each area keeps its fixtures in ``tests/support/``; they are plugins here."""

pytest_plugins = [
    "tests.support.store_fixtures",
    "tests.support.kafka_fixtures",
    "tests.support.stack_fixtures",
    "tests.support.airflow_fixtures",
    "tests.support.log_fixtures",
]
