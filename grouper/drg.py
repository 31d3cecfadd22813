"""Public DRG grouping functions: case table in, ``case_id, status, mdc, adrg, drg`` out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from drgdip.core.cluster import is_dask_frame
from drgdip.core.tables import prefetch, source_name, table_format
from drgdip.grouper import io
from drgdip.grouper._kernels import GROUP_NONE, _group_drg_kernel
from drgdip.grouper.scheme import Scheme

NOT_GROUPED = ("0000", "00", "0000")
RESULT_COLUMNS = ("case_id", "status", "mdc", "adrg", "drg")


@dataclass(frozen=True)
class GroupedBatch:
    """Grouping result of one batch: integer codes plus the label tables to decode them.

    ``group`` indexes :func:`result_labels` (DRG, then ambiguous group per MDC, then ADRG without
    a DRG per ADRG rule, then "not grouped"); ``status`` indexes ``io.STATUS_TOKENS``.
    """

    case_id: pa.ChunkedArray | pa.Array
    status: np.ndarray  # int8[n]
    group: np.ndarray   # int32[n]

    def __len__(self) -> int:
        return len(self.status)


def result_labels(scheme: Scheme) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mdc, adrg, drg) label of every group index: DRGs, each MDC's ambiguous group, each ADRG
    rule's result when no DRG of its ADRG applies (the ADRG code as DRG), none."""
    n_mdc = len(scheme.mdc_codes)
    drg_mdc = scheme.mdc_codes[scheme.adrg_mdc[scheme.drg_adrg]]
    mdc = np.concatenate([drg_mdc, scheme.mdc_codes, scheme.mdc_codes[scheme.adrg_mdc],
                          [NOT_GROUPED[0]]]).astype(object)
    adrg = np.concatenate([scheme.adrg_codes[scheme.drg_adrg], ["QY"] * n_mdc, scheme.adrg_codes,
                           [NOT_GROUPED[1]]]).astype(object)
    drg = np.concatenate([scheme.drg_codes, scheme.qy_codes, scheme.adrg_codes,
                          [NOT_GROUPED[2]]]).astype(object)
    return mdc, adrg, drg


def group_encoded(cases: io.EncodedCases, scheme: Scheme) -> GroupedBatch:
    """Run the kernel over encoded cases and fold its result into status and group index."""
    age_integer = cases.age_integer if scheme.uses_age_typing else None
    los = cases.los if scheme.uses_los else None
    result = _group_drg_kernel(cases.status, cases.gender, cases.age, age_integer, cases.age_days,
                               cases.birth_weight, los, cases.dx_ptr, cases.dx_ids, cases.proc_ptr,
                               cases.proc_ids, scheme.compiled)
    n_drg = len(scheme.drg_codes)
    n_mdc = len(scheme.mdc_codes)
    n_adrg = len(scheme.adrg_codes)
    status = cases.status.copy()
    valid = status == io.OK
    status[valid & (result == GROUP_NONE)] = io.NO_GROUP
    status[valid & (result >= n_drg) & (result < n_drg + n_mdc)] = io.AMBIGUOUS
    group = np.where(result == GROUP_NONE, n_drg + n_mdc + n_adrg, result).astype(np.int32)
    return GroupedBatch(case_id=cases.case_id, status=status, group=group)


def iter_group_batches(source, scheme: Scheme, *, batch_rows: int = io.DEFAULT_BATCH_ROWS,
                       gender_aliases: bool = False, map_codes: bool = False,
                       all_columns: bool = False) -> Iterator[tuple[pa.Table, GroupedBatch]]:
    """Group ``source`` batch by batch, yielding (input batch, its result) in input order.

    The input batch holds only the grouping columns unless ``all_columns`` is set.
    """
    name = source_name(source)
    # rows as the file shows them: a CSV file's header is row 1
    first_row = 2 if not isinstance(source, pd.DataFrame) and table_format(source) == "csv" else 1
    columns = io.grouping_columns(scheme)
    for table in prefetch(io.iter_case_batches(source, batch_rows, all_columns=all_columns, columns=columns)):
        encoded = io.encode_batch(table, scheme, file=name, first_row=first_row,
                                  gender_aliases=gender_aliases, map_codes=map_codes)
        yield table, group_encoded(encoded, scheme)
        first_row += table.num_rows


