"""``drgdip group --engine dask`` writes the local engine's output file byte for byte, for any partitions.

The clusters are module-scoped: one of two thread workers for the results (reached through --scheduler,
as a remote cluster is), one of two worker processes with nannies for losing a worker mid-run.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import dask
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.cli import main
from drgdip.core.cluster import ClusterError, ClusterSpec, dask_client, ordered_results
from drgdip.core.errors import UsageError
from drgdip.grouper import group_cases, group_dip, load_scheme
from tests.conftest import DEMO_SCHEME_DIR, NATIONAL_SCHEME_DIR, PUBLIC_CORPUS, REPO

DEMO_DIP = REPO / "data" / "demo" / "dip"
DEMO_CASES = REPO / "data" / "demo" / "cases.csv"
# 60,000 rows cut into 7 files of uneven sizes (one of a single row), in row groups of 3,000 rows
CUTS = (0, 1_000, 9_000, 9_001, 21_000, 40_000, 52_000, 60_000)
PART_ROW_GROUP = 3_000


_SCHEMES = {}


@pytest.fixture(autouse=True)
def scheme_loaded_once(monkeypatch):
    """Every run of this module loads a scheme folder once (loading is not what these tests are about)."""
    from drgdip.grouper import cli

    def load(path):
        if path not in _SCHEMES:
            _SCHEMES[path] = load_scheme(path)
        return _SCHEMES[path]

    monkeypatch.setattr(cli, "load_scheme", load)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The public corpus as one Parquet file (row groups of 10,000 rows) and as a directory of 7 uneven
    Parquet files."""
    root = tmp_path_factory.mktemp("dask_inputs")
    corpus = pd.read_csv(PUBLIC_CORPUS, dtype=str, keep_default_na=False)
    whole = root / "cases.parquet"
    corpus.to_parquet(whole, index=False, row_group_size=10_000)
    parts = root / "parts"
    parts.mkdir()
    for k, (start, stop) in enumerate(zip(CUTS[:-1], CUTS[1:])):
        corpus.iloc[start:stop].to_parquet(parts / f"part-{k}.parquet", index=False, row_group_size=PART_ROW_GROUP)
    return {"file": whole, "parts": parts, "corpus": corpus}


def group(input_path, output, *extra) -> int:
    return main(["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input", str(input_path), "--output", str(output),
                 "--no-progress", *map(str, extra)])


@pytest.fixture(scope="module")
def local_outputs(inputs, tmp_path_factory):
    """The local engine's output of the whole file: (batch rows, suffix) -> bytes."""
    root = tmp_path_factory.mktemp("dask_local")
    written = {}
    for batch_rows in (1 << 20, 25_000):
        for suffix in ("csv", "parquet"):
            output = root / f"local-{batch_rows}.{suffix}"
            assert group(inputs["file"], output, "--batch-rows", batch_rows) == 0
            written[batch_rows, suffix] = output.read_bytes()
    return written


