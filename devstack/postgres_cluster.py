"""A private PostgreSQL cluster for ``journeys up --store postgres`` (in ``<data_dir>/pg``).

Debian's server binaries (``initdb``, ``postgres``) are found with ``pg_config --bindir`` or in
``/usr/lib/postgresql/*/bin``; they are not on PATH. The cluster is created once (``initdb``
with the superuser ``journeys_admin`` and scram passwords over TCP), listens on 127.0.0.1 only
and keeps its socket in its own directory: it never touches a system cluster. PostgreSQL
refuses to run as root, so as root it runs as the ``postgres`` system user (``setpriv``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devstack.errors import StackError

ADMIN_USER: Final = "journeys_admin"
DATABASE: Final = "postgres"


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``postgres`` are, or None when the server is not installed."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(  # noqa: S603 (pg_config from PATH, fixed arguments)
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
        )
        candidates.append(Path(found.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    return None


def run_as_postgres() -> tuple[list[str], int | None, int | None]:
    """Command prefix, uid and gid to run the server as (``postgres`` refuses root)."""
    if os.geteuid() != 0:
        return [], None, None
    user = pwd.getpwnam("postgres")
    prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    return prefix, user.pw_uid, user.pw_gid


def _check_reachable(directory: Path) -> None:
    """As root the server runs as ``postgres``: every parent must let others traverse it."""
    for parent in directory.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise StackError(
                f"{parent} is not traversable by the 'postgres' user the server runs as "
                f"(chmod o+x it, or use a --data-dir elsewhere)"
            )


@dataclass
class LocalCluster:
    """The cluster in ``root`` (``root/data``), served on 127.0.0.1:``port``."""

    root: Path
    port: int
    password: str

    def url(self, user: str = ADMIN_USER) -> str:
        """A store URL without the password (the token carries it)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{DATABASE}"

    def ensure_initialised(self) -> None:
        """``initdb`` once; later starts reuse the data directory."""
        bindir = self._bindir()
        data = self.root / "data"
        if (data / "PG_VERSION").exists():
            return
        prefix, uid, gid = run_as_postgres()
        self.root.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            _check_reachable(self.root)
        pwfile = self.root / "pwfile"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password + "\n")
        if uid is not None and gid is not None:
            for path in (self.root, pwfile):
                os.chown(path, uid, gid)
        done = subprocess.run(  # noqa: S603 (our own argv list, no shell)
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", ADMIN_USER,
             "--pwfile", str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--locale=C"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        pwfile.unlink()
        if done.returncode != 0:
            raise StackError(f"initdb failed: {(done.stderr or done.stdout).strip()}")

    def server_argv(self) -> list[str]:
        """The postmaster's command line."""
        prefix, _, _ = run_as_postgres()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
        }
        argv = [*prefix, str(self._bindir() / "postgres"), "-D", str(self.root / "data")]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    @staticmethod
    def _bindir() -> Path:
        bindir = find_bindir()
        if bindir is None:
            raise StackError(
                "--store postgres needs the PostgreSQL server binaries: install Debian's "
                "'postgresql' package (apt-get install postgresql), or pass "
                "--store-url postgresql://..."
            )
        return bindir
