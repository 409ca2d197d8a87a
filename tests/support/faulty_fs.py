"""A fault-injecting pyarrow filesystem: the N-th file written fails in the middle of writing.

:class:`FaultyHandler` wraps a real pyarrow filesystem (the local disk, or pyarrow's in-memory
mock filesystem standing in for an object store) and counts every output stream opened. When
armed with ``fail_at = n``, the n-th stream raises ``OSError`` once it has received half of
its bytes (at least one write call):

* ``object_store=False`` (local disk): bytes go straight to the file, as on a real disk, so the
  half-written file stays behind (the lake writes local files under a temporary name, then
  renames them);
* ``object_store=True``: bytes are buffered and stored on close, as an object PUT is atomic:
  a failed upload leaves no object.

Lakes reach it through ``offload.register_filesystem`` (used by the lake and by pyiceberg's
file IO alike), so data files, state files and Iceberg metadata all pass through it.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs


class InjectedFault(OSError):
    """The failure the faulty filesystem injects."""


class _FailingStream(io.RawIOBase):
    def __init__(
        self, handler: FaultyHandler, path: str, metadata: Any, armed: bool, buffered: bool
    ) -> None:
        self.handler, self.path, self.metadata = handler, path, metadata
        self.armed, self.buffered = armed, buffered
        self.buffer = io.BytesIO()
        self.target = None if buffered else handler.base.open_output_stream(path, metadata)
        self.writes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.writes += 1
        if self.armed and self.writes > 1:
            # Half of this chunk, then the failure: a torn write.
            half = chunk[: len(chunk) // 2]
            self._put(half)
            self.handler.faults += 1
            raise InjectedFault(f"injected fault while writing {self.path}")
        self._put(chunk)
        return len(chunk)

    def _put(self, chunk: bytes) -> None:
        if self.target is not None:
            self.target.write(chunk)
        else:
            self.buffer.write(chunk)

    def close(self) -> None:
        if self.closed:
            return
        if self.armed and self.writes <= 1:
            # A file written in one call: fail at close instead (still before it is complete).
            self.handler.faults += 1
            if self.target is not None:
                self.target.close()
            super().close()
            raise InjectedFault(f"injected fault while closing {self.path}")
        if self.target is not None:
            self.target.close()
        else:
            with self.handler.base.open_output_stream(self.path, self.metadata) as out:
                out.write(self.buffer.getvalue())
        super().close()


class FaultyHandler(pafs.FileSystemHandler):  # type: ignore[misc]  # untyped base
    """Delegates to ``base``; the ``fail_at``-th output stream opened fails mid-write."""

    def __init__(self, base: pafs.FileSystem, *, object_store: bool) -> None:
        self.base = base
        self.object_store = object_store
        self.opened = 0
        self.faults = 0
        self.fail_at: int | None = None

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        self.opened += 1
        # Like pyiceberg's own local filesystem (and object stores): parents need not exist.
        self.base.create_dir(path.rsplit("/", 1)[0], recursive=True)
        armed = self.fail_at is not None and self.opened == self.fail_at
        stream = _FailingStream(self, path, metadata, armed, buffered=self.object_store)
        return pa.PythonFile(stream, mode="w")

    # -- plain delegation ------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def get_type_name(self) -> str:
        return "faulty"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.base.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return list(self.base.get_file_info(selector))

    def create_dir(self, path: str, recursive: bool) -> None:
        self.base.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.base.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.base.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        self.base.delete_dir_contents("/", accept_root_dir=True)

    def delete_file(self, path: str) -> None:
        self.base.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.base.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.base.copy_file(src, dest)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.base.open_input_stream(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        return self.base.open_input_file(path)

    def open_append_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return self.base.open_append_stream(path, metadata)
