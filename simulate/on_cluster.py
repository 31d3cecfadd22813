"""Scenarios and Monte Carlo draws as tasks on a Dask cluster, with the tables of a run in one process.

Each task settles one scenario, or one batch of consecutive draws, exactly as
:func:`drgdip.simulate.engine.simulate` does in one process (:func:`~drgdip.simulate.settlements.settle_named`,
:func:`~drgdip.simulate.settlements.draw_outcome`). A draw depends on the seed and its number only, and every
settlement is exact, so the results do not depend on which worker settles what, in which order, or on
a task run again after its worker was lost. Each worker prepares the province once per run, from what
the client prepared it from (``PreparedProvince.remake``), and keeps it for the run's other tasks; its
tasks run one at a time on it (the numba kernels use the worker's threads), since a preparation keeps
the last policy's points for the next settlement.
"""

from __future__ import annotations

import threading
import uuid
from typing import Callable

from drgdip.budget.pipeline import PreparedProvince, prepare_province
from drgdip.budget.policy import Policy
from drgdip.simulate.settlements import DrawUnits, draw_outcome, settle_named
from drgdip.simulate.scenarios import MonteCarlo

__all__ = ["settle_on_cluster", "DRAWS_PER_TASK"]

DRAWS_PER_TASK = 8

_LOCK = threading.Lock()
_PREPARED: dict = {}   # run token → (prepared province, its draw units), on each worker


def settle_on_cluster(client, prepared: PreparedProvince, base_policy: Policy, named: list, monte_carlo: MonteCarlo | None,
                      progress: Callable[[int, int], None] | None, total: int) -> tuple[list, list | None]:
    """(the settlement of each (name, overrides) of ``named``, the outcome of each Monte Carlo draw in
    draw order (None without a Monte Carlo)), settled on ``client``'s workers."""
    from distributed import as_completed

    token = uuid.uuid4().hex
    [source] = client.scatter([prepared.remake], broadcast=True, hash=False)
    common = (token, source, prepared.policy, base_policy)
    futures = [client.submit(_settle_scenario, *common, overrides, pure=False) for _, overrides in named]
    settlements = {future.key: 1 for future in futures}
    if monte_carlo is not None:
        for start in range(0, monte_carlo.draws, DRAWS_PER_TASK):
            draws = list(range(start, min(start + DRAWS_PER_TASK, monte_carlo.draws)))
            futures.append(client.submit(_settle_draws, *common, monte_carlo, draws, pure=False))
            settlements[futures[-1].key] = len(draws)
    done = 0
    for future in as_completed(futures, loop=client.loop):
        future.result()   # a task's error is raised here, with its own message
        done += settlements[future.key]
        if progress:
            progress(done, total)
    results = client.gather(futures)
    client.cancel(futures + [source])
    client.run(_forget, token)
    settled = [(name, result) for (name, _), result in zip(named, results[:len(named)])]
    outcomes = [outcome for batch in results[len(named):] for outcome in batch] if monte_carlo is not None else None
    return settled, outcomes


def _prepared(token: str, remake: dict, policy: Policy) -> tuple[PreparedProvince, DrawUnits | None]:
    """This worker's preparation for run ``token`` (made on the first task of the run); called under _LOCK."""
    entry = _PREPARED.get(token)
    if entry is None:
        _PREPARED.clear()   # one run's province at a time
        entry = _PREPARED[token] = [prepare_province(**remake, policy=policy), None]
    return entry


def _settle_scenario(token, remake, preparation_policy, base_policy, overrides):
    with _LOCK:
        prepared, _ = _prepared(token, remake, preparation_policy)
        result = settle_named(prepared, base_policy, overrides)
    return result


def _settle_draws(token, remake, preparation_policy, base_policy, monte_carlo, draws):
    with _LOCK:
        entry = _prepared(token, remake, preparation_policy)
        if entry[1] is None:
            entry[1] = DrawUnits.of(entry[0])
        return [draw_outcome(entry[0], base_policy, monte_carlo, draw, entry[1]) for draw in draws]


def _forget(token):
    """Drop run ``token``'s preparation on a worker (run on every worker at the end of a run)."""
    with _LOCK:
        _PREPARED.pop(token, None)
