"""A province settled on a Dask cluster, pooling area by pooling area (``drgdip settle --engine dask``).

A settlement does not cross pooling areas: each area has its own budget, reserve, pools and point
values, its hospitals and their stays (day care merges stays and outpatient bills at one hospital), and
the history of its pools. What is province-wide is done here, over all areas: the weight table when the
policy calibrates it; the indicators by level and by region (from the areas' exact sums); assessment
coefficients that rank hospitals across areas; approval lists, deductions and per-area budget figures,
checked against the whole province; a case id used in two areas. So the engine

1. reads the region, hospital, year and case id of every stay, piece by piece on the workers, and makes
   one task per pooling area with stays in the settlement year (stays of no such area go with the
   first; a stay whose case id an earlier stay of another area has goes with that stay, where the local
   engine's rule leaves it out);
2. writes each piece's stays, task by task, into a scratch province per task, in input order, each with
   its input position (``_position``), beside the hospitals and the outpatient bills of its hospitals;
3. when the weights are calibrated, each task prepares its area and returns the stays they are
   calibrated on; put back in input order here, they give the local engine's table;
4. each task settles its area with the local engine (:func:`drgdip.budget.pipeline.settle_once`) and
   that table, writes its per-stay table, and returns its other tables, the exact sums of its
   indicators and its notes;
5. here the areas' tables are put together in the local engine's order, the indicators worked out from
   their sums, the notes merged, and the per-stay tables merged back into input order as the output is
   written.

Every table equals the local engine's (tests compare them); the per-stay table is never in one
process's memory, but each area is in one worker's (:data:`BYTES_PER_STAY`). A task is pure (its
inputs are files): one lost with its worker is run again by Dask.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.dataset  # noqa: F401  (pa.dataset)
import pyarrow.parquet as pq

from drgdip.budget.frame import stay_years
from drgdip.budget.indicators import (add_last_year_sums, assessment_scores, hospital_regions, indicator_cells,
                                      last_year_costs_of, tables_of_cells)
from drgdip.budget.outputs import Settlement
from drgdip.budget.grouping import resolve_grouping
import drgdip.budget.pipeline as pipeline
from drgdip.budget.pipeline import (NO_HISTORY_TO_CALIBRATE, OUTPATIENT_COLUMNS, _policy_table, calibration_stays,
                                    fit_weights, prepare_province)
from drgdip.budget.policy import Policy
from drgdip.budget.point_value import check_budget_point_values
from drgdip.budget.pools import STATUS_CROSS_PROVINCE, STATUS_OTHER_REGION, area_of_regions, check_area_figures
from drgdip.budget.remote import clearing_matrix
from drgdip.core.cluster import ordered_results
from drgdip.core.datasets import open_dataset
from drgdip.core.errors import UsageError
from drgdip.core.province import TABLE_NAMES, cases_path, read_province_info
from drgdip.core.timing import StageClock, stage_of
from drgdip.core.tables import (TableWriter, arrow_table, find_table, read_table, row_in_file, table_columns,
                                table_format)

__all__ = ["settle_province", "settle_on_cluster", "ClusterSettlement", "POSITION"]

POSITION = "_position"            # input position (0-based) of each stay in the scratch provinces
PIECE_ROWS = 1_048_576            # rows of a single Parquet file read by one task (whole row groups)
MERGE_ROWS = 1_048_576            # input positions merged back into order at a time
KEY_COLUMNS = ("region", "hospital_id", "year", "settle_date", "discharge_time")


@dataclass(frozen=True)
class Unit:
    """A piece of the input one task reads: rows ``start`` to ``stop`` of ``file`` (a dataset's part file,
    with its partition ``keys``), the first at input position ``position``; ``table``: the rows, when the
    client read them (CSV)."""

    number: int
    file: str
    start: int
    stop: int
    position: int
    dataset: str | None = None
    table: pa.Table | None = None


@dataclass(frozen=True)
class ClusterSettlement:
    """What ``drgdip settle --engine dask`` settled: every table but the per-stay one (written to
    ``cases_path`` as it was merged), and the number of stays in it."""

    settlement: Settlement
    stays: int
    paths: dict


def _units(source, piece_rows: int = PIECE_ROWS) -> list[Unit]:
    """The input cut into units, in input order: a dataset's part files; a Parquet file's row groups, at
    least ``piece_rows`` rows a unit; a CSV file's rows, ``piece_rows`` a unit."""
    path = cases_path(source)
    if path is None:
        raise UsageError("--engine dask settles a province directory or a cases file", file=str(source))
    kind = table_format(path)
    if kind == "dataset":
        dataset = open_dataset(path, what="cases")
        starts = dataset.starts
        return [Unit(k, str(part.path), 0, part.rows, int(starts[k]), dataset=str(path))
                for k, part in enumerate(dataset.parts)]
    if kind == "parquet":
        from drgdip.grouper.on_cluster import plan_pieces
        return [Unit(k, piece.file, piece.start, piece.stop, piece.start)
                for k, piece in enumerate(plan_pieces(str(path), piece_rows, columns=None))]
    if kind == "csv":   # typed as the local engine types it, then cut
        table = pa.Table.from_pandas(read_table(path, what="cases"), preserve_index=False)
        return [Unit(k, str(path), start, min(start + piece_rows, table.num_rows), start,
                     table=table.slice(start, piece_rows))
                for k, start in enumerate(range(0, max(table.num_rows, 1), piece_rows))]
    raise UsageError("--engine dask settles Parquet or CSV cases (a file, or a directory of Parquet files)",
                     file=str(path))


@lru_cache(maxsize=4)
def _dataset(path: str):
    """The cases dataset at ``path``, opened once per worker (its parts' metadata read once)."""
    return open_dataset(path, what="cases")


