"""Grouping a Dask DataFrame, partition by partition, for data beyond one machine.

Each partition is grouped by the same kernel as :func:`drgdip.grouper.group_cases` (DRG) or
:func:`drgdip.grouper.group_dip` (DIP), which hand a Dask DataFrame on to :func:`group_dask` /
:func:`group_dip_dask`; the result columns have fixed categories (every status token, every label of the
scheme or directory), so partitions concatenate without recoding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.grouper.dip import _result_frame, group_dip
from drgdip.grouper.dip_directory import DipDirectory, load_dip_directory
from drgdip.grouper.drg import group_cases, result_labels
from drgdip.grouper.io import STATUS_TOKENS
from drgdip.grouper.scheme import Scheme


def result_meta(scheme: Scheme) -> pd.DataFrame:
    """An empty grouping result with the dtypes every partition will have."""
    mdc, adrg, drg = result_labels(scheme)

    def empty(categories) -> pd.Categorical:
        return pd.Categorical([], categories=sorted(set(map(str, categories))))

    return pd.DataFrame({
        "case_id": pd.Series([], dtype="str"),
        "status": pd.Categorical([], categories=STATUS_TOKENS),
        "mdc": empty(mdc), "adrg": empty(adrg), "drg": empty(drg),
    })


def _group_partition(partition: pd.DataFrame, scheme: Scheme, options: dict) -> pd.DataFrame:
    grouped = group_cases(partition, scheme, **options)
    grouped.index = partition.index
    return grouped


def group_dask(cases, scheme: Scheme, **options):
    """Group a ``dask.dataframe.DataFrame`` of cases; returns a lazy Dask DataFrame.

    ``options`` are those of :func:`drgdip.grouper.group_cases`. The result keeps the input's index
    and partitions, one row per input row.
    """
    return cases.map_partitions(_group_partition, scheme, options, meta=result_meta(scheme))


def dip_result_meta(directory: DipDirectory) -> pd.DataFrame:
    """An empty DIP grouping result with the dtypes every partition will have."""
    empty = np.empty(0, dtype=np.int64)
    return _result_frame(empty, np.empty(0, dtype=np.int8), empty, directory, np.empty(0, dtype=np.int8))


def _group_dip_partition(partition: pd.DataFrame, directory: DipDirectory) -> pd.DataFrame:
    grouped = group_dip(partition, directory)
    grouped.index = partition.index
    return grouped


def group_dip_dask(cases, directory):
    """DIP groups of a ``dask.dataframe.DataFrame`` of cases; returns a lazy Dask DataFrame with the
    columns of :func:`drgdip.grouper.group_dip`, the input's index and partitions, one row per input row."""
    if not isinstance(directory, DipDirectory):
        directory = load_dip_directory(directory)
    return cases.map_partitions(_group_dip_partition, directory, meta=dip_result_meta(directory))
