"""What a change of policy or case mix does to each hospital: scenarios, sweeps and Monte Carlo draws,
each an exact settlement of one prepared province.

Every scenario and every draw is :func:`drgdip.budget.pipeline.settle_prepared` of the prepared
province under the scenario's policy (for a draw, with the settlement year's stays perturbed by
:mod:`drgdip.simulate.casemix`), its money shared down to the hospitals (``per_stay=False``): its
per-hospital payments are what ``drgdip settle`` gives with that policy on that province, to the fen.
A draw with case mix is settled from the prepared settlement year's arrays, taken at the rows its
stays come from (:mod:`drgdip.budget.drawn`), without making the drawn province's frame; the
settlement is the same, and where that cannot be shown the drawn province is settled whole. The
baseline is the base policy itself, scenario ``baseline``; every change is measured against it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numba
import numpy as np
import pandas as pd

from drgdip.budget.pipeline import PreparedProvince
from drgdip.budget.policy import Policy
from drgdip.budget.settle import Settlement
from drgdip.simulate.on_cluster import settle_on_cluster
from drgdip.simulate.scenarios import BASELINE, MonteCarlo, Scenario, Sweep
from drgdip.simulate.settlements import (HOSPITAL_KEY, DrawUnits, draw_outcome, draw_province, hospital_payments,
                                         settle_named)

__all__ = ["SimulationResult", "simulate", "default_draw_threads", "draw_province", "draw_outcome", "settle_named",
           "DrawUnits", "HOSPITAL_KEY", "QUANTILES"]

QUANTILES = (0.05, 0.50, 0.95)


@dataclass(frozen=True)
class SimulationResult:
    """The tables of a simulation.

    scenarios              one row per scenario (baseline first): budget, money paid, reserve, hospitals
                           gaining / losing against the baseline, money shifted between hospital levels,
                           the effective point value of every pool (``point_value:<pool>``)
    hospitals              scenario × hospital: cases, points, CMI, final payment, change against the
                           baseline in yuan and %, rank of the change (1: the largest gain)
    monte_carlo_hospitals  per hospital of the baseline: mean and P5 / P50 / P95 of the final payment and
                           of the gain against fee-for-service, probability of a loss against
                           fee-for-service and of getting at least a fen less than in the baseline (a
                           hospital left without stays in a draw counts as paid nothing, its gain 0);
                           empty without a Monte Carlo
    monte_carlo_pools      per pool: mean, sd and P5 / P50 / P95 of the settlement and effective point value
    """

    scenarios: pd.DataFrame
    hospitals: pd.DataFrame
    monte_carlo_hospitals: pd.DataFrame
    monte_carlo_pools: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"scenarios": self.scenarios, "hospitals": self.hospitals,
                "monte_carlo_hospitals": self.monte_carlo_hospitals, "monte_carlo_pools": self.monte_carlo_pools}


def simulate(prepared: PreparedProvince, base_policy: Policy, *, scenarios: Iterable[Scenario] = (),
             sweeps: Iterable[Sweep] = (), monte_carlo: MonteCarlo | None = None,
             progress: Callable[[int, int], None] | None = None, client=None,
             draw_threads: int | None = None) -> SimulationResult:
    """Settle the baseline, every scenario and sweep value, and every Monte Carlo draw of ``prepared``.

    ``progress(done, total)`` is called after each settlement. ``client``: a ``dask.distributed.Client``
    whose workers run the settlements as tasks, each worker preparing the province once
    (:mod:`drgdip.simulate.on_cluster`); the tables are the same as without it. ``draw_threads``:
    threads that settle Monte Carlo draws side by side (default :func:`default_draw_threads`); the
    tables are the same with any number.
    """
    sweeps = tuple(sweeps)
    named = [(BASELINE, {})] + [(s.name, s.overrides) for s in scenarios] + [
        (s.name, s.overrides) for sweep in sweeps for s in sweep.scenarios()]
    sweep_of = {s.name: (sweep.key, value) for sweep in sweeps for s, value in zip(sweep.scenarios(), sweep.values)}
    total = len(named) + (monte_carlo.draws if monte_carlo is not None else 0)
    if client is not None:
        settled, outcomes = settle_on_cluster(client, prepared, base_policy, named, monte_carlo, progress, total)
    else:
        settled = []
        for name, overrides in named:
            settled.append((name, settle_named(prepared, base_policy, overrides)))
            if progress:
                progress(len(settled), total)
        outcomes = None
        if monte_carlo is not None:
            def done(draws: int) -> None:
                if progress:
                    progress(len(named) + draws, total)

            threads = draw_threads if draw_threads is not None else default_draw_threads()
            outcomes = _draw_outcomes(prepared, base_policy, monte_carlo, max(int(threads), 1), done)
    baseline = settled[0][1]
    base = hospital_payments(baseline)
    tables, rows = [], []
    for name, result in settled:
        table = _hospital_rows(name, hospital_payments(result), base)
        tables.append(table)
        rows.append(_scenario_row(name, result, table, sweep_of.get(name)))
    hospitals = pd.concat(tables, ignore_index=True)
    summary = pd.DataFrame(rows)
    mc_hospitals, mc_pools = _empty_monte_carlo()
    if monte_carlo is not None:
        mc_hospitals, mc_pools = _monte_carlo(base, outcomes, monte_carlo.draws)
    return SimulationResult(scenarios=summary, hospitals=hospitals, monte_carlo_hospitals=mc_hospitals,
                            monte_carlo_pools=mc_pools)


# ------------------------------------------------------------------------------------------- scenarios

def _hospital_rows(name: str, mine: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """scenario × hospital rows (``mine``, :func:`_payments`): payment and its change against the
    baseline's ``base``."""
    before = base["final_payment"].reindex(mine.index)
    change = (mine["final_payment"] - before.fillna(0.0)).round(2)
    frame = pd.DataFrame({
        "scenario": name, "level": mine["level"], "cases": mine["cases"], "points": mine["points"],
        "cmi": mine["cmi"], "final_payment": mine["final_payment"], "gain_vs_ffs": mine["gain_vs_ffs"],
        "change": change,
        "change_pct": np.where(before.to_numpy() > 0, change.to_numpy() / before.to_numpy() * 100.0, np.nan),
    }, index=mine.index).reset_index()
    order = np.lexsort((frame["hospital_id"].to_numpy(), frame["area"].to_numpy(), -frame["change"].to_numpy()))
    frame["rank"] = 0
    frame.loc[frame.index[order], "rank"] = np.arange(1, len(frame) + 1)
    return frame[["scenario", "area", "hospital_id", "level", "cases", "points", "cmi", "final_payment",
                  "gain_vs_ffs", "change", "change_pct", "rank"]]


