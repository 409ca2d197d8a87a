"""Fixtures: the request path as real, separate processes for end-to-end tests.

``process_stack``  function-scoped builder: a store server, responders and gateways started
                   as ``journeys …`` subprocesses against the session's broker, with
                   topics unique to the test; everything it started is stopped afterwards.
``shared_stack``   one store + responder + gateway for a test module, seeded with demo data,
                   for tests that only send requests; parametrized over the store backends
                   (the DuckDB store server, a database in the session's PostgreSQL cluster).

The stack itself is :class:`devstack.disposable_stack.ProcessStack`, which the benchmarks
start too (bench/bench_stack.py); here it runs on the session's :class:`KafkaBroker`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import pytest

from devstack.disposable_stack import Gateway, Responder
from devstack.disposable_stack import ProcessStack as DisposableStack
from tests.support.kafka_fixtures import KafkaBroker
from tests.support.postgres_fixtures import create_store_database

__all__ = ["Gateway", "ProcessStack", "Responder", "SharedStack"]

#: The request path's processes on the tests' broker.
ProcessStack: TypeAlias = DisposableStack[KafkaBroker]


@pytest.fixture
def process_stack(kafka_broker: KafkaBroker, tmp_path: Path) -> Iterator[ProcessStack]:
    """A fresh set of topics and a builder of real processes; all stopped after the test."""
    stack = ProcessStack(kafka_broker, tmp_path)
    try:
        yield stack
    finally:
        stack.close()


@dataclass(frozen=True)
class SharedStack:
    stack: ProcessStack
    gateway: Gateway
    responder: Responder


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def shared_stack(
    request: pytest.FixtureRequest,
    kafka_broker: KafkaBroker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SharedStack]:
    """Store (200 demo customers), one responder and one gateway, shared by a test module;
    once on each store backend."""
    postgres = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        postgres = create_store_database(cluster, request.getfixturevalue("postgres_tokens"))
    stack = ProcessStack(kafka_broker, tmp_path_factory.mktemp("stack"), postgres=postgres)
    try:
        responder, gateway = stack.start_path(200)
        yield SharedStack(stack, gateway, responder)
    finally:
        stack.close()
