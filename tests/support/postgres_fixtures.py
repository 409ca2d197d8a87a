"""Fixtures: a real, private PostgreSQL cluster (``initdb`` into a temp dir, a free port).

Never a system cluster: every cluster here is created by :class:`PostgresCluster` in its own
temporary directory, listens on a free 127.0.0.1 port and a private socket directory, and is
stopped (fast shutdown, then SIGKILL) by the fixture that started it, even when a test fails.

The server binaries come from ``pg_config --bindir`` or ``/usr/lib/postgresql/*/bin``
(Debian's ``postgresql`` package; ``.ci/run`` installs it). Without them the tests skip with
that reason locally and FAIL in CI (``CI=true``). PostgreSQL refuses to run as root: as root
the cluster runs as the ``postgres`` system user (``setpriv``).

``postgres_store`` (session) is one initialised database with login passwords for the store's
roles; ``postgres_store_factory`` gives a test its own fresh database (or, ``durable=True``,
its own cluster with fsync on, for crash tests). ``running_standby`` adds a hot standby to a
cluster, ``running_replicated_cluster`` is a primary with several (:class:`ReplicatedCluster`:
wait for replay or streaming, restart a killed primary; ``pause_replay``/``resume_replay``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devstack.errors import ChildExited
from devstack.postgres_cluster import find_bindir, run_as_postgres
from store import JourneyStore, init_store, open_store, set_role_passwords
from tests.support.processes import ChildProcess, free_port, wait_until

ADMIN_USER = "journeys_admin"
STORE_ROLES = ("reader", "writer", "offloader")
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def require_postgres() -> Path:
    """The binaries' directory; skip (locally) or fail (CI) with the reason when missing."""
    bindir = find_bindir()
    if bindir is None:
        reason = (
            "PostgreSQL server binaries (initdb, postgres) not found: install Debian's "
            "'postgresql' package (apt-get install postgresql)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return bindir


@dataclass
class PostgresCluster:
    """One private cluster: data directory, port, superuser password, server process."""

    bindir: Path
    root: Path
    durable: bool = False
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: ChildProcess | None = None
    extra_settings: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres", user: str = ADMIN_USER) -> str:
        """A libpq URL (no password in it)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        return f"{self.url(dbname)}?password={self.password}"

    def _command(self, *argv: str) -> list[str]:
        prefix, _, _ = run_as_postgres()
        return [*prefix, *argv]

    def initdb(self) -> None:
        """Create the cluster (scram passwords over TCP, trust on the private socket)."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        _, uid, gid = run_as_postgres()
        if uid is not None and gid is not None:
            os.chown(self.root, uid, gid)
            os.chown(pwfile, uid, gid)
        done = subprocess.run(
            self._command(str(self.bindir / "initdb"), "-D", str(self.data), "-U", ADMIN_USER,
                          "--pwfile", str(pwfile), "--auth-local=trust",
                          "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"),
            check=False, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")

    def start(self) -> None:
        """Start the postmaster and wait until it accepts connections."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_connections": "100",
            "shared_buffers": "128MB",
            **({} if self.durable else FAST_SETTINGS),
            **self.extra_settings,
        }
        argv = [str(self.bindir / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        name = f"postgres-{self.port}"
        self.process = ChildProcess(
            name, self._command(*argv), self.root.parent / f"{name}.log",
            ready=self._accepts, ready_timeout_s=60,
        )  # fmt: skip
        self.process.start()

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.admin_conninfo(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def kill(self) -> None:
        """SIGKILL the postmaster and all its processes: a crash, not a shutdown."""
        if self.process is not None:
            self.process.kill()
            self.process = None

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL after 30 s."""
        process, self.process = self.process, None
        if process is None or not process.running():
            return
        process.signal(signal.SIGINT)
        with suppress(TimeoutError):
            wait_until(lambda: not process.running(), 30, "postgres shutdown", 0.1)
        process.stop()

    def execute(self, statement: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser (autocommit)."""
        with psycopg.connect(self.admin_conninfo(dbname), autocommit=True) as connection:
            connection.execute(statement.encode())


@contextmanager
def running_cluster(*, durable: bool = False, **settings: str) -> Iterator[PostgresCluster]:
    """A fresh private cluster, removed afterwards (the directory is readable by its user)."""
    bindir = require_postgres()
    root = Path(tempfile.mkdtemp(prefix="journeys-pg-"))
    root.chmod(0o711)  # the server's user must reach its directory inside
    cluster = PostgresCluster(bindir, root / "cluster", durable=durable, extra_settings=settings)
    cluster.root.mkdir()
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PostgresStoreServer:
    """An initialised journeys database: the duck-typed twin of ``StoreServer``."""

    cluster: PostgresCluster
    dbname: str
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        """The reader's store URL (what tests use for unauthenticated attempts)."""
        return self.url_for("reader")

    @property
    def process(self) -> PostgresCluster:
        """What a crash test kills (``.kill()``)."""
        return self.cluster

    def url_for(self, role: str) -> str:
        """The store URL of ``role`` (its login role as the URL's user)."""
        user = ADMIN_USER if role == "admin" else f"journeys_{role}"
        return self.cluster.url(self.dbname, user)

    def client(self, role: str, **kwargs: Any) -> JourneyStore:
        """A client logged in as ``role`` (close it, or use it as a context manager)."""
        return open_store(self.url_for(role), self.tokens[role], **kwargs)


def create_store_database(
    cluster: PostgresCluster, tokens: dict[str, str], dbname: str | None = None
) -> PostgresStoreServer:
    """A new database in ``cluster`` with the journeys schema and the roles' passwords."""
    dbname = dbname or f"journeys_{uuid.uuid4().hex[:10]}"
    cluster.execute(f'CREATE DATABASE "{dbname}"')
    admin_url = cluster.url(dbname)
    init_store(admin_url, cluster.password, partitions=4)
    set_role_passwords(admin_url, cluster.password, {r: tokens[r] for r in STORE_ROLES})
    return PostgresStoreServer(cluster, dbname, tokens)


def make_pg_tokens(cluster: PostgresCluster) -> dict[str, str]:
    """Role passwords for a cluster (roles are cluster-wide); admin is the superuser."""
    tokens = {role: f"{role}-{secrets.token_urlsafe(24)}" for role in STORE_ROLES}
    tokens["admin"] = cluster.password
    return tokens


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One private cluster (fsync off) for the session."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_tokens(postgres_cluster: PostgresCluster) -> dict[str, str]:
    """The session cluster's role passwords."""
    return make_pg_tokens(postgres_cluster)


@pytest.fixture(scope="session")
def postgres_store(
    postgres_cluster: PostgresCluster, postgres_tokens: dict[str, str]
) -> PostgresStoreServer:
    """One journeys database for the session (isolate by unique customer ids)."""
    return create_store_database(postgres_cluster, postgres_tokens)


@pytest.fixture
def postgres_store_factory(
    postgres_cluster: PostgresCluster, postgres_tokens: dict[str, str]
) -> Callable[..., AbstractContextManager[PostgresStoreServer]]:
    """Fresh stores: a new database in the session cluster, or (``durable=True``) a private
    cluster with fsync on. Keyword arguments of the DuckDB factory are accepted and ignored."""

    @contextmanager
    def start(*, durable: bool = False, **_: object) -> Iterator[PostgresStoreServer]:
        if not durable:
            yield create_store_database(postgres_cluster, postgres_tokens)
            return
        with running_cluster(durable=True) as cluster:
            yield create_store_database(cluster, make_pg_tokens(cluster), "journeys")

    return start


@contextmanager
def running_standby(primary: PostgresCluster) -> Iterator[PostgresCluster]:
    """A hot standby of ``primary``: ``pg_basebackup -R`` and streaming replication."""
    root = Path(tempfile.mkdtemp(prefix="journeys-pg-standby-"))
    root.chmod(0o711)
    standby = PostgresCluster(primary.bindir, root / "cluster", password=primary.password)
    standby.root.mkdir()
    _, uid, gid = run_as_postgres()
    if uid is not None and gid is not None:
        os.chown(standby.root, uid, gid)
    try:
        done = subprocess.run(
            standby._command(str(primary.bindir / "pg_basebackup"), "-D", str(standby.data),
                             "-h", "127.0.0.1", "-p", str(primary.port), "-U", ADMIN_USER,
                             "-R", "-X", "stream", "-c", "fast"),
            env={**os.environ, "PGPASSWORD": primary.password},
            check=False, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {done.stderr or done.stdout}")
        standby.start()
        yield standby
    finally:
        standby.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- a primary with hot standbys ----------------------------------------------------------------
def query_value(cluster: PostgresCluster, sql: str, dbname: str = "postgres") -> Any:
    """The first column of the first row of ``sql``, run as the superuser."""
    with psycopg.connect(cluster.admin_conninfo(dbname), autocommit=True) as connection:
        row = connection.execute(sql.encode()).fetchone()
    return None if row is None else row[0]


_PRIMARY_LSN = "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
_REPLAYED_LSN = "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn"


def _replayed(standby: PostgresCluster, position: Any) -> bool:
    return bool(query_value(standby, _REPLAYED_LSN) >= position)


@dataclass
class ReplicatedCluster:
    """A primary and its streaming hot standbys (``pg_basebackup -R``), each a private cluster."""

    primary: PostgresCluster
    standbys: list[PostgresCluster]

    def wait_for_replay(self, timeout: float = 60.0) -> None:
        """Until every standby has replayed all the WAL the primary has written by now."""
        written = query_value(self.primary, _PRIMARY_LSN)
        for standby in self.standbys:
            what = f"replay on the standby on port {standby.port}"
            wait_until(partial(_replayed, standby, written), timeout, what, 0.05)

    def wait_for_streaming(self, timeout: float = 60.0) -> None:
        """Until the primary streams to every standby (after the primary restarted)."""
        sql = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        wait_until(
            lambda: query_value(self.primary, sql) == len(self.standbys),
            timeout,
            "streaming to every standby",
            0.1,
        )

    def restart_primary(self, attempts: int = 5) -> None:
        """Start the primary again after :meth:`PostgresCluster.kill` (crash recovery runs).

        A killed postmaster's children may still be exiting (and holding its shared memory):
        a start that fails for that is retried.
        """
        for attempt in range(1, attempts + 1):
            try:
                self.primary.start()
                return
            except ChildExited:
                if attempt == attempts:
                    raise
                time.sleep(1.0)


def pause_replay(standby: PostgresCluster, timeout: float = 30.0) -> None:
    """Pause WAL replay on ``standby`` and wait until it is paused (it keeps receiving WAL)."""
    standby.execute("SELECT pg_wal_replay_pause()")
    state = "SELECT pg_get_wal_replay_pause_state()"
    wait_until(lambda: query_value(standby, state) == "paused", timeout, "replay paused", 0.02)


def resume_replay(standby: PostgresCluster) -> None:
    """Resume WAL replay on ``standby``."""
    standby.execute("SELECT pg_wal_replay_resume()")


@contextmanager
def running_replicated_cluster(standbys: int = 2, **settings: str) -> Iterator[ReplicatedCluster]:
    """A fresh primary (fsync off, ``settings`` added) with ``standbys`` hot standbys; every
    server is stopped and removed afterwards, the standbys first."""
    # WAL kept for a standby that reconnects after the primary crashed and recovered.
    server_settings: dict[str, Any] = {"wal_keep_size": "256MB", **settings}
    with running_cluster(**server_settings) as primary, ExitStack() as stack:
        replicas = [stack.enter_context(running_standby(primary)) for _ in range(standbys)]
        yield ReplicatedCluster(primary, replicas)
