"""Errors shared by every stage."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence


class UsageError(Exception):
    """Unusable input: the message names the file, the row and the field (CLI exit status 2).

    Rows are told as the file shows them (see :func:`rows_in_file`).
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None):
        self.file, self.row, self.field, self.problem = file, row, field, message
        super().__init__(self._located(message))

    def at_row(self, row: int) -> "UsageError":
        """The same error at another row (a row of a subset, told as the file's row)."""
        return UsageError(self.problem, file=self.file, row=row, field=self.field)

    def _located(self, message: str) -> str:
        parts = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        prefix = ", ".join(parts)
        return f"{prefix}: {message}" if prefix else message


class ConfigError(UsageError):
    """A configuration value is unusable: a policy file, a points policy, synthetic-data parameters.

    The message reads ``<file>: <key path>: <problem>; allowed: ...``. The key path runs from the top
    of the file (``settlement.overspend.bands[1].fund_share``); for a section built directly in Python
    it starts at the section's class (``Trim.method``). ``problem``, ``key`` and ``section`` (that class,
    or None) are kept so that the config engine can place the error inside an enclosing section.
    """

    def __init__(self, problem: str, *, file: str | None = None, key: str | None = None,
                 section: type | None = None):
        self.problem, self.key, self.section = problem, key, section
        super().__init__(problem, file=file, field=key)

    def _located(self, message: str) -> str:
        key = self.key
        if self.section is not None:
            key = f"{self.section.__name__}.{key}" if key else self.section.__name__
        return ": ".join(str(part) for part in (self.file, key, message) if part)

    def with_file(self, file: str) -> "ConfigError":
        """The same error, naming ``file``."""
        return ConfigError(self.problem, file=file, key=self.key, section=self.section)


@contextmanager
def rows_in_file(rows_by_label: Mapping[str, Sequence[int]], *, file: str, first_row: int = 1) -> Iterator[None]:
    """Tell the rows of :class:`UsageError` raised inside as rows of ``file``.

    An error about row ``r`` of a frame labelled ``label`` (its ``file``), where
    ``rows_by_label[label][r - 1]`` is that row's position in ``file`` (0 = the first data row), is
    raised again naming ``file`` and row ``position + first_row``: 2 for a CSV file or a sheet, whose
    header is row 1 as a spreadsheet shows it; 1 for Parquet and DataFrames.
    """
    try:
        yield
    except ConfigError:
        raise
    except UsageError as error:
        rows = rows_by_label.get(error.file) if error.file is not None else None
        if rows is None or error.row is None or not 0 < error.row <= len(rows):
            raise
        raise UsageError(error.problem, file=file, row=int(rows[error.row - 1]) + first_row,
                         field=error.field) from None
