"""Write and read a synthetic province directory (Parquet or CSV), byte-identical across runs.

Layout: ``cases``, ``hospitals``, ``outpatient`` and ``day_ward_visits`` as ``.parquet`` or ``.csv``
plus ``province.json`` (seed, years, regions, parameters, notes). Parquet files are written with
fixed options (zstd, one row group per 1M rows, statistics, no timestamps in the metadata); the
same province gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drgdip.core.errors import UsageError
from drgdip.synth.province import (CASE_DTYPES, DAY_WARD_VISIT_DTYPES, HOSPITAL_DTYPES, OUTPATIENT_DTYPES,
                            Province)

TABLES = {"cases": CASE_DTYPES, "hospitals": HOSPITAL_DTYPES, "outpatient": OUTPATIENT_DTYPES,
          "day_ward_visits": DAY_WARD_VISIT_DTYPES}
FORMATS = ("parquet", "csv")
ROW_GROUP_ROWS = 1 << 20
INFO_FILE = "province.json"


def write_province(province: Province, out_dir, format: str = "parquet") -> dict[str, Path]:
    """Write the province's tables into ``out_dir`` (created if needed); returns the file paths."""
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}", field="format")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("output exists and is not a directory", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in TABLES:
        frame = getattr(province, name)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        path = out / f"{name}.{format}"
        if format == "parquet":
            pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_ROWS,
                           use_dictionary=True, write_statistics=True)
        else:
            table = table.replace_schema_metadata(None)
            pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(
                include_header=True, quoting_style="needed"))
        paths[name] = path
    info_path = out / INFO_FILE
    info_path.write_text(json.dumps(province.info, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                         encoding="utf-8")
    paths["info"] = info_path
    return paths


def read_province(in_dir) -> Province:
    """Read a province directory written by :func:`write_province` (Parquet preferred over CSV)."""
    base = Path(in_dir)
    if not base.is_dir():
        raise UsageError("province directory not found", file=str(base))
    frames = {}
    for name, dtypes in TABLES.items():
        parquet, csv = base / f"{name}.parquet", base / f"{name}.csv"
        if parquet.is_file():
            frame = pd.read_parquet(parquet)
        elif csv.is_file():
            frame = _read_csv(csv, dtypes)
        else:
            raise UsageError(f"missing table {name} (.parquet or .csv)", file=str(base))
        missing = [c for c in dtypes if c not in frame.columns]
        if missing:
            raise UsageError(f"missing column(s) {', '.join(missing)}", file=str(parquet if
                             parquet.is_file() else csv), row=1, field=missing[0])
        frames[name] = frame.astype({c: d for c, d in dtypes.items()
                                     if str(frame[c].dtype) != d})
    info_path = base / INFO_FILE
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    return Province(info=info, **frames)


def _read_csv(path: Path, dtypes: dict) -> pd.DataFrame:
    times = [c for c, d in dtypes.items() if d.startswith("datetime")]
    plain = {c: d for c, d in dtypes.items() if c not in times}
    try:
        frame = pd.read_csv(path, dtype=plain, keep_default_na=False, na_values=[""],
                            parse_dates=times)
    except (ValueError, TypeError) as error:
        raise UsageError(f"cannot be read with the province column types ({error})", file=str(path)) from None
    for column in ("dx", "proc"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("")
    return frame