LAYOUTS = {
    "1 file, 1 partition": ("file", ()),
    "1 file, 3 partitions": ("file", ("--partition-rows", 20_000)),
    "7 uneven files": ("parts", ()),
    "7 files, 11 uneven partitions": ("parts", ("--partition-rows", 7_000)),
}


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_same_file_as_local_engine(layout, suffix, inputs, local_outputs, scheduler, tmp_path, capsys):
    source, extra = LAYOUTS[layout]
    output = tmp_path / f"dask.{suffix}"
    assert group(inputs[source], output, "--engine", "dask", "--scheduler", scheduler, *extra) == 0
    assert output.read_bytes() == local_outputs[1 << 20, suffix]
    assert "grouped 60,000 cases: 628 distinct DRGs" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]   # no temporary file left


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_layout_gives_the_same_file(data, inputs, scheduler, tmp_path_factory):
    """Any cut of 6,000 cases into files, row groups, partitions and output batches: the local engine's file."""
    cases = inputs["corpus"].iloc[:6_000]
    cuts = sorted(data.draw(st.sets(st.integers(1, 5_999), max_size=4)))
    row_group = data.draw(st.integers(700, 3_000))   # smaller ones only make more tasks
    partition_rows = data.draw(st.integers(500, 7_000))
    batch_rows = data.draw(st.integers(500, 7_000))
    suffix = data.draw(st.sampled_from(["csv", "parquet"]))
    root = tmp_path_factory.mktemp("layout")
    whole, parts = root / "cases.parquet", root / "parts"
    cases.to_parquet(whole, index=False)
    parts.mkdir()
    for k, (start, stop) in enumerate(zip([0, *cuts], [*cuts, 6_000])):
        cases.iloc[start:stop].to_parquet(parts / f"part-{k}.parquet", index=False, row_group_size=row_group)
    assert group(whole, root / f"local.{suffix}", "--batch-rows", batch_rows) == 0
    assert group(parts, root / f"dask.{suffix}", "--batch-rows", batch_rows, "--engine", "dask", "--scheduler",
                 scheduler, "--partition-rows", partition_rows) == 0
    assert (root / f"dask.{suffix}").read_bytes() == (root / f"local.{suffix}").read_bytes()


def test_output_batches_across_partitions(inputs, local_outputs, scheduler, tmp_path):
    """Pieces of 7,000 rows from 7 files written in the local engine's batches of 25,000 rows."""
    output = tmp_path / "dask.parquet"
    assert group(inputs["parts"], output, "--engine", "dask", "--scheduler", scheduler,
                 "--partition-rows", 7_000, "--batch-rows", 25_000) == 0
    assert [pq.ParquetFile(output).metadata.row_group(k).num_rows for k in range(3)] == [25_000, 25_000, 10_000]
    assert output.read_bytes() == local_outputs[25_000, "parquet"]


def test_csv_input(scheduler, tmp_path):
    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    assert group(PUBLIC_CORPUS, local, "--batch-rows", 25_000) == 0
    assert group(PUBLIC_CORPUS, dask, "--batch-rows", 25_000, "--engine", "dask", "--scheduler", scheduler) == 0
    assert dask.read_bytes() == local.read_bytes()


