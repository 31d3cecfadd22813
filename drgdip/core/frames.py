"""DataFrames built from columns without copying them.

pandas copies a numpy array set as a column and may merge same-typed columns into one block (another
copy); on tens of millions of stays each costs seconds and doubles the memory. These helpers build
the frame from the column arrays as they are.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

__all__ = ["frame_of", "with_columns"]


def frame_of(columns: Mapping[str, object], index: pd.Index | None = None) -> pd.DataFrame:
    """A DataFrame holding ``columns`` (arrays or pandas arrays of one length) without copying them."""
    return pd.DataFrame(dict(columns), index=index, copy=False)


def with_columns(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    """``frame`` with ``columns`` added or replaced (like :meth:`DataFrame.assign`, without copies)."""
    if not columns:
        return frame
    merged = {name: frame[name].array for name in frame.columns if name not in columns}
    merged.update({name: values.array if isinstance(values, pd.Series) else values
                   for name, values in columns.items()})
    order = [c for c in frame.columns] + [c for c in columns if c not in frame.columns]
    return frame_of({name: merged[name] for name in order}, index=frame.index)