def _read_unit(unit: Unit, columns=None) -> pa.Table:
    if unit.table is not None:
        table = unit.table
        return table if columns is None else table.select([c for c in table.column_names if c in set(columns)])
    if unit.dataset is not None:
        dataset = _dataset(unit.dataset)
        part = next(p for p in dataset.parts if str(p.path) == unit.file)
        return dataset.read_part(part, columns)
    from drgdip.grouper.on_cluster import Piece, read_piece
    return read_piece(Piece(unit.file, unit.start, unit.stop, first_row=1 + unit.start), columns)


def _area_keys(table: pa.Table, policy: Policy, hospital_region: dict, file: str) -> tuple[np.ndarray, np.ndarray]:
    """(the pooling-area label of each stay's treatment region, or of its hospital's; "" for none, each
    stay's year)."""
    frame = table.to_pandas()
    region = frame["region"].astype("string") if "region" in frame.columns else pd.Series(pd.NA, index=frame.index,
                                                                                          dtype="string")
    if "hospital_id" in frame.columns and region.isna().any():
        region = region.fillna(frame["hospital_id"].astype("string").map(hospital_region).astype("string"))
    labels = region.fillna("").to_numpy(dtype=object)
    codes, uniques = pd.factorize(labels)
    areas = area_of_regions(np.asarray(uniques, dtype=object), policy)
    areas = np.where(np.asarray(uniques, dtype=object) == "", "", areas)
    return areas[codes] if len(codes) else np.zeros(0, dtype=object), stay_years(frame, file)