def _scenario_row(name: str, result: Settlement, hospitals: pd.DataFrame, swept) -> dict:
    """One row of the ``scenarios`` table (``hospitals``: the scenario's rows of :func:`_hospital_rows`)."""
    summary = result.summary
    change = hospitals["change"]
    row = {
        "scenario": name,
        "kind": "baseline" if name == BASELINE else ("sweep" if swept else "scenario"),
        "key": swept[0] if swept else "",
        "value": str(swept[1]) if swept else "",
        "budget_total": round(float(summary["budget_total"].sum()), 2),
        "final_payments": round(float(summary["final_payments"].sum()), 2),
        "reserve_end": round(float(summary["reserve_end"].sum()), 2),
        "hospitals_gaining": int((change > 0).sum()),
        "hospitals_losing": int((change < 0).sum()),
    }
    levels = hospitals["level"].fillna(0).astype(int)
    for level in sorted(set(levels)):
        row[f"shift_level_{level}" if level else "shift_level_unknown"] = round(float(change[levels == level].sum()), 2)
    for pool, value in zip(result.pools["pool"].astype(str), result.pools["effective_point_value"]):
        row[f"point_value:{pool}"] = float(value)
    return row


# ------------------------------------------------------------------------------------------ Monte Carlo

def default_draw_threads() -> int:
    """Threads that settle Monte Carlo draws side by side: numba's threads of the calling thread, when
    its threading layer lets kernels start from several threads at once (omp, tbb); else one."""
    threads = numba.get_num_threads()
    if threads <= 1:
        return 1
    numba.set_num_threads(threads)   # starts the threading layer, so that it can be named
    return threads if numba.threading_layer() in ("omp", "tbb") else 1