def to_frame(batches: list[GroupedBatch], scheme: Scheme) -> pd.DataFrame:
    """The grouping output table (design.md §3.2) with categorical status/mdc/adrg/drg."""
    mdc, adrg, drg = result_labels(scheme)
    if batches:
        status = np.concatenate([b.status for b in batches])
        group = np.concatenate([b.group for b in batches])
        case_id = pa.chunked_array([c for b in batches for c in _chunks(b.case_id)]) \
            if any(len(b) for b in batches) else pa.array([], pa.string())
    else:
        status = np.empty(0, np.int8)
        group = np.empty(0, np.int32)
        case_id = pa.array([], pa.string())
    case_id = case_id.to_pandas()
    if not isinstance(case_id.dtype, pd.StringDtype):
        case_id = case_id.astype("str")

    def categorical(labels: np.ndarray, codes: np.ndarray) -> pd.Categorical:
        categories, inverse = np.unique(labels.astype(str), return_inverse=True)
        return pd.Categorical.from_codes(inverse[codes], categories=categories)

    return pd.DataFrame({
        "case_id": case_id.to_numpy() if len(case_id) == 0 else case_id.reset_index(drop=True),
        "status": pd.Categorical.from_codes(status.astype(np.int64), categories=io.STATUS_TOKENS),
        "mdc": categorical(mdc, group),
        "adrg": categorical(adrg, group),
        "drg": categorical(drg, group),
    })


def _chunks(array):
    return array.chunks if isinstance(array, pa.ChunkedArray) else [array]


def group_cases(cases, scheme: Scheme, *, batch_rows: int = io.DEFAULT_BATCH_ROWS,
                gender_aliases: bool = False, map_codes: bool = False) -> pd.DataFrame:
    """Group a case table (DataFrame, or CSV/Parquet path) under ``scheme``.

    Returns one row per input row, in input order: ``case_id, status, mdc, adrg, drg``
    (categoricals). ``gender_aliases`` also accepts M/F/男/女 as male/female for the sex-specific
    MDCs (the reference grouper rejects M/F and lets 男/女 pass without entering MDCM/MDCN);
    ``map_codes`` converts codes through the scheme's dx_map/proc_map first (RULES.md §9).
    A Dask DataFrame gives a lazy Dask DataFrame of the same columns, partition by partition
    (:func:`group_dask`).
    """
    if is_dask_frame(cases):
        return group_dask(cases, scheme, batch_rows=batch_rows, gender_aliases=gender_aliases, map_codes=map_codes)
    batches = [grouped for _, grouped in iter_group_batches(
        cases, scheme, batch_rows=batch_rows, gender_aliases=gender_aliases, map_codes=map_codes)]
    return to_frame(batches, scheme)


def result_meta(scheme: Scheme) -> pd.DataFrame:
    """An empty grouping result with the dtypes every partition of :func:`group_dask` will have."""
    mdc, adrg, drg = result_labels(scheme)

    def empty(categories) -> pd.Categorical:
        return pd.Categorical([], categories=sorted(set(map(str, categories))))

    return pd.DataFrame({
        "case_id": pd.Series([], dtype="str"),
        "status": pd.Categorical([], categories=io.STATUS_TOKENS),
        "mdc": empty(mdc), "adrg": empty(adrg), "drg": empty(drg),
    })


def _group_partition(partition: pd.DataFrame, scheme: Scheme, options: dict) -> pd.DataFrame:
    grouped = group_cases(partition, scheme, **options)
    grouped.index = partition.index
    return grouped


def group_dask(cases, scheme: Scheme, **options):
    """Group a ``dask.dataframe.DataFrame`` of cases; returns a lazy Dask DataFrame.

    ``options`` are those of :func:`group_cases`. Each partition is grouped by the same kernel; the
    result columns have fixed categories (every status token, every label of the scheme), so
    partitions concatenate without recoding. The result keeps the input's index and partitions, one
    row per input row.
    """
    return cases.map_partitions(_group_partition, scheme, options, meta=result_meta(scheme))
