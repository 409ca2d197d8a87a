"""One offload run at a time per lake: an exclusive ``flock`` on the lake's lock file.

Every step of both jobs (and the migration) runs holding the lock; ``journeys offload nightly``
/ ``housekeeping`` (:mod:`offload.jobs`) hold it for the whole run, Airflow tasks for their
step. A second run fails at once with :class:`~offload.errors.OffloadLocked` (it never waits:
a scheduler retries it later). The lock file is ``<lake>/.offload.lock`` on a local lake; for a
lake on an object store it is a file in this machine's temporary directory named after the lake
URI, which serializes the runs of one machine only.

``flock`` is released by the kernel when the process ends, however it ends (``kill -9``
included), so a dead run never leaves the lake locked. The lock is re-entrant for the thread
that holds it (a whole run's steps take it again); another thread of the same process, like
another process, is refused.

Why it matters: the jobs delete data files no table snapshot reads (leftovers of interrupted
runs). Without the lock a second run could commit files in between the listing and the delete.
Under the lock, listing, deleting and committing never interleave across runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Concatenate, Final, ParamSpec, TypeVar

from offload.errors import LakeError, OffloadLocked
from offload.lake import Lake
from offload.settings import LakeSettings

LOCK_FILE: Final = ".offload.lock"

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=LakeSettings)


@dataclass
class _Held:
    fd: int
    thread: int
    depth: int


_held: dict[str, _Held] = {}
_guard = threading.Lock()


def lock_path(lake: Lake) -> str:
    """The lock file of ``lake`` (a local path; see the module docstring)."""
    if lake.is_local:
        return os.path.join(lake.root, LOCK_FILE)
    digest = hashlib.sha256(lake.uri.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"journeys-offload-{digest}.lock")


@contextlib.contextmanager
def offload_lock(lake: Lake, job: str) -> Iterator[None]:
    """Hold the lake's offload lock; :class:`OffloadLocked` at once if another run holds it."""
    path = lock_path(lake)
    me = threading.get_ident()
    with _guard:
        held = _held.get(path)
        if held is not None and held.thread == me:
            held.depth += 1
        elif held is not None:
            raise OffloadLocked(_message(path, _holder(held.fd)))
        else:
            _held[path] = _Held(_acquire(path, job), me, 1)
    try:
        yield
    finally:
        with _guard:
            held = _held[path]
            held.depth -= 1
            if held.depth == 0:
                del _held[path]
                os.close(held.fd)  # closing the last descriptor releases the flock


def one_run_at_a_time(
    job: str,
) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Run the decorated step (first argument: the settings) holding the lake's lock."""

    def decorate(step: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        @functools.wraps(step)
        def locked(settings: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with offload_lock(Lake(settings.lake_uri), job):
                return step(settings, *args, **kwargs)

        return locked

    return decorate


def _acquire(path: str, job: str) -> int:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LakeError(f"cannot open the offload lock {path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _holder(fd)
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise OffloadLocked(_message(path, holder)) from None
        raise LakeError(f"cannot lock {path}: {exc}") from exc
    record = {
        "job": job,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    return fd


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it (best effort: it is only for the message)."""
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"{record['job']}, pid {record['pid']} on {record['host']}, since {record['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def _message(path: str, holder: str) -> str:
    return (
        f"another offload run holds the lake's lock {path} ({holder}); "
        "one run at a time: rerun this job when that run has finished"
    )
