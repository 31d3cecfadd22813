"""Atomic output files: written under a temporary name beside the final one, renamed into place when complete.

Every file a command writes goes through :func:`atomic_path` (tables, workbooks, reports, JSON and YAML),
so an error or an interruption (Ctrl-C) never leaves half a file under the final name: the temporary
file is removed and an older file of that name stays as it was. The temporary name starts with ``.``
(dataset readers and most listings skip it) and keeps the final suffix (for writers that choose the
format by it); only a killed process can leave one behind.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_path", "atomic_open", "write_text_atomic", "temporary_name"]


def temporary_name(path) -> Path:
    """A fresh temporary path in ``path``'s directory: ``.NAME.<random>SUFFIX``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{path.suffix}")


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; when the block ends without an error the
    temporary file replaces ``path`` (:func:`os.replace`), otherwise it is removed."""
    path = Path(path)
    temporary = temporary_name(path)
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8", **options) -> Iterator[IO]:
    """:func:`open` for writing whose file appears under ``path`` only once it is complete."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as temporary, open(temporary, mode, encoding=encoding, **options) as handle:
        yield handle


def write_text_atomic(path, text: str, encoding: str = "utf-8") -> Path:
    """``Path.write_text``, atomically."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)
    return Path(path)
