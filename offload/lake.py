"""The lake: a directory tree on any filesystem pyarrow can write (local, S3, GCS, HDFS).

Atomicity, which the jobs rely on:

* Local filesystem (and HDFS): a file is written under a hidden temporary name in the same
  directory and renamed over the final name. Rename is atomic, so a reader sees the old file
  or the new one, never a partial one.
* Object stores (S3, GCS): there is no rename (pyarrow's ``move`` is copy + delete), but a
  single object PUT is atomic and, on S3 and GCS, strongly read-after-write consistent: the
  object appears whole when the upload completes, or not at all. Files are therefore written
  straight to their final key. A multi-file snapshot becomes visible only through the pointer
  object written after it, so readers never see a partial snapshot there either.

Temporary names start with ``.`` and contain ``.tmp-``, so listings of data files skip them.

The Iceberg tables' data files never change once written (see :mod:`offload.iceberg_tables`):
a table changes only by a catalog commit that names new files. On a local lake the jobs fsync
the data files before committing them, so a power cut cannot leave a committed file empty.

A URI scheme pyarrow does not know can be served by :func:`register_filesystem` (a custom
object-store client, or the tests' in-memory and fault-injecting filesystems); the Iceberg
file IO (:class:`offload.iceberg_io.LakeFileIO`) uses the same registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from offload.errors import LakeError

_LOCAL_SCHEMES = ("", "file")
_REGISTERED: dict[str, pafs.FileSystem] = {}


def register_filesystem(scheme: str, filesystem: pafs.FileSystem) -> None:
    """Serve ``scheme://…`` lakes with ``filesystem`` (paths are the URI without the scheme)."""
    _REGISTERED[scheme] = filesystem


def unregister_filesystem(scheme: str) -> None:
    """Forget the filesystem registered for ``scheme``."""
    _REGISTERED.pop(scheme, None)


def registered_filesystem(scheme: str) -> pafs.FileSystem | None:
    """The filesystem registered for ``scheme``, if any."""
    return _REGISTERED.get(scheme)


def is_temporary(name: str) -> bool:
    """True for the hidden names used while a file is being written."""
    return name.startswith(".") and ".tmp-" in name


class Lake:
    """A root directory on a pyarrow filesystem, with atomic small-file and file writes."""

    def __init__(self, uri: str) -> None:
        scheme = urlparse(uri).scheme if "://" in uri else ""
        self.scheme = scheme
        self.is_local = scheme in _LOCAL_SCHEMES
        try:
            registered = registered_filesystem(scheme)
            if scheme == "":
                self.fs: pafs.FileSystem = pafs.LocalFileSystem()
                self.root = os.path.abspath(uri)
            elif registered is not None:
                self.fs, self.root = registered, uri.split("://", 1)[1].rstrip("/")
            elif scheme == "file":
                self.fs, self.root = pafs.LocalFileSystem(), urlparse(uri).path
            else:
                self.fs, self.root = pafs.FileSystem.from_uri(uri)
            self.fs.create_dir(self.root, recursive=True)
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"cannot open lake {uri!r}: {exc}") from exc
        self.uri = uri

    def path(self, *parts: str) -> str:
        """The filesystem path of ``parts`` below the lake root."""
        return "/".join([self.root.rstrip("/"), *parts])

    def engine_uri(self, path: str) -> str:
        """``path`` as an engine such as DuckDB spells it (a plain path, or ``s3://…``)."""
        return path if self.is_local else f"{self.scheme}://{path}"

    def iceberg_uri(self, path: str) -> str:
        """``path`` as a full URI for Iceberg metadata (``file:///…`` on a local lake)."""
        return f"file://{path}" if self.is_local else f"{self.scheme}://{path}"

    def fs_path(self, uri: str) -> str:
        """The filesystem path of a URI that :meth:`iceberg_uri` made (or a plain path)."""
        return uri.split("://", 1)[1] if "://" in uri else uri

    def fsync(self, paths: list[str]) -> None:
        """Flush ``paths`` and their directories to disk (local lakes; object PUTs are durable)."""
        if not self.is_local:
            return
        directories = set()
        with self._translated("fsync"):
            for path in paths:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                directories.add(os.path.dirname(path))
            for directory in directories:
                fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def exists(self, path: str) -> bool:
        """True when a file or directory exists at ``path``."""
        with self._translated(f"stat {path}"):
            return bool(self.fs.get_file_info(path).type != pafs.FileType.NotFound)

    def list_dir(self, path: str, *, dirs: bool) -> list[str]:
        """Sorted names of the directories (``dirs``) or files directly in ``path``."""
        wanted = pafs.FileType.Directory if dirs else pafs.FileType.File
        with self._translated(f"list {path}"):
            if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
                return []
            infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(info.base_name for info in infos if info.type == wanted)

    def size(self, path: str) -> int:
        """Size of the file at ``path`` in bytes."""
        with self._translated(f"stat {path}"):
            return int(self.fs.get_file_info(path).size or 0)

    def read_json(self, path: str) -> dict[str, Any] | None:
        """The JSON object stored at ``path``, or None when there is no such file."""
        with self._translated(f"read {path}"):
            if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
                return None
            with self.fs.open_input_stream(path) as stream:
                data: dict[str, Any] = json.loads(stream.read())
        return data

    def write_json(self, path: str, data: dict[str, Any]) -> None:
        """Write ``data`` to ``path`` atomically (see the module docstring)."""
        payload = json.dumps(data, indent=2, sort_keys=True).encode()
        with (
            self.atomic_path(path) as tmp,
            self._translated(f"write {path}"),
            self.fs.open_output_stream(tmp) as stream,
        ):
            stream.write(payload)

    @contextlib.contextmanager
    def atomic_path(self, path: str) -> Iterator[str]:
        """Yield the path to write ``path``'s content to; it appears at ``path`` on success."""
        if not self.is_local:
            yield path  # an object PUT is atomic by itself
            return
        directory, _, name = path.rpartition("/")
        tmp = f"{directory}/.{name}.tmp-{uuid.uuid4().hex[:12]}"
        with self._translated(f"create {directory}"):
            self.fs.create_dir(directory, recursive=True)
        try:
            yield tmp
            with self._translated(f"rename {tmp}"):
                self.fs.move(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError, pa.ArrowException):
                self.fs.delete_file(tmp)
            raise

    def delete_dir(self, path: str) -> None:
        """Delete the directory ``path`` and everything in it (no error when absent)."""
        with self._translated(f"delete {path}"):
            if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
                self.fs.delete_dir(path)

    def delete_file(self, path: str) -> None:
        """Delete the file ``path`` (no error when absent)."""
        with self._translated(f"delete {path}"):
            if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
                self.fs.delete_file(path)

    def delete_temporary(self, directory: str) -> None:
        """Delete leftovers of interrupted writes in ``directory``."""
        for name in self.list_dir(directory, dirs=False):
            if is_temporary(name):
                self.delete_file(f"{directory}/{name}")

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"lake {self.uri}: cannot {what}: {exc}") from exc
