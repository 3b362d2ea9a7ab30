"""Files only the server's user may read: the data directory (0700) and the SQLite file (0600).

The data directory holds the development keys, the demo site's secret and, by default, the
SQLite database: other local users must not read any of it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("haechi.files")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permissions from a path we own that has them."""
    info = path.stat()
    if info.st_mode & stat.S_ISVTX:
        return  # a shared sticky folder such as /tmp is never ours to close
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(info.st_mode) & mode)
        log.warning("%s was readable by other users; now %o", path, mode)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (created 0700, tightened if not)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read, created empty (0600) when missing, so that
    a program that opens it later (SQLite) never makes it readable by others."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    _tighten(path, PRIVATE_FILE)
    return path