def _draw_outcomes(prepared: PreparedProvince, base_policy: Policy, monte_carlo: MonteCarlo, threads: int,
                   done: Callable[[int], None]) -> list:
    """The :func:`draw_outcome` of every draw, in draw order; ``done(k)`` after the first ``k``.

    The first draw runs alone (it works out what every draw shares); the others on ``threads``
    threads, each running its kernels on one thread: a draw's work is too small to share out, and
    two draws at once keep both cores busy while one of them holds the interpreter.
    """
    units = DrawUnits.of(prepared)
    outcomes = []
    for draw in range(min(monte_carlo.draws, 1 if threads > 1 else monte_carlo.draws)):
        outcomes.append(draw_outcome(prepared, base_policy, monte_carlo, draw, units))
        done(len(outcomes))
    if len(outcomes) == monte_carlo.draws:
        return outcomes

    def one(draw: int):
        numba.set_num_threads(1)   # of this thread only
        return draw_outcome(prepared, base_policy, monte_carlo, draw, units)

    with ThreadPoolExecutor(threads) as pool:
        for outcome in pool.map(one, range(len(outcomes), monte_carlo.draws)):
            outcomes.append(outcome)
            done(len(outcomes))
    return outcomes


def _monte_carlo(base: pd.DataFrame, outcomes: list, draws: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The payments per hospital and the point values per pool over the draws' outcomes, in draw order."""
    payment = np.zeros((draws, len(base)))
    gain = np.zeros((draws, len(base)))
    pool_values: dict[str, list] = {}
    for draw, (payments, pools) in enumerate(outcomes):
        mine = payments.reindex(base.index)
        payment[draw] = mine["final_payment"].fillna(0.0).to_numpy()
        gain[draw] = mine["gain_vs_ffs"].fillna(0.0).to_numpy()
        for pool, settlement_value, effective in pools:
            pool_values.setdefault(pool, []).append((draw, settlement_value, effective))
    return _hospital_distribution(base, payment, gain), _pool_distribution(pool_values, draws)


def _quantile_columns(prefix: str, values: np.ndarray) -> dict[str, np.ndarray]:
    quantiles = np.quantile(values, QUANTILES, axis=0)
    out = {f"{prefix}_mean": values.mean(axis=0)}
    out.update({f"{prefix}_p{round(q * 100)}": quantiles[i] for i, q in enumerate(QUANTILES)})
    return out


def _hospital_distribution(base: pd.DataFrame, payment: np.ndarray, gain: np.ndarray) -> pd.DataFrame:
    below_baseline = payment < base["final_payment"].to_numpy() - 0.005   # at least a fen less
    frame = pd.DataFrame({"level": base["level"].to_numpy(), "baseline_payment": base["final_payment"].to_numpy(),
                          **_quantile_columns("payment", payment), **_quantile_columns("gain_vs_ffs", gain),
                          "probability_of_loss": (gain < 0).mean(axis=0),
                          "probability_below_baseline": below_baseline.mean(axis=0)},
                         index=base.index).reset_index()
    return frame.round(6)


def _pool_distribution(pool_values: Mapping[str, list], draws: int) -> pd.DataFrame:
    rows = []
    for pool in sorted(pool_values):
        values = np.asarray([(s, e) for _, s, e in pool_values[pool]], dtype=np.float64)
        row = {"pool": pool, "draws": len(values)}
        for column, name in ((0, "settlement_point_value"), (1, "effective_point_value")):
            series = values[:, column]
            series = series[np.isfinite(series)]
            quantiles = np.quantile(series, QUANTILES) if len(series) else [np.nan] * len(QUANTILES)
            row.update({f"{name}_mean": series.mean() if len(series) else np.nan,
                        f"{name}_sd": series.std(ddof=1) if len(series) > 1 else np.nan,
                        **{f"{name}_p{round(q * 100)}": quantiles[i] for i, q in enumerate(QUANTILES)}})
        rows.append(row)
    return pd.DataFrame(rows).round(9) if rows else _empty_monte_carlo()[1]


def _empty_monte_carlo() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.DataFrame(columns=["area", "hospital_id", "level", "baseline_payment"]),
            pd.DataFrame(columns=["pool", "draws"]))
