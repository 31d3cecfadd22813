"""Where Dask work runs: a ``LocalCluster`` started for one run, or a scheduler already running.

Every command with ``--engine dask`` takes the same options (:func:`add_cluster_arguments`) and opens
its client with :func:`dask_client`, which closes whatever it started, also when the run fails.
:func:`ordered_results` runs one task per piece of input with a bounded number in flight and hands
the results back in input order, so that a command can stream them to its output file.

``dask.distributed`` is an optional dependency (``pip install 'drgdip[dask]'``); it is imported only
when a cluster is asked for, and its absence is a :class:`~drgdip.core.errors.UsageError` naming the extra.
"""

from __future__ import annotations

import logging
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from drgdip.core.errors import UsageError

__all__ = ["DASK_EXTRA", "ClusterError", "ClusterSpec", "add_cluster_arguments", "cluster_spec", "dask_client",
           "describe", "is_dask_frame", "memory_limit_bytes", "ordered_results"]

DASK_EXTRA = "pip install 'drgdip[dask]'"
ENGINES = ("local", "dask")
CONNECT_TIMEOUT = 10.0     # seconds to reach a scheduler given by address
PROTOCOLS = ("tcp", "tls")


class ClusterError(UsageError):
    """The cluster could not finish a run: workers died too often (out of memory, killed) or the scheduler
    went away. Nothing is wrong with the input; the message says what happened."""


@dataclass(frozen=True)
class ClusterSpec:
    """A scheduler to connect to (``scheduler``), else a ``LocalCluster`` of ``workers`` processes with
    ``threads_per_worker`` threads and ``memory_limit`` each (``None``: Dask's defaults, which share
    the machine's cores and memory among the workers). ``processes=False`` runs the workers as threads
    of this process (fast to start; for tests and small inputs)."""

    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | None = None
    processes: bool = True
    timeout: float = CONNECT_TIMEOUT

    def check(self) -> None:
        """Raise :class:`UsageError` for options that cannot work, before anything starts."""
        if self.scheduler is not None:
            _check_address(self.scheduler)
            local_only = [name for name, value in (("--workers", self.workers),
                                                   ("--threads-per-worker", self.threads_per_worker),
                                                   ("--memory-limit", self.memory_limit)) if value is not None]
            if local_only:
                raise UsageError(f"{', '.join(local_only)}: only for the local cluster; with --scheduler the "
                                 "running cluster's workers are used as they are")
        for name, value in (("--workers", self.workers), ("--threads-per-worker", self.threads_per_worker)):
            if value is not None and value < 1:
                raise UsageError(f"{name} must be at least 1, got {value}")
        if self.memory_limit is not None:
            memory_limit_bytes(self.memory_limit)


