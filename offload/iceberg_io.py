"""pyiceberg's file IO over the lake's filesystems, including registered ones.

pyiceberg's :class:`~pyiceberg.io.pyarrow.PyArrowFileIO` knows s3, gs, hdfs, abfs, oss and
file. :class:`LakeFileIO` adds the schemes given to :func:`offload.lake.register_filesystem`,
so the table metadata and the data files always live on the same filesystem as the lake.
The catalog properties select it (``py-io-impl``; see :mod:`offload.iceberg_tables`).
"""

from __future__ import annotations

import pyarrow.fs as pafs
from pyiceberg.io.pyarrow import PyArrowFileIO

from offload.lake import registered_filesystem


class LakeFileIO(PyArrowFileIO):
    """PyArrowFileIO that also serves the lake's registered filesystems."""

    def _initialize_fs(self, scheme: str, netloc: str | None = None) -> pafs.FileSystem:
        registered = registered_filesystem(scheme)
        if registered is not None:
            return registered
        return super()._initialize_fs(scheme, netloc)
