"""Writing a simulation: its tables, a closing summary, and one Monte Carlo draw as a province."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from drgdip.budget.daycare import DAY_CARE_APPLIED, day_care_fingerprint
from drgdip.budget.pipeline import PreparedProvince
from drgdip.budget.policy import Policy
from drgdip.core.atomic import write_text_atomic
from drgdip.core.province import Province, write_province
from drgdip.core.tables import write_table
from drgdip.simulate.engine import SimulationResult
from drgdip.simulate.settlements import draw_province
from drgdip.simulate.scenarios import BASELINE, MonteCarlo, policy_to_mapping

__all__ = ["write_simulation", "format_simulation_summary", "write_draw"]


def write_simulation(result: SimulationResult, out_dir, *, fmt: str = "csv") -> list[Path]:
    """Write each table of ``result`` as ``<name>.<fmt>`` (csv or parquet) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in result.tables().items():
        if name.startswith("monte_carlo") and table.empty:
            continue
        paths.append(write_table(table, out / f"{name}.{fmt}"))
    return paths


def format_simulation_summary(result: SimulationResult) -> str:
    """A few lines: each scenario's money paid and its winners and losers against the baseline."""
    scenarios = result.scenarios
    lines = [f"{'scenario':<40} {'paid (yuan)':>18} {'vs baseline':>14} {'gain':>6} {'lose':>6}"]
    baseline = float(scenarios.loc[scenarios["scenario"] == BASELINE, "final_payments"].iloc[0])
    for _, row in scenarios.iterrows():
        lines.append(f"{str(row['scenario'])[:40]:<40} {row['final_payments']:>18,.2f} "
                     f"{row['final_payments'] - baseline:>14,.2f} {row['hospitals_gaining']:>6} "
                     f"{row['hospitals_losing']:>6}")
    pools = result.monte_carlo_pools
    if not pools.empty:
        falling = pools.sort_values("effective_point_value_mean").head(3)
        lines.append("Monte Carlo point values (P5 / P50 / P95):")
        for _, row in falling.iterrows():
            lines.append(f"  {row['pool']}: {row['effective_point_value_p5']:.4f} / "
                         f"{row['effective_point_value_p50']:.4f} / {row['effective_point_value_p95']:.4f}")
        hospitals = result.monte_carlo_hospitals
        at_risk = int((hospitals["probability_of_loss"] > 0.5).sum())
        lines.append(f"  {at_risk:,} of {len(hospitals):,} hospitals lose against fee-for-service in most draws")
    return "\n".join(lines)


def write_draw(prepared: PreparedProvince, base_policy: Policy, monte_carlo: MonteCarlo, draw: int,
               out_dir) -> list[Path]:
    """Write draw ``draw`` as a province (its stays after day care and grouping, the history, the
    hospitals) and its policy (``policy.yaml``): ``drgdip settle --policy policy.yaml --input DIR``
    settles it to the fen as the simulation did."""
    province, policy = draw_province(prepared, base_policy, monte_carlo, draw)
    current = province.current
    parts = [current] if province.past is None else [province.past, current]
    cases = pd.concat(parts, ignore_index=True)
    if "needs_regroup" in cases.columns:   # grouped already: the group columns are final
        cases["needs_regroup"] = np.zeros(len(cases), dtype=bool)
    info = {**prepared.info, DAY_CARE_APPLIED: day_care_fingerprint(policy.day_care),
            "monte_carlo_draw": {"draw": draw, "seed": monte_carlo.seed}}
    out = Path(out_dir)
    paths = list(write_province(Province(cases=cases, hospitals=prepared.hospitals, info=info), out).values())
    policy_path = out / "policy.yaml"
    write_text_atomic(policy_path, yaml.safe_dump(policy_to_mapping(policy), allow_unicode=True, sort_keys=False))
    return paths + [policy_path]