def _check_address(address: str) -> None:
    protocol, _, location = address.rpartition("://")
    protocol = protocol or "tcp"
    if protocol not in PROTOCOLS:
        raise UsageError(f"--scheduler {address!r}: unknown protocol {protocol!r} "
                         f"(give host:port, tcp://host:port or tls://host:port)")
    host, _, port = location.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--scheduler {address!r}: expected host:port (e.g. tcp://10.0.0.5:8786)")


def memory_limit_bytes(limit: str) -> int | None:
    """Bytes of a memory limit such as ``4GB``, ``500MiB`` or ``auto`` (None: Dask shares the memory)."""
    if str(limit).strip().lower() == "auto":
        return None
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(str(limit))
    except (ValueError, TypeError):
        value = None
    if not value or value <= 0:
        raise UsageError(f"--memory-limit {limit!r}: expected a size such as 4GB, 500MiB or auto")
    return int(value)


def add_cluster_arguments(parser) -> None:
    """``--engine {local,dask}``, ``--scheduler``, ``--workers``, ``--threads-per-worker``, ``--memory-limit``."""
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this process (default); dask: a Dask cluster, a local one unless "
                             f"--scheduler is given (needs {DASK_EXTRA})")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --engine dask: connect to this running Dask scheduler (tcp://host:8786)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="with --engine dask: worker processes of the local cluster (default: one per core)")
    parser.add_argument("--threads-per-worker", type=int, metavar="N",
                        help="with --engine dask: threads of each local worker (default: cores / workers)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="with --engine dask: memory of each local worker, e.g. 4GB (default: the "
                             "machine's memory shared among the workers); a worker above it is restarted")


def cluster_spec(args) -> ClusterSpec:
    """The cluster the parsed ``args`` ask for; cluster options without ``--engine dask`` are an error."""
    given = [f"--{name.replace('_', '-')}" for name in ("scheduler", "workers", "threads_per_worker", "memory_limit")
             if getattr(args, name, None) is not None]
    if getattr(args, "engine", "local") != "dask" and given:
        raise UsageError(f"{', '.join(given)}: only with --engine dask")
    spec = ClusterSpec(scheduler=args.scheduler, workers=args.workers, threads_per_worker=args.threads_per_worker,
                       memory_limit=args.memory_limit)
    spec.check()
    return spec


def is_dask_frame(frame) -> bool:
    """Whether ``frame`` is a Dask DataFrame (told without importing Dask)."""
    return type(frame).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(frame, "map_partitions")


def _import_distributed():
    try:
        import distributed
    except ImportError as error:
        raise UsageError(f"the Dask engine needs dask.distributed, which is not installed ({error}); "
                         f"install it with {DASK_EXTRA}") from None
    return distributed


@contextmanager
def dask_client(spec: ClusterSpec | None = None) -> Iterator:
    """A ``distributed.Client`` for ``spec``; on leaving, the client and any cluster started for it are closed.

    A scheduler that cannot be reached within ``spec.timeout`` seconds is a :class:`UsageError`.
    """
    spec = spec or ClusterSpec()
    spec.check()
    distributed = _import_distributed()
    cluster = None
    if spec.scheduler is not None:
        try:
            client = distributed.Client(spec.scheduler, timeout=spec.timeout, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise UsageError(f"cannot reach the Dask scheduler at {spec.scheduler} within {spec.timeout:g} s "
                             f"({error}); is it running, and is the address right?") from None
    else:
        memory = None if spec.memory_limit is None else memory_limit_bytes(spec.memory_limit)
        try:
            cluster = distributed.LocalCluster(
                n_workers=spec.workers, threads_per_worker=spec.threads_per_worker,
                memory_limit="auto" if memory is None else memory, processes=spec.processes,
                dashboard_address=None, silence_logs=logging.ERROR)
        except (OSError, RuntimeError, TimeoutError) as error:
            raise UsageError(f"cannot start a local Dask cluster: {error}") from None
        try:
            client = distributed.Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def describe(client) -> str:
    """One line on the cluster: workers, threads, memory per worker and the scheduler's address."""
    from dask.utils import format_bytes

    workers = list(client.scheduler_info(n_workers=-1)["workers"].values())
    threads = sum(w.get("nthreads", 0) for w in workers)
    limits = {w.get("memory_limit") or 0 for w in workers}
    memory = f"{format_bytes(limits.pop())} per worker" if len(limits) == 1 and 0 not in limits else "no memory limit"
    return f"{len(workers)} Dask worker(s), {threads} thread(s), {memory}, scheduler {client.scheduler.address}"


def ordered_results(client, function: Callable, items: Iterable, *args, window: int | None = None,
                    **kwargs) -> Iterator:
    """``function(item, *args, **kwargs)`` for each item on the cluster, results yielded in the items' order.

    At most ``window`` tasks are in flight or waiting to be taken (default: twice the cluster's threads),
    so memory stays bounded however many items there are. A task that raises stops the run with its
    error (tasks still pending are cancelled). ``function`` must be pure: a task lost with its worker is
    run again by Dask; one whose workers die too often (``distributed.scheduler.allowed-failures``), or a
    scheduler that goes away, is a :class:`ClusterError`.
    """
    distributed = _import_distributed()
    if window is None:
        window = max(2, 2 * sum(client.nthreads().values()))
    # pure=False: task keys are not hashed from the items (hashing a piece's rows costs more than grouping them)
    pending: deque = deque()
    items = iter(items)
    try:
        for item in items:
            pending.append(client.submit(function, item, *args, pure=False, **kwargs))
            if len(pending) >= window:
                break
        while pending:
            future = pending.popleft()
            try:
                result = future.result()
            except distributed.KilledWorker as error:
                raise ClusterError(f"Dask gave up on a task after its worker died too often (out of memory, "
                                   f"crashed or killed; --memory-limit sets the memory of a local worker): "
                                   f"{error}") from None
            except (distributed.CancelledError, distributed.client.FutureCancelledError) as error:
                raise ClusterError(f"a Dask task was cancelled, the scheduler or client went away: {error}") from None
            except ImportError as error:
                raise ClusterError(f"a Dask worker cannot import what the task needs ({error}): install drgdip, "
                                   "the same version as here, where the workers run") from None
            future.release()
            for item in items:
                pending.append(client.submit(function, item, *args, pure=False, **kwargs))
                break
            yield result
    finally:
        if pending:
            client.cancel(list(pending))
