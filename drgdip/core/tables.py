"""Reading and writing tables: one reader and one writer for every stage (CSV, Parquet, Excel)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["source_name"]


def source_name(source) -> str:
    """File name for messages (``<DataFrame>`` for frames)."""
    return str(source) if isinstance(source, (str, Path)) else "<DataFrame>"