def _scan_unit(unit: Unit, policy: Policy, hospital_region: dict) -> tuple:
    """Of one unit: its stays per (pooling area, year, hospital); each stay's case id hashed and its area (a
    code into the unit's area labels), to find ids repeated across areas; the area labels."""
    table = _read_unit(unit, KEY_COLUMNS + ("case_id",))
    areas, years = _area_keys(table, policy, hospital_region, unit.file)
    area_codes, area_labels = pd.factorize(areas)
    hospital_codes, hospital_labels = _text_codes(table, "hospital_id")
    year_codes, year_values = pd.factorize(years)
    key = (area_codes.astype(np.int64) * len(year_values) + year_codes) * (len(hospital_labels) + 1) + hospital_codes
    keys, stays = np.unique(key, return_counts=True)
    counts = pd.DataFrame({"area": np.asarray(area_labels, dtype=object)[keys // (len(hospital_labels) + 1)
                                                                         // max(len(year_values), 1)],
                           "year": np.asarray(year_values)[(keys // (len(hospital_labels) + 1))
                                                           % max(len(year_values), 1)],
                           "hospital_id": np.append(hospital_labels, "")[keys % (len(hospital_labels) + 1)],
                           "stays": stays})
    if "case_id" in table.column_names:
        ids = table.column("case_id").cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    else:
        ids = np.full(len(areas), "", dtype=object)
    return counts, pd.util.hash_array(ids.astype(object), categorize=False), area_codes.astype(np.int32), \
        np.asarray(area_labels, dtype=object)


def _text_codes(table: pa.Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(each row's code of ``column`` as text, the number of values for a missing one; the values)."""
    if column not in table.column_names:
        return np.zeros(table.num_rows, dtype=np.int64), np.zeros(0, dtype=object)
    encoded = pa.compute.dictionary_encode(table.column(column).cast(pa.string())).combine_chunks()
    labels = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    codes = encoded.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, labels


def _repeated_elsewhere(scans: list[tuple], task_of_area: dict, source) -> dict[int, int]:
    """The stays whose case id an earlier stay of another task has, each with that task (their position →
    task): settled there, the local engine's rule marks them (the first stay with an id is settled)."""
    hashes = np.concatenate([scan[1] for scan in scans]) if scans else np.zeros(0, dtype=np.uint64)
    task = np.concatenate([np.asarray([task_of_area.get(a, 0) for a in scan[3]], dtype=np.int64)[scan[2]]
                           if len(scan[2]) else np.zeros(0, dtype=np.int64) for scan in scans]) \
        if scans else np.zeros(0, dtype=np.int64)
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    repeated = np.flatnonzero(sorted_hashes[1:] == sorted_hashes[:-1]) + 1
    if not len(repeated):
        return {}
    starts = np.flatnonzero(np.concatenate(([True], sorted_hashes[1:] != sorted_hashes[:-1])))
    first = order[starts[np.searchsorted(starts, repeated, side="right") - 1]]
    later = order[repeated]
    moved = task[later] != task[first]
    first, later = first[moved], later[moved]
    if not len(later):
        return {}
    ids = _case_ids(source, np.concatenate([first, later]))   # a hash shared by two ids is no repeat
    same = ids[:len(first)] == ids[len(first):]
    return {int(p): int(task[f]) for p, f in zip(later[same], first[same])}


def _case_ids(source, positions: np.ndarray) -> np.ndarray:
    from drgdip.core.tables import read_table_rows
    order = np.argsort(positions)
    frame = read_table_rows(cases_path(source), positions[order], columns=["case_id"], what="cases")
    ids = np.empty(len(positions), dtype=object)
    ids[order] = frame["case_id"].astype("string").fillna("").to_numpy(dtype=object)
    return ids


def _split_unit(unit: Unit, policy: Policy, hospital_region: dict, task_of_area: dict, scratch: str,
                settle_year: int, approved: frozenset, moved: dict) -> list[tuple[int, list]]:
    """Write the unit's stays into the scratch province of each task, in input order; per task, its rows and
    the ``approved`` case ids among its settlement-year stays."""
    table = _read_unit(unit)
    areas, years = _area_keys(table.select([c for c in KEY_COLUMNS if c in table.column_names]), policy,
                              hospital_region, unit.file)
    task = np.asarray([task_of_area.get(a, 0) for a in areas], dtype=np.int64)
    for position, to in moved.items():   # a repeated case id goes to the task of its first stay
        if unit.position <= position < unit.position + len(task):
            task[position - unit.position] = to
    found = [[] for _ in range(max(task_of_area.values(), default=0) + 1)]
    if approved and "case_id" in table.column_names:
        ids = table.column("case_id").to_pandas().astype("string").to_numpy(dtype=object)
        for row in np.flatnonzero((years == settle_year) & pd.Series(ids).isin(approved).to_numpy()):
            found[task[row]].append(ids[row])
    table = table.append_column(POSITION, pa.array(np.arange(table.num_rows, dtype=np.int64) + unit.position))
    order = np.argsort(task, kind="stable")   # the rows task by task, in input order within each: one take
    table = _plain(table).take(pa.array(order))
    bounds = np.searchsorted(task[order], np.arange(len(found) + 1))
    rows = []
    for k in range(len(found)):
        rows.append((int(bounds[k + 1] - bounds[k]), found[k]))
        if bounds[k + 1] > bounds[k]:
            pq.write_table(table.slice(bounds[k], bounds[k + 1] - bounds[k]), Path(scratch) / f"task-{k:05d}" /
                           "cases" / f"unit-{unit.number:06d}.parquet", compression="zstd")
    return rows


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as their values: each scratch file codes its own."""
    for k, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(k, field.name, table.column(k).cast(field.type.value_type))
    return table


VISITS = "outpatient"   # the outpatient bills day care merges into stays (at the stay's own hospital)


def _task_directories(source, scratch: Path, tasks: int) -> None:
    """A province directory per task: its cases (written by the units) beside the province's hospitals and
    ``province.json`` (its outpatient bills are written by :func:`_task_visits`)."""
    root = Path(source) if Path(source).is_dir() else None
    info = read_province_info(source) if root is not None else {}
    for k in range(tasks):
        directory = scratch / f"task-{k:05d}"
        (directory / "cases").mkdir(parents=True, exist_ok=True)
        if root is None:
            continue
        found = find_table(root, "hospitals")
        if found is not None:
            os.symlink(found.resolve(), directory / found.name, target_is_directory=found.is_dir())
        (directory / "province.json").write_text(json.dumps(info), encoding="utf-8")


def _task_visits(tasks: list[tuple[str, list[str]]], source: str) -> None:
    """The outpatient bills at the hospitals of some tasks (``tasks``: each one's directory and hospital ids),
    the columns settlement reads, read once and written into each task's province: day care merges a bill
    only into a stay at its hospital."""
    found = find_table(Path(source), VISITS)
    if found is None:
        return
    columns = [c for c in table_columns(found) if c in OUTPATIENT_COLUMNS]
    if "hospital_id" not in columns:
        for directory, _ in tasks:
            os.symlink(Path(found).resolve(), Path(directory) / Path(found).name,
                       target_is_directory=Path(found).is_dir())
        return
    wanted = sorted({hospital for _, hospitals in tasks for hospital in hospitals})
    if table_format(found) in ("parquet", "dataset"):
        visits = pa.dataset.dataset(str(found), format="parquet", partitioning="hive").to_table(
            columns=columns, filter=pa.compute.field("hospital_id").cast(pa.string()).isin(wanted))
    else:
        frame = read_table(found, what=VISITS, columns=columns)
        visits = arrow_table(frame[frame["hospital_id"].astype("string").isin(wanted).to_numpy()])
    visits = _plain(visits)
    hospital = visits.column("hospital_id").cast(pa.string())
    for directory, hospitals in tasks:
        mine = visits.filter(pa.compute.is_in(hospital, value_set=pa.array(hospitals, pa.string())))
        pq.write_table(mine, Path(directory) / f"{VISITS}.parquet", compression="zstd")


def _positions(directory: Path) -> np.ndarray:
    files = sorted((directory / "cases").glob("*.parquet"))
    return np.concatenate([pq.read_table(f, columns=[POSITION]).column(0).to_numpy() for f in files]) \
        if files else np.zeros(0, dtype=np.int64)


def _calibration_part(directory: str, policy: Policy, options: dict):
    """The stays of one task the weights are calibrated on, with their input positions (and whether they
    are the settlement year's, the area having no settled history)."""
    prepared = prepare_province(directory, policy, **options)
    stays, on_year, rows = calibration_stays(policy, prepared.current, prepared.past, prepared.past_years,
                                             prepared.settle_year, rows=True)
    within = (prepared.current_rows if on_year else prepared.past_rows)[rows]
    positions = _positions(Path(directory))[prepared.positions[within]]
    return stays.assign(**{POSITION: positions}), on_year


def _calibration_table(parts: list[tuple[pd.DataFrame, bool]]) -> tuple[pd.DataFrame, bool]:
    """The stays the weights are calibrated on, in input order, from the areas' parts: the settled history's,
    or the settlement year's when no area has any (then True). Groups stay coded (one small integer a stay)."""
    history = [part for part, on_year in parts if not on_year]
    on_year = not any(len(part) for part in history)
    chosen = [part for part, year_stays in parts if year_stays] if on_year else history
    for column in ("drg", "dip_group"):
        if column in chosen[0].columns:
            labels = set()
            for part in chosen:
                values = part[column]
                labels |= set(map(str, values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype)
                                  else values.dropna().unique()))
            dtype = pd.CategoricalDtype(sorted(labels))
            chosen = [part.assign(**{column: (part[column] if isinstance(part[column].dtype, pd.CategoricalDtype)
                                              and all(isinstance(c, str) for c in part[column].cat.categories)
                                              else part[column].astype("string")).astype(dtype)})
                      for part in chosen]
    order = np.argsort(np.concatenate([part[POSITION].to_numpy() for part in chosen]), kind="stable")
    columns = {}
    for name in [c for c in chosen[0].columns if c != POSITION]:   # column by column: each held twice at most
        values = [part.pop(name).array for part in chosen]
        columns[name] = pd.api.types.union_categoricals(values).take(order) \
            if isinstance(values[0], pd.Categorical) else \
            pd.concat([pd.Series(v, copy=False) for v in values], ignore_index=True).array.take(order)
        del values
    return pd.DataFrame(columns, copy=False), on_year


def _settle_task(task: tuple, policy: Policy, options: dict, moved: dict) -> dict:
    """Settle one task's province (``task``: its directory, the file of its per-stay table, its approval list
    and deductions) with the local engine; write its per-stay table; return the rest (and the status of each
    stay ``moved`` here from another area)."""
    directory, out_file, approved, deductions = task
    prepared = pipeline.prepare_province(directory, policy, approved=approved, deductions=deductions, **options)
    prepared_notes = len(prepared.warnings)
    settlement = pipeline.settle_once(prepared)
    del prepared
    cases = settlement.cases
    positions = cases[POSITION].to_numpy(dtype=np.int64)
    settled_positions = _settled_positions(cases)
    cells = indicator_cells(cases)
    cells["first"] = settled_positions[cells["first"].to_numpy()]
    regions = hospital_regions(cases)
    first_of_hospital = None
    if regions is not None:
        settled = cases.loc[_settled_mask(cases)]
        first_of_hospital = pd.Series(settled_positions, index=settled["hospital_id"].astype(str).to_numpy()) \
            .groupby(level=0, sort=False).first()
    if len(cases):
        with TableWriter(out_file) as writer:
            writer.write(_plain(arrow_table(cases)))
    firsts = {name: _first_positions(cases, name) for name in ("region", "insured_region", "hospital_id",
                                                                "outlier_class", "settle_status")}
    here = np.isin(positions, np.fromiter(moved, dtype=np.int64, count=len(moved)))
    statuses = dict(zip(positions[here].tolist(), cases["settle_status"].astype(str).to_numpy()[here].tolist())) \
        if here.any() and "settle_status" in cases.columns else {}
    return {"tables": replace(settlement, cases=pd.DataFrame(), indicators={}, last_year_sums={}),
            "stays": len(positions), "cells": cells, "regions": regions, "first_of_hospital": first_of_hospital,
            "last_year": settlement.last_year_sums, "firsts": firsts, "moved": statuses,
            "prepared_notes": prepared_notes}


def _settled_mask(cases: pd.DataFrame) -> np.ndarray:
    if "settle_status" not in cases.columns:
        return np.ones(len(cases), dtype=bool)
    return (cases["settle_status"] == "ok").fillna(False).to_numpy(dtype=bool)


def _settled_positions(cases: pd.DataFrame) -> np.ndarray:
    return cases[POSITION].to_numpy(dtype=np.int64)[_settled_mask(cases)]


def _first_positions(cases: pd.DataFrame, column: str) -> pd.Series:
    """The input position of the first stay of each value of ``column`` (as text)."""
    if column not in cases.columns or not len(cases):
        return pd.Series(dtype=np.int64)
    values = cases[column].astype("string")
    frame = pd.DataFrame({"value": values.to_numpy(), "position": cases[POSITION].to_numpy(dtype=np.int64)})
    return frame.dropna().groupby("value", sort=False)["position"].min()


def settle_on_cluster(client, source, policy: Policy, output, *, scheme=None, dip=None, weights=None,
                      approved=None, deductions=None, year: int | None = None, regroup: bool = False,
                      fmt: str = "parquet", scratch=None, progress: Callable[[str], None] | None = None,
                      rows_named: str | None = None, clock: StageClock | None = None,
                      piece_rows: int = PIECE_ROWS) -> ClusterSettlement:
    """Settle the province ``source`` (a directory, or a cases file) under ``policy`` on ``client``'s
    workers, pooling area by pooling area (see the module docstring), and write the per-stay table to
    ``output/cases.<fmt>``; returns the other tables. ``scratch``: a directory every worker can reach, in
    which the task provinces are written (default: the output directory) and removed at the end. ``rows_named``: how messages name
    the input (a DataFrame's name) instead of its files; ``clock`` records each phase (the client's memory);
    ``piece_rows``: stays a task reads of a single Parquet or CSV file (a dataset is read part file by part
    file)."""
    if piece_rows < 1:
        raise UsageError(f"--partition-rows must be at least 1, got {piece_rows}")
    say = progress or (lambda text: None)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    scratch = (Path(scratch) if scratch is not None else output) / f".drgdip-scratch-{uuid.uuid4().hex[:12]}"
    scratch.mkdir(parents=True)
    named = rows_named or source
    try:
        return _settle(client, source, policy, output, scratch, fmt, say,
                       dict(scheme=scheme, dip=dip, weights=weights, regroup=regroup), year, named,
                       _approval_list(approved), _deductions_table(deductions), stage_of(clock), piece_rows)
    except UsageError as error:   # an error of a task names a row of its scratch province: tell the input's
        raise _in_input(error, named) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _in_input(error: UsageError, source) -> UsageError:
    """``error`` naming the input's file and row where it names a row of a task's scratch province (its
    dataset of cases, or one of its part files)."""
    file = str(error.file or "")
    found = re.search(r"(?P<task>.*task-[0-9]+)/cases(?P<part>/unit-[0-9]+\.parquet)?$", file)
    if found is None:
        return error
    if error.row is None:
        return UsageError(error.problem, file=str(_cases_name(source)), field=error.field)
    if found["part"]:
        position = int(pq.read_table(file, columns=[POSITION]).column(0)[error.row - 1].as_py())
    else:
        position = int(_positions(Path(found["task"]))[error.row - 1])
    path = _cases_name(source)
    first_row = 2 if isinstance(path, Path) and table_format(path) == "csv" else 1
    return UsageError(error.problem, file=str(path), row=position + first_row, field=error.field)


def _cases_name(source):
    """The cases of ``source`` as messages name them: its file or dataset (a DataFrame: its name)."""
    if not isinstance(source, Path) and not Path(str(source)).exists():
        return str(source)
    return cases_path(source)


def _hospital_regions(source) -> dict:
    root = Path(source) if Path(source).is_dir() else None
    found = find_table(root, "hospitals") if root is not None else None
    if found is None:
        return {}
    table = read_table(found, what="hospitals", columns=("hospital_id", "region"))
    if not {"hospital_id", "region"} <= set(table.columns):
        return {}
    table = table.dropna(subset=["hospital_id", "region"]).drop_duplicates("hospital_id")
    return dict(zip(table["hospital_id"].astype(str), table["region"].astype(str)))


BYTES_PER_STAY = 400   # the local engine's peak memory per stay of a province, history included (settlement
                       # of 20M stays: 6.2 GB), with the per-stay table written by the task


def _check_worker_memory(client, areas: list[str], task: np.ndarray, stays: np.ndarray) -> None:
    """Stop before settling when a pooling area needs more memory than a worker has: an area is settled
    whole by one worker (see the module docstring)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info(n_workers=-1)["workers"].values()]
    if not limits or min(limits) <= 0:
        return
    per_task = np.bincount(task, weights=stays, minlength=len(areas))
    need = per_task * BYTES_PER_STAY
    limit = max(limits) * 0.9   # a worker is restarted at 95 % of its limit
    if (need > limit).any():
        k = int(np.argmax(need))
        from dask.utils import format_bytes
        raise UsageError(f"pooling area {areas[k]} holds {int(per_task[k]):,} stays (history included): settling "
                         f"it takes about {format_bytes(need[k])} in one worker, above what the largest worker "
                         f"has ({format_bytes(max(limits))}); an area is settled whole by one worker: give fewer "
                         f"workers more memory (--workers, --memory-limit), or a cluster with larger workers")


def _unassessed(policy: Policy) -> Policy:
    """``policy`` without coefficients from indicators (its assessment coefficients by hospital kept)."""
    rules = type(policy.settlement.assessment_indicators)()
    return replace(policy, settlement=replace(policy.settlement, assessment_indicators=rules))


def _approval_list(approved) -> pd.DataFrame | None:
    """The special-review approval list as a table with ``case_id`` (as the local engine reads it)."""
    if approved is None:
        return None
    if isinstance(approved, (str, Path)):
        approved = read_table(Path(approved), what="approved")
    if not isinstance(approved, pd.DataFrame):
        approved = pd.DataFrame({"case_id": [str(a) for a in approved]})
    if "case_id" not in approved.columns:
        raise UsageError("approval list: missing column 'case_id'", file="<approvals>", field="case_id")
    return approved


def _deductions_table(deductions) -> pd.DataFrame | None:
    if isinstance(deductions, (str, Path)):
        return read_table(Path(deductions), what="deductions")
    return deductions


def _task_approvals(approved: pd.DataFrame | None, found: list[list]) -> list:
    """Each task's part of the approval list (the stays it settles); an approved stay in no task's
    settlement year is the local engine's error."""
    if approved is None:
        return [None] * len(found)
    ids = approved["case_id"].astype(str)
    anywhere = set().union(*map(set, found)) if found else set()
    unknown = ~ids.isin(anywhere)
    if unknown.any():
        raise UsageError(f"approval list names {int(unknown.sum())} stay(s) not in the settlement year, e.g. "
                         f"{ids[unknown].iloc[0]!r}", file="<approvals>", field="case_id")
    return [approved[ids.isin(set(mine)).to_numpy()].reset_index(drop=True) for mine in found]


def _task_deductions(deductions: pd.DataFrame | None, hospitals_of_area: pd.Series, areas: list[str],
                     policy: Policy) -> list:
    """Each task's part of the audit deductions: a hospital's are taken in its first pooling area, as the
    local engine takes them (checked here as the local engine checks them, rows of the whole table)."""
    from drgdip.budget.hospital_adjust import audit_deductions
    if deductions is None:
        return [None] * len(areas)
    first_area = {}
    for k, area in enumerate(areas):
        for hospital in hospitals_of_area.get(area, ()):
            first_area.setdefault(str(hospital), k)
    audit_deductions(deductions, np.asarray(sorted(first_area), dtype=object), policy.settlement.rounding)
    task = deductions["hospital_id"].astype(str).map(first_area).to_numpy()
    return [deductions[task == k].reset_index(drop=True) for k in range(len(areas))]


def _settle(client, source, policy: Policy, output: Path, scratch: Path, fmt: str, say, options: dict,
            year: int | None, named, approved: pd.DataFrame | None, deductions: pd.DataFrame | None, stage,
            piece_rows: int) -> ClusterSettlement:
    units = _units(source, piece_rows)
    hospital_region = _hospital_regions(source)
    say(f"{len(units):,} pieces of input")
    with stage("scan"):
        scans = list(ordered_results(client, _scan_unit, units, policy, hospital_region))
        counts = pd.concat([scan[0] for scan in scans], ignore_index=True)
    hospitals_of_area = counts.groupby("area")["hospital_id"].unique()
    counts_by_hospital = counts
    counts = counts.groupby(["area", "year"], as_index=False)["stays"].sum()
    if not len(counts):
        raise UsageError("no stays in the input", file=str(source))
    settle_year = int(year or policy.year or counts["year"].max())
    areas = sorted(a for a in counts.loc[counts["year"] == settle_year, "area"].unique() if a != "")
    if not areas:
        raise UsageError(f"no stays in the settlement year {settle_year} (years in the input: "
                         f"{', '.join(map(str, sorted(counts['year'].unique())))})", file=str(source), field="year")
    task_of_area = {area: k for k, area in enumerate(areas)}
    check_area_figures(policy, np.asarray(areas, dtype=object))   # as a settlement of all the areas checks them
    check_budget_point_values(policy, np.asarray(areas, dtype=object))
    kept = counts[counts["year"] <= settle_year]
    _check_worker_memory(client, areas, kept["area"].map(lambda a: task_of_area.get(a, 0)).to_numpy(),
                         kept["stays"].to_numpy())
    with stage("scan"):
        moved = _repeated_elsewhere(scans, task_of_area, source)
        own_area = {}
        if moved:
            labels = np.concatenate([scan[3][scan[2]] if len(scan[2]) else np.zeros(0, dtype=object)
                                     for scan in scans])
            own_area = {position: str(labels[position]) for position in moved}
        del scans
    _task_directories(source, scratch, len(areas))
    say(f"{len(areas):,} pooling area task(s)")
    approved_ids = frozenset(approved["case_id"].astype(str)) if approved is not None else frozenset()
    found = [[] for _ in areas]
    with stage("split"):
        for per_task in ordered_results(client, _split_unit, units, policy, hospital_region, task_of_area,
                                        str(scratch), settle_year, approved_ids, moved):
            for k, (_, ids) in enumerate(per_task):
                found[k].extend(ids)
    approvals = _task_approvals(approved, found)
    year_hospitals = counts_by_hospital[counts_by_hospital["year"] == settle_year].groupby("area")["hospital_id"] \
        .unique()
    year_hospitals = year_hospitals.rename(index=lambda a: areas[task_of_area.get(a, 0)]).groupby(level=0) \
        .agg(lambda lists: [h for ids in lists for h in ids if h != ""])
    deducted = _task_deductions(deductions, year_hospitals, areas, policy)
    directories = [str(scratch / f"task-{k:05d}") for k in range(len(areas))]
    if Path(source).is_dir() and policy.day_care.preop_merge.enabled:
        task_hospitals = [set() for _ in areas]
        for area, ids in hospitals_of_area.items():
            task_hospitals[task_of_area.get(area, 0)].update(str(h) for h in ids if h != "")
        tasks = [(d, sorted(h)) for d, h in zip(directories, task_hospitals)]
        batches = max(1, min(len(tasks), 2 * sum(client.nthreads().values())))   # the bills read once a batch
        with stage("visits"):
            for _ in ordered_results(client, _task_visits, [tasks[k::batches] for k in range(batches)],
                                     str(source)):
                pass
    options = {**options, "year": settle_year}
    warnings: list[str] = []
    if options["weights"] is None and _calibrated(directories[0], policy, options):
        with stage("calibrate"):
            parts = list(ordered_results(client, _calibration_part, directories, policy, options))
        stays, on_year = _calibration_table(parts)
        if on_year:
            warnings.append(NO_HISTORY_TO_CALIBRATE.format(year=settle_year))
        options["weights"] = fit_weights(policy, stays)
        say("weights calibrated")
    out_files = [str(scratch / f"stays-{k:05d}.parquet") for k in range(len(areas))]
    tasks = list(zip(directories, out_files, approvals, deducted))
    weights = policy.settlement.assessment_indicators.weights
    scores = None
    if weights:   # hospitals are ranked within their level across areas: settled once to rank them
        with stage("assess"):
            first = list(ordered_results(client, _settle_task, tasks, _unassessed(policy), options, moved))
            first = _merged(first, [], own_area, named)
        scores = assessment_scores(first.indicators["indicators"], weights)
        policy = _unassessed(pipeline.assessed_policy(policy, scores))
        say("hospitals assessed")
    with stage("settle areas"):
        results = list(ordered_results(client, _settle_task, tasks, policy, options, moved))
    say("pooling areas settled")
    with stage("merge"):
        settlement = _merged(results, warnings, own_area, named)
    if scores is not None:
        per_hospital = settlement.indicators["indicators"]
        per_hospital["assessment_score"] = per_hospital["hospital_id"].astype(str).map(scores).to_numpy()
    stays = sum(r["stays"] for r in results)
    cases_file = output / f"cases.{fmt}"
    with stage("write stays"):
        _write_stays([f for f, r in zip(out_files, results) if r["stays"]], cases_file, _input_schema(units[0]))
    return ClusterSettlement(settlement=settlement, stays=stays, paths={"cases": cases_file})


def _calibrated(directory: str, policy: Policy, options: dict) -> bool:
    """Whether ``policy`` calibrates its weights on the stays (no table given, published, or of a DIP directory)."""
    if options["weights"] is not None or _policy_table(policy) is not None:
        return False
    if not policy.points.is_dip:
        return True
    info = read_province_info(directory)
    return resolve_grouping(policy, scheme=options["scheme"], dip=options["dip"], info=info).dip is None


# ---------------------------------------------------------------------------------------- putting together

def _merged(results: list[dict], warnings: list[str], own_area: dict, source) -> Settlement:
    """The settlement of the whole province from its tasks' results, in the local engine's order
    (``own_area``: the pooling area of each stay settled in another area's task, which counts it)."""
    parts = [r["tables"] for r in results]
    ranks = {name: _ranks([r["firsts"][name] for r in results]) for name in ("region", "insured_region",
                                                                             "hospital_id")}
    hospitals = _concat([p.hospitals for p in parts])
    clearing = _concat([p.clearing for p in parts])
    if len(clearing):
        region_rank = _region_ranks(ranks)
        order = np.lexsort((clearing["hospital_id"].astype(str).map(ranks["hospital_id"]).to_numpy(),
                            clearing["treatment_region"].astype(str).map(region_rank).to_numpy(),
                            clearing["insured_region"].astype(str).map(region_rank).to_numpy()))
        clearing = clearing.take(order).reset_index(drop=True)
    cells = pd.concat([r["cells"] for r in results], ignore_index=True).sort_values("first", kind="stable") \
        .reset_index(drop=True)
    regions = None
    if all(r["regions"] is not None for r in results):
        firsts = pd.concat([r["first_of_hospital"] for r in results])
        named = pd.concat([r["regions"] for r in results])
        order = np.argsort(firsts.reindex(named.index).to_numpy(), kind="stable")
        regions = named.iloc[order]
        regions = regions[~regions.index.duplicated()]
    last_year = last_year_costs_of(add_last_year_sums([r["last_year"] for r in results]))
    indicators = tables_of_cells(cells, hospitals, regions, last_year=last_year) if len(results) else {}
    # the notes of reading, checking, day care and grouping; the weights' (``warnings``); the settlement's
    said = _merged_warnings([p.warnings[:r["prepared_notes"]] for p, r in zip(parts, results)], source) + warnings \
        + _merged_warnings([p.warnings[r["prepared_notes"]:] for p, r in zip(parts, results)], source)
    summary = _union_concat([p.summary for p in parts])
    summary = summary[_summary_columns(list(summary.columns), {name: _ranks([r["firsts"][name] for r in results])
                                                              for name in ("outlier_class", "settle_status")})]
    for position, status in ((p, s) for r in results for p, s in r["moved"].items()):
        if status != "ok" and f"cases_{status}" in summary.columns:   # counted in its own area
            summary.loc[summary["area"].astype(str) == own_area[position], f"cases_{status}"] += 1
    return Settlement(cases=pd.DataFrame(), hospitals=hospitals, clearing=clearing,
                      summary=summary, pools=_concat([p.pools for p in parts]),
                      monthly=_monthly([p.monthly for p in parts]), clearing_matrix=clearing_matrix(clearing),
                      warnings=tuple(said), indicators=indicators)


def _summary_columns(columns: list[str], ranks: dict) -> list[str]:
    """The summary's columns in the local engine's order: its own, then a share per outlier class and a count
    per status left out, each in the order the classes and statuses first occur among the stays (the two
    out-of-scope statuses, which settlement adds, last when no stay read in has them)."""
    shares = [c for c in columns if c.startswith("share_")]
    counts = [c for c in columns if c.startswith("cases_")]
    added = (STATUS_CROSS_PROVINCE, STATUS_OTHER_REGION)
    late = len(ranks["settle_status"])

    def status_rank(column: str) -> tuple:
        label = column[len("cases_"):]
        if label in added:
            return (late + added.index(label), 0)
        return (int(ranks["settle_status"].get(label, late - 1)), 0)

    return [c for c in columns if c not in set(shares) | set(counts)] \
        + sorted(shares, key=lambda c: int(ranks["outlier_class"].get(c[len("share_"):], len(shares)))) \
        + sorted(counts, key=status_rank)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    kept = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)


def _ranks(firsts: list[pd.Series]) -> pd.Series:
    """Each value's rank by the input position of its first stay."""
    merged = pd.concat(firsts).groupby(level=0).min().sort_values(kind="stable")
    return pd.Series(np.arange(len(merged)), index=merged.index)


def _region_ranks(ranks: dict) -> pd.Series:
    """Regions numbered as the local engine numbers them: treatment regions by first stay, then insured
    regions that are no treatment region, by first stay."""
    treatment = list(ranks["region"].index)
    insured = [r for r in ranks["insured_region"].index if r not in set(treatment)]
    labels = treatment + insured
    return pd.Series(np.arange(len(labels)), index=labels)


def _union_order(columns: list[list[str]]) -> list[str]:
    """The columns of several tables in one order: each table's order kept, new columns after the one
    before them."""
    order: list[str] = []
    for names in columns:
        for k, name in enumerate(names):
            if name in order:
                continue
            before = [n for n in names[:k] if n in order]
            order.insert(order.index(before[-1]) + 1 if before else 0, name)
    return order


def _union_concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables whose columns may differ (the summary's per-class and per-status columns, present where some
    stay has that class or status): a missing share is 0.0, a missing count 0."""
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    order = _union_order([list(f.columns) for f in frames])
    filled = []
    for frame in frames:
        missing = {name: (0 if name.startswith("cases_") else 0.0) for name in order if name not in frame.columns}
        filled.append(frame.assign(**missing)[order])
    return _concat(filled)


def _monthly(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The prepayments per hospital and month of every task, over the months any task prepaid in."""
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    paid = sorted({int(m) for f in frames for m in f.loc[f["prepayment"] != 0, "month"]})
    months = paid or [0]
    grids = []
    for frame in frames:
        keys = frame[["area", "hospital_id"]].drop_duplicates()
        grid = keys.loc[keys.index.repeat(len(months))].reset_index(drop=True)
        grid["month"] = np.tile(np.asarray(months, dtype=np.int64), len(keys))
        grid = grid.merge(frame, on=["area", "hospital_id", "month"], how="left")
        grid["prepayment"] = grid["prepayment"].fillna(0.0)
        grids.append(grid)
    return _concat(grids)


COUNTED = re.compile(r"^(?P<count>[0-9][0-9,]*) (?P<text>.*?)(?: \(first: (?P<where>.*)\))?$", re.S)
LISTED = re.compile(r"^(?P<head>.* (?:pool|area)\(s\) )(?P<items>[^;()]*?)(?P<tail>(?: \(.*\)|;.*)?)$", re.S)
LISTED_AT_MOST = 5   # names a note lists
SCRATCH_ROW = re.compile(r"(?P<file>\S*task-[0-9]+/cases/unit-[0-9]+\.parquet), row (?P<row>[0-9]+)")


def _merged_warnings(lists: list[tuple[str, ...]], source) -> list[str]:
    """The tasks' notes as one settlement of all their stays gives them: counts of the same note added up
    and the first stay of all named (rows told as rows of the input); the pools or areas a note lists put
    together (in area order, the first five); others once each."""
    merged: dict[tuple, list] = {}
    for said in lists:
        for text in said:
            text = SCRATCH_ROW.sub(lambda m: _input_row(m["file"], int(m["row"]), source), text)
            counted, listed = COUNTED.match(text), LISTED.match(text)
            if counted is not None:
                entry = merged.setdefault(("count", counted["text"]), [0, None])
                entry[0] += int(counted["count"].replace(",", ""))
                where = counted["where"]
                if where is not None and (entry[1] is None or _row_key(where) < _row_key(entry[1])):
                    entry[1] = where
            elif listed is not None:
                entry = merged.setdefault(("list", listed["head"], listed["tail"]), [])
                entry.extend(listed["items"].split(", "))
            else:
                merged.setdefault(("once", text), None)
    out = []
    for key, entry in merged.items():
        if key[0] == "count":
            out.append(f"{entry[0]:,} {key[1]}" + (f" (first: {entry[1]})" if entry[1] else ""))
        elif key[0] == "list":
            out.append(key[1] + ", ".join(entry[:LISTED_AT_MOST]) + key[2])
        else:
            out.append(key[1])
    return out


def _row_key(where: str) -> tuple:
    match = re.match(r"(?P<file>.*?), row (?P<row>[0-9]+)", where)
    return (match["file"], int(match["row"])) if match else (where, 0)


def _input_row(file: str, row: int, source) -> str:
    """``FILE, row N`` of the input stay at row ``row`` (1-based) of a scratch part file."""
    position = int(pq.read_table(file, columns=[POSITION]).column(0)[row - 1].as_py())
    if not isinstance(source, Path) and not Path(str(source)).exists():   # a DataFrame's name
        return f"{source}, row {position + 1}"
    path = cases_path(source)
    if table_format(path) == "dataset":
        part, part_row = row_in_file(path, position)
        return f"{part}, row {part_row}"
    first_row = 2 if table_format(path) == "csv" else 1
    return f"{path}, row {position + first_row}"


def _input_schema(unit: Unit) -> pa.Schema:
    """The types of the input's columns as the local engine reads them."""
    return unit.table.schema if unit.table is not None else _read_unit(unit).schema


def _write_stays(files: list[str], path: Path, input_schema: pa.Schema) -> None:
    """The tasks' per-stay tables (each in input order) merged into input order, written to ``path``
    window by window of input positions. Times keep the unit the input has (a scratch Parquet file
    holds a CSV's seconds as milliseconds)."""
    schemas = [pq.read_schema(f) for f in files]
    names = [n for n in _union_order([list(s.names) for s in schemas]) if n != POSITION]
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    fields = []
    for name in names:
        field = unified.field(name)
        given = input_schema.field(name).type if name in input_schema.names else None
        if given is not None and pa.types.is_timestamp(field.type) and pa.types.is_timestamp(given):
            field = field.with_type(given)
        fields.append(field)
    target = pa.schema(fields)
    readers = [pq.ParquetFile(f).iter_batches(batch_size=65_536) for f in files]
    buffers = [None] * len(files)
    done = [False] * len(files)

    def take(k: int, below: int) -> pa.Table | None:
        while not done[k] and (buffers[k] is None or buffers[k].num_rows == 0
                               or buffers[k].column(POSITION)[-1].as_py() < below):
            batch = next(readers[k], None)
            if batch is None:
                done[k] = True
                break
            table = pa.Table.from_batches([batch])
            buffers[k] = table if buffers[k] is None else pa.concat_tables([buffers[k], table])
        table = buffers[k]
        if table is None or table.num_rows == 0:
            return None
        cut = int(np.searchsorted(table.column(POSITION).to_numpy(), below))
        buffers[k] = table.slice(cut)
        return table.slice(0, cut) if cut else None

    with TableWriter(path) as writer:
        wrote = False
        below = 0
        while not all(done[k] and (buffers[k] is None or buffers[k].num_rows == 0) for k in range(len(files))):
            below += MERGE_ROWS
            pieces = [_conformed(t, target) for k in range(len(files)) if (t := take(k, below)) is not None]
            if not pieces:
                continue
            window = pa.concat_tables(pieces)
            order = np.argsort(window.column(POSITION).to_numpy(), kind="stable")
            writer.write(window.take(pa.array(order)).drop_columns([POSITION]))
            wrote = True
        if not wrote:
            writer.write(target.empty_table())


def _conformed(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` with ``target``'s columns and types (and its position); a column it lacks is false
    (flags) or missing."""
    columns = {}
    for field in target:
        if field.name in table.column_names:
            columns[field.name] = table.column(field.name).cast(field.type)
        elif pa.types.is_boolean(field.type):
            columns[field.name] = pa.array(np.zeros(table.num_rows, dtype=bool))
        else:
            columns[field.name] = pa.nulls(table.num_rows, field.type)
    columns[POSITION] = table.column(POSITION)
    return pa.table(columns)


def settle_province(province_or_dir, policy, *, client=None, scratch=None, **options) -> Settlement:
    """:func:`drgdip.budget.pipeline.settle_province`, which also takes a province whose cases are a Dask
    DataFrame (or such a DataFrame itself): then it is settled on ``client``'s cluster (default: the
    current Dask client), pooling area by pooling area, with the same result as the local engine.

    The frame's partitions are written by the workers, in order, into a scratch province beside the
    province's other tables (in ``scratch``, a directory the workers reach; default: a temporary one).
    """
    from drgdip.budget.policy import load_policy
    from drgdip.core.cluster import is_dask_frame

    cases = province_or_dir if is_dask_frame(province_or_dir) else getattr(province_or_dir, "cases", None)
    if not is_dask_frame(cases):
        return pipeline.settle_province(province_or_dir, policy, **options)
    import tempfile

    from drgdip.core.province import write_province
    if client is None:
        from distributed import get_client
        try:
            client = get_client()
        except ValueError:
            raise UsageError("a Dask DataFrame is settled on a Dask cluster: start a distributed.Client "
                             "(or pass client=)") from None
    policy = policy if isinstance(policy, Policy) else load_policy(policy)
    root = Path(tempfile.mkdtemp(prefix="drgdip-settle-", dir=scratch))
    try:
        directory = root / "province"
        tables = {name: getattr(province_or_dir, name, None) for name in TABLE_NAMES if name != "cases"}
        info = getattr(province_or_dir, "info", None) or {}
        write_province(dict(tables, cases=pd.DataFrame({"case_id": []}), info=info), directory)
        (directory / "cases.parquet").unlink()
        client.compute(cases.to_parquet(str(directory / "cases"), write_index=False, compute=False,
                                        name_function=lambda number: f"part-{number:06d}.parquet")).result()
        result = settle_on_cluster(client, directory, policy, root / "out", scratch=root / "scratch",
                                   rows_named="<DataFrame>", **options)
        stays = read_table(result.paths["cases"], what="cases")
        return replace(result.settlement, cases=stays)
    finally:
        shutil.rmtree(root, ignore_errors=True)