def test_input_columns_and_dip(scheduler, tmp_path):
    """--keep-input-columns and --dip: the input's columns and the DIP columns as the local engine writes them."""
    cases = tmp_path / "cases.parquet"
    pd.read_csv(DEMO_CASES, dtype=str, keep_default_na=False).to_parquet(cases, index=False)
    options = ["--scheme", str(DEMO_SCHEME_DIR), "--input", str(cases), "--dip", str(DEMO_DIP),
               "--keep-input-columns", "--no-progress"]
    assert main(["group", *options, "--output", str(tmp_path / "local.parquet")]) == 0
    assert main(["group", *options, "--output", str(tmp_path / "dask.parquet"), "--engine", "dask",
                 "--scheduler", scheduler, "--partition-rows", "50"]) == 0
    assert (tmp_path / "dask.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()
    assert {"hospital_id", "dip_group", "drg"} <= set(pq.read_schema(tmp_path / "dask.parquet").names)


def test_python_api_takes_a_dask_frame(inputs, scheduler, national_scheme):
    """group_cases / group_dip of a Dask DataFrame are lazy Dask DataFrames of the local rows."""
    corpus = inputs["corpus"]
    with distributed.Client(scheduler, set_as_default=False) as client:
        lazy = group_cases(dd.read_parquet(inputs["parts"]), national_scheme)
        assert isinstance(lazy, dd.DataFrame)
        got = client.compute(lazy).result().reset_index(drop=True)
        assert_same_frame(got, group_cases(corpus, national_scheme))
        assert got["drg"].astype(str).tolist() == corpus["exp_drg"].tolist()

        demo = pd.read_csv(DEMO_CASES, dtype=str, keep_default_na=False)
        lazy_dip = group_dip(dd.from_pandas(demo, npartitions=3), DEMO_DIP)
        assert isinstance(lazy_dip, dd.DataFrame)
        assert_same_frame(client.compute(lazy_dip).result().reset_index(drop=True), group_dip(demo, DEMO_DIP))


def assert_same_frame(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, dtypes (categories included) and values (assert_frame_equal takes seconds on categoricals)."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert got.equals(expected)


def test_error_names_the_file_and_its_row(inputs, scheduler, tmp_path, capsys):
    """An unusable column in the third file of a directory: the directory stops with the local engine's
    message; the file alone, in pieces of 60 rows and row groups of 50 (the first piece has no value to
    point at), with the local engine's message for that file (its row 101, where the first value is);
    no output is left."""
    parts = tmp_path / "parts"
    parts.mkdir()
    corpus = inputs["corpus"].head(400)
    corpus.iloc[:200].to_parquet(parts / "part-0.parquet", index=False)
    corpus.iloc[200:250].to_parquet(parts / "part-1.parquet", index=False)
    bad = corpus.iloc[250:].copy()
    bad["dx"] = pd.array([None] * 100 + list(range(50)), dtype="Int64")
    bad.to_parquet(parts / "part-2.parquet", index=False, row_group_size=50)
    assert group(parts / "part-2.parquet", tmp_path / "local.csv") == 2
    assert "part-2.parquet, row 101, field 'dx': expected text or a list of codes, got int64" in \
        capsys.readouterr().err
    assert group(parts, tmp_path / "local.csv") == 2
    local_message = capsys.readouterr().err
    assert "parts: table: the part files' column types cannot be unified" in local_message
    output = tmp_path / "out" / "grouped.csv"
    output.parent.mkdir()
    assert group(parts, output, "--engine", "dask", "--scheduler", scheduler, "--partition-rows", 60) == 2
    assert capsys.readouterr().err.splitlines()[-1] == local_message.strip()
    assert list(output.parent.iterdir()) == []
    assert group(parts / "part-2.parquet", output, "--engine", "dask", "--scheduler", scheduler,
                 "--partition-rows", 60) == 2   # one file: its row as the file shows it, as locally
    assert "part-2.parquet, row 101, field 'dx': expected text or a list of codes, got int64" in \
        capsys.readouterr().err.splitlines()[-1]
    assert list(output.parent.iterdir()) == []


def test_missing_column_names_the_file(inputs, scheduler, tmp_path, capsys):
    parts = tmp_path / "parts"
    parts.mkdir()
    inputs["corpus"].head(10).to_parquet(parts / "a.parquet", index=False)
    inputs["corpus"].head(10).drop(columns="age").to_parquet(parts / "b.parquet", index=False)
    assert group(parts, tmp_path / "local.csv") == 2
    local_message = capsys.readouterr().err
    assert group(parts, tmp_path / "out.csv", "--engine", "dask", "--scheduler", scheduler) == 2
    err = capsys.readouterr().err
    assert "parts/b.parquet: table: " in err and err.splitlines()[-1] == local_message.strip()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "local.csv").exists()


@pytest.mark.parametrize("options, message", [
    (["--workers", "2"], "--workers: only with --engine dask"),
    (["--partition-rows", "10"], "--partition-rows only applies with --engine dask"),
    (["--engine", "dask", "--scheduler", "somewhere"], "--scheduler 'somewhere': expected host:port"),
    (["--engine", "dask", "--scheduler", "http://h:1"], "unknown protocol 'http'"),
    (["--engine", "dask", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["--engine", "dask", "--memory-limit", "plenty"], "--memory-limit 'plenty': expected a size such as 4GB"),
    (["--engine", "dask", "--scheduler", "h:1", "--memory-limit", "4GB"], "--memory-limit: only for the local"),
])
def test_cluster_options_are_checked(options, message, tmp_path, capsys):
    assert group(DEMO_CASES, tmp_path / "out.csv", *options) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unreachable_scheduler():
    with socket_port() as port:
        start = time.perf_counter()
        with pytest.raises(UsageError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 0.5 s"):
            with dask_client(ClusterSpec(scheduler=f"tcp://127.0.0.1:{port}", timeout=0.5)):
                pass
        assert time.perf_counter() - start < 10


class socket_port:
    """A local port nothing listens on (bound, not listening, while in use)."""

    def __enter__(self) -> int:
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        return self.socket.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.socket.close()


def test_distributed_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"pip install 'drgdip\[dask\]'"):
        with dask_client(ClusterSpec(workers=1, processes=False)):
            pass


def test_client_closes_the_cluster_it_started():
    with pytest.raises(RuntimeError, match="inside"):
        with dask_client(ClusterSpec(workers=1, processes=False)) as client:
            cluster = client.cluster
            assert list(ordered_results(client, pow, [1, 2, 3, 4], 2, window=2)) == [1, 4, 9, 16]
            raise RuntimeError("inside")
    assert client.status == "closed"
    assert cluster.status.name == "closed"


@pytest.fixture(scope="module")
def process_cluster():
    """Two worker processes under nannies, which restart a worker that dies; a task whose worker dies
    twice fails."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as cluster:
            yield cluster


def test_worker_killed_mid_run(inputs, local_outputs, process_cluster, tmp_path, capsys):
    """A worker process killed while the pieces are being grouped: Dask groups its pieces again and the
    output is the local engine's; at no time is a partial file under the output's name."""
    output = tmp_path / "dask.parquet"
    with distributed.Client(process_cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        statuses = []
        run = threading.Thread(target=lambda: statuses.append(
            group(inputs["parts"], output, "--engine", "dask", "--scheduler", process_cluster.scheduler_address,
                  "--partition-rows", 4_000)))
        run.start()
        busy, deadline = [], time.monotonic() + 60
        while not busy and time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items() if tasks and worker in pids]
            time.sleep(0.005)
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed_mid_run = run.is_alive()
        while run.is_alive():
            assert not output.exists() or output.read_bytes() == local_outputs[1 << 20, "parquet"]
            run.join(0.01)
    assert killed_mid_run
    assert statuses == [0], capsys.readouterr().err
    assert output.read_bytes() == local_outputs[1 << 20, "parquet"]
    with pytest.raises(ProcessLookupError):
        os.kill(pids[busy[0]], 0)


def test_worker_deaths_beyond_retries_fail_clearly(process_cluster, monkeypatch):
    monkeypatch.setattr(process_cluster.scheduler, "allowed_failures", 0)   # the first death is too many
    with distributed.Client(process_cluster, set_as_default=False) as client:
        with pytest.raises(ClusterError, match="worker died too often"):
            list(ordered_results(client, _die, [1], window=1))


def _die(_):
    os._exit(1)


def test_partition_pieces_cover_each_file_once(inputs):
    """Pieces of whole row groups, in file order, each of at least --partition-rows but the last of a file."""
    from drgdip.grouper.on_cluster import plan_pieces

    pieces = list(plan_pieces(inputs["parts"], 7_000))
    assert [Path(p.file).name for p in pieces] == sorted(Path(p.file).name for p in pieces)
    assert [len(p) for p in pieces] == [1_000, 8_000, 1, 9_000, 2_999, 9_000, 9_000, 1_000, 9_000, 3_000, 8_000]
    for k, size in enumerate(np.diff(CUTS)):
        mine = [p for p in pieces if Path(p.file).name == f"part-{k}.parquet"]
        assert mine[0].start == 0 and mine[-1].stop == size
        assert all(a.stop == b.start and a.stop % PART_ROW_GROUP == 0 for a, b in zip(mine, mine[1:]))
        assert all(p.first_row == p.start + 1 for p in mine)
    assert [len(p) for p in plan_pieces(inputs["file"], 20_000)] == [20_000] * 3
    with pytest.raises(UsageError, match="--partition-rows must be at least 1"):
        list(plan_pieces(inputs["parts"], 0))
