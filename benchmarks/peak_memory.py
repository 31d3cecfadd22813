"""Peak memory of ``drgdip group`` on N resampled cases (default 10M), Parquet in and out.

    python benchmarks/peak_memory.py 10000000

Writes the input once (in a temporary folder), then runs the CLI in a child process and reports
its wall time and peak resident memory (ru_maxrss of the child).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.conftest import NATIONAL_SCHEME_DIR, resample_corpus  # noqa: E402


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cases.parquet"
        chunk = 1_000_000
        writer = None
        for start in range(0, n, chunk):
            part = resample_corpus(min(chunk, n - start), seed=start)
            part["case_id"] = "C" + (part.index + start).astype(str).str.zfill(9)
            table = pa.Table.from_pandas(part, preserve_index=False)
            writer = writer or pq.ParquetWriter(source, table.schema)
            writer.write_table(table, row_group_size=chunk)
        writer.close()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "drgdip.cli", "group", "--scheme",
                        str(NATIONAL_SCHEME_DIR), "--input", str(source), "--output",
                        str(Path(folder) / "grouped.parquet")], check=True)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{n:,} cases: {wall:.1f} s wall including start-up, {n / wall:,.0f} cases/s, "
              f"peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
