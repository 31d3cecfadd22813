"""Write a synthetic province to a directory as it is generated, shard by shard, in bounded memory.

The layout is :mod:`drgdip.core.province`'s: ``cases``, ``hospitals``, ``outpatient``,
``day_ward_visits`` and ``province.json``. With ``partition_rows`` the cases are a directory of
Parquet part files of at most that many rows, one directory per year
(``cases/year=2025/part-00000.parquet``); read back, they are the same rows in the same order as the
single cases file. Every file is written atomically; memory holds one shard of stays.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from drgdip.core.atomic import write_text_atomic
from drgdip.core.errors import UsageError
from drgdip.core.province import INFO_FILE, TABLE_NAMES
from drgdip.core.tables import (CSV_SUFFIXES, PARQUET_SUFFIXES, ROW_GROUP_ROWS, DatasetWriter, TableWriter,
                                write_table)
from drgdip.synth.province import SyntheticProvince

__all__ = ["SynthWritten", "write_synthetic_province", "PARTITION_KEYS"]

PARTITION_KEYS = ("year",)
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class SynthWritten:
    """What :func:`write_synthetic_province` wrote: the paths and the counts for the summary line."""

    paths: dict
    info: dict
    cases: int
    remote: int
    outpatient: int
    day_ward_visits: int
    hospitals: int


def write_synthetic_province(province: SyntheticProvince, out_dir, *, format: str = "parquet",
                             partition_rows: int | None = None) -> SynthWritten:
    """Generate ``province`` shard by shard into ``out_dir`` (see the module docstring).

    A table of another form left in ``out_dir`` by an earlier run (``cases.csv`` beside a new ``cases/``
    directory, ``hospitals.parquet`` beside a new ``hospitals.csv``) is removed, so that readers find the
    tables just written.
    """
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}", field="format")
    if partition_rows is not None:
        if format != "parquet":
            raise UsageError("--partition-rows writes Parquet part files: use --format parquet", field="partition-rows")
        if partition_rows < 1:
            raise UsageError(f"--partition-rows must be at least 1, got {partition_rows}", field="partition-rows")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("output exists and is not a directory", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    paths = {"hospitals": write_table(province.hospitals, out / f"hospitals.{format}")}
    if partition_rows is None:
        cases_writer = TableWriter(out / f"cases.{format}")
    else:
        parts = max(1, -(-province.n // partition_rows)) + len(province.years)
        cases_writer = DatasetWriter(out / "cases", max_rows=partition_rows, partition_by=PARTITION_KEYS,
                                     part_digits=max(5, len(str(parts))))
    writers = {"cases": cases_writer, "outpatient": TableWriter(out / f"outpatient.{format}"),
               "day_ward_visits": TableWriter(out / f"day_ward_visits.{format}")}
    cases = remote = outpatient = day_ward = 0
    try:
        for shard in province.shards():
            for name, writer in writers.items():
                frame = getattr(shard, name)
                # a row group at a time: the Arrow copy of a slice, not of the shard, is in memory
                for start in range(0, max(len(frame), 1), ROW_GROUP_ROWS):
                    writer.write(frame.iloc[start:start + ROW_GROUP_ROWS])
                del frame
            cases += len(shard.cases)
            remote += int((shard.cases["region"] != shard.cases["insured_region"]).sum())
            outpatient += len(shard.outpatient)
            day_ward += len(shard.day_ward_visits)
            del shard
        for name, writer in writers.items():
            paths[name] = writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    for name in TABLE_NAMES:
        _remove_other_forms(out, name, paths[name])
    paths["info"] = write_text_atomic(out / INFO_FILE, _info_text(province.info))
    return SynthWritten(paths={name: paths[name] for name in (*TABLE_NAMES, "info")}, info=province.info,
                        cases=cases, remote=remote, outpatient=outpatient, day_ward_visits=day_ward,
                        hospitals=len(province.hospitals))


def _info_text(info: dict) -> str:
    import json

    return json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _remove_other_forms(out: Path, name: str, kept: Path) -> None:
    """Remove the tables ``name`` of other forms than ``kept`` (readers would take a Parquet file first)."""
    for candidate in [out / f"{name}{suffix}" for suffix in PARQUET_SUFFIXES + CSV_SUFFIXES] + [out / name]:
        if candidate == kept:
            continue
        if candidate.is_dir():
            shutil.rmtree(candidate)
        elif candidate.is_file():
            candidate.unlink()
