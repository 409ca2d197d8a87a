"""Owner-only files for the local stack: its data holds store tokens, the API key and logs.

``journeys up`` runs on developer machines and shared hosts alike, where the default umask
(022) would make the DuckDB file, ``stack.json`` and the logs readable by every local user.
:func:`make_private` sets the process umask to 077 before anything is created, so every file
the stack and its children (which inherit the umask) create is 0600 and every directory 0700,
and tightens what an earlier version left behind.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

PRIVATE_UMASK: Final = 0o077
DIR_MODE: Final = 0o700
#: A data directory other users may pass through but not list: a PostgreSQL server run as the
#: ``postgres`` user (``journeys up --store postgres`` as root) must reach ``<data_dir>/pg``.
TRAVERSABLE_DIR_MODE: Final = 0o711
FILE_MODE: Final = 0o600


def make_private(data_dir: Path, *subdirs: str, traversable: bool = False) -> None:
    """Umask 077 for this process (and its children); ``data_dir`` and ``subdirs`` 0700 (the
    data dir 0711 when ``traversable``) and the regular files directly in them 0600."""
    os.umask(PRIVATE_UMASK)
    for directory in (data_dir, *(data_dir / name for name in subdirs)):
        mode = TRAVERSABLE_DIR_MODE if traversable and directory == data_dir else DIR_MODE
        directory.mkdir(mode=mode, parents=True, exist_ok=True)
        directory.chmod(mode)
        for entry in directory.iterdir():
            if entry.is_file() and not entry.is_symlink():
                entry.chmod(stat.S_IMODE(entry.stat().st_mode) & FILE_MODE)
