"""One settlement of a simulation: a scenario, or a Monte Carlo draw of policy and case mix.

What :func:`drgdip.simulate.engine.simulate` runs for each scenario and draw, in one process or as a
task on a cluster (:mod:`drgdip.simulate.on_cluster`): a scenario is the base policy with overrides,
a draw the drawn policy on the settlement year's stays perturbed by :mod:`drgdip.simulate.casemix`,
both settled with the money shared down to the hospitals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from drgdip.budget.pipeline import PreparedProvince, settle_prepared
from drgdip.budget.policy import Policy
from drgdip.budget.drawn import Rewritable, has_parent, may_have_parent, parent_key, settle_drawn_rows
from drgdip.budget.settle import Settlement
from drgdip.core.errors import UsageError
from drgdip.simulate.casemix import perturb_with_sources, perturbed_rows, rewritten_stays, upshift_candidates
from drgdip.simulate.scenarios import MonteCarlo, apply_overrides, draw_policy, draw_values

__all__ = ["HOSPITAL_KEY", "DrawUnits", "draw_province", "draw_outcome", "settle_named", "hospital_payments"]

HOSPITAL_KEY = ["area", "hospital_id"]
CASE_MIX_STREAM = 0x43415345   # the random stream of a draw's case-mix perturbation ("CASE")
DRAW_TABLES = ("hospitals", "pools")   # the tables of a settlement a Monte Carlo draw keeps


def settle_named(prepared: PreparedProvince, base_policy: Policy, overrides: Mapping) -> Settlement:
    """The settlement of one scenario: ``base_policy`` with ``overrides``, money down to the hospitals."""
    policy = apply_overrides(base_policy, overrides) if overrides else base_policy
    return settle_prepared(prepared, policy, input_columns=False, per_stay=False)


def hospital_payments(result: Settlement, columns: list[str] | None = None) -> pd.DataFrame:
    """Per hospital row of a settlement (its ``columns``, default every one), indexed by (area, hospital_id)."""
    table = result.hospitals
    index = pd.MultiIndex.from_arrays([table[key].astype(str) for key in HOSPITAL_KEY])
    kept = [c for c in table.columns if c not in HOSPITAL_KEY] if columns is None else columns
    return table[kept].set_axis(index)


def _units(prepared: PreparedProvince) -> dict[str, np.ndarray]:
    """The hospitals, levels and regions of the settlement year, sorted: what ``per`` draws over."""
    current = prepared.current
    units = {"hospital": np.sort(pd.unique(pd.Series(pd.unique(current["hospital_id"])).astype(str)))}
    for unit, column in (("level", "hospital_level"), ("region", "region")):
        if column in current.columns:
            units[unit] = np.sort(pd.unique(pd.Series(pd.unique(current[column].dropna())).astype(str)))
    return units


def _per_hospital(value, unit: str, hospitals: pd.DataFrame) -> pd.Series | float:
    """A drawn value (one, or one per unit) as one value per hospital id."""
    if not isinstance(value, pd.Series):
        return float(value)
    if unit == "hospital":
        return value
    column = {"level": "level", "region": "region"}[unit]
    return hospitals[column].astype(str).map(value).fillna(0.0)


@dataclass(frozen=True)
class DrawUnits:
    """What ``per`` draws over, read once from the prepared settlement year: the sorted hospitals,
    levels and regions, and each hospital's level and region.

    Draws that share them may run on several threads (:func:`draw_outcome`)."""

    units: dict
    hospitals: pd.DataFrame
    # what the perturbations work out of the settlement year's rows alone, once for every draw
    lookups: dict = field(default_factory=dict, repr=False, compare=False)
    # held by a draw that settles anything but from the base policy's parent (it adds to the prepared province)
    alone: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def of(cls, prepared: PreparedProvince) -> "DrawUnits":
        return cls(_units(prepared), _hospital_attributes(prepared))


def draw_province(prepared: PreparedProvince, base_policy: Policy, monte_carlo: MonteCarlo, draw: int,
                  units: DrawUnits | None = None) -> tuple[PreparedProvince, Policy]:
    """Draw ``draw`` of a Monte Carlo: the perturbed province and the drawn policy (``units``: the
    prepared province's :class:`DrawUnits`, when the caller draws many)."""
    units = units if units is not None else DrawUnits.of(prepared)
    policy, perturbation = _drawn(prepared, base_policy, monte_carlo, draw, units)
    if perturbation is None:
        return prepared, policy
    drawn = perturb_with_sources(prepared.current, **perturbation)
    return prepared.with_settlement_year(drawn.cases, drawn_from=(drawn.source, drawn.changed)), policy


def _drawn(prepared: PreparedProvince, base_policy: Policy, monte_carlo: MonteCarlo, draw: int,
           units: DrawUnits) -> tuple[Policy, dict | None]:
    """The policy of draw ``draw`` and the arguments of its case-mix perturbation (None: none)."""
    policy = draw_policy(base_policy, monte_carlo, draw) if monte_carlo.policy_keys else base_policy
    values = draw_values(monte_carlo, draw, units.units)
    case_mix = {name: values[name] for name in monte_carlo.case_mix}
    if not case_mix:
        return policy, None
    if not prepared.same_preparation(policy):
        keys = ", ".join(sorted(monte_carlo.policy_keys))
        whose = f"its policy (varying {keys})" if keys else "the base policy"
        raise UsageError(f"Monte Carlo draw {draw}: {whose} changes what the preparation depends on (day-care "
                         "rules, grouping, year, indicator inputs), and a draw with case-mix perturbations settles "
                         "the prepared stays: prepare the province under such rules, or vary those keys without "
                         "case mix")
    hospitals = units.hospitals
    shares = {name: _per_hospital(value, monte_carlo.vary[name].per, hospitals) for name, value in case_mix.items()}
    rng = np.random.default_rng([monte_carlo.seed, draw, CASE_MIX_STREAM])
    return policy, dict(rng=rng, **shares, **_upshift_targets(prepared, policy),
                        province_prefix_len=policy.points.remote.province_prefix_len)


def _upshift_targets(prepared: PreparedProvince, policy: Policy) -> dict:
    """Where coding upshift may move a stay: the DIP directory's severity subtypes, or the DRGs of the
    scheme that grouped the province (else the DRG codes the stays carry)."""
    if policy.points.is_dip:
        return {"dip": prepared.grouping.dip}
    scheme = prepared.grouping.drg_scheme()
    return {"drg_codes": set(scheme.drg_codes) if scheme is not None else None}


def _hospital_attributes(prepared: PreparedProvince) -> pd.DataFrame:
    """Level and region of each hospital of the settlement year, indexed by hospital id."""
    current = prepared.current
    kept = [c for c in ("hospital_id", "hospital_level", "region") if c in current.columns]
    first = current[kept].drop_duplicates()   # a few rows per hospital: the texts are made of those
    columns = {"hospital_id": first["hospital_id"].astype(str)}
    columns["level"] = first["hospital_level"].astype(str) if "hospital_level" in first.columns else ""
    columns["region"] = first["region"].astype(str) if "region" in first.columns else ""
    return pd.DataFrame(columns).drop_duplicates("hospital_id").set_index("hospital_id")


def draw_outcome(prepared: PreparedProvince, base_policy: Policy, monte_carlo: MonteCarlo, draw: int,
                 units: DrawUnits) -> tuple[pd.DataFrame, list]:
    """What a Monte Carlo summary keeps of draw ``draw``: the final payment and gain against
    fee-for-service of each hospital row (:data:`HOSPITAL_KEY` index), and (pool, settlement point
    value, effective point value) of each pool.

    Draws of one ``units`` may run on several threads once one of them has run: a draw that settles
    from the sums of the base policy's parent only reads the prepared province; any other holds
    ``units.alone`` while it settles."""
    policy, perturbation = _drawn(prepared, base_policy, monte_carlo, draw, units)
    shares_parent = perturbation is not None and parent_key(policy) == parent_key(base_policy) \
        and has_parent(prepared, policy)
    result = _from_parent_sums(prepared, base_policy, policy, perturbation, units, DRAW_TABLES) \
        if shares_parent else None
    if result is None:
        with units.alone:
            if not shares_parent:
                result = _settled_from_rows(prepared, base_policy, monte_carlo, draw, units, (policy, perturbation),
                                            DRAW_TABLES)
            if result is None:
                province, policy = draw_province(prepared, base_policy, monte_carlo, draw, units)
                result = settle_prepared(province, policy, input_columns=False, per_stay=False)
    payments = hospital_payments(result, ["final_payment", "gain_vs_ffs"])
    pools = list(zip(result.pools["pool"].astype(str), result.pools["settlement_point_value"],
                     result.pools["effective_point_value"]))
    return payments, pools


def _settled_from_rows(prepared: PreparedProvince, base_policy: Policy, monte_carlo: MonteCarlo, draw: int,
                       units: DrawUnits, drawn: tuple | None = None, tables: tuple | None = None) -> Settlement | None:
    """Draw ``draw`` (``drawn``: its policy and perturbation, when :func:`_drawn` gave them already)
    settled from the sums of ``prepared``'s parent for its policy, made first when it has none
    (``tables``: those of its tables to make, default every one); None when it must be settled whole."""
    policy, perturbation = drawn if drawn is not None else _drawn(prepared, base_policy, monte_carlo, draw, units)
    if perturbation is None or not _has_parent(prepared, policy, units):
        return None
    return _from_parent_sums(prepared, base_policy, policy, perturbation, units, tables)


def _from_parent_sums(prepared: PreparedProvince, base_policy: Policy, policy: Policy, perturbation: dict,
                      units: DrawUnits, tables: tuple | None = None) -> Settlement | None:
    """A draw (its ``policy`` and ``perturbation`` of :func:`_drawn`) settled from the sums of ``prepared``'s
    parent for ``policy`` (:func:`drgdip.budget.drawn.settle_drawn_rows`), the same settlement as that of
    :func:`draw_province`'s province (``tables``: those of its tables to make, default every one); None
    when it must be settled whole."""
    rows = perturbed_rows(prepared.current, lookups=units.lookups, **perturbation)
    stays = _rewritable(prepared, base_policy, policy, perturbation, units)
    if stays is None:
        _, stays = rewritten_stays(prepared.current, rows)
    return settle_drawn_rows(prepared, policy, rows.copied, rows.removed, rows.rewritten_rows, stays, tables)


def _rewritable(prepared: PreparedProvince, base_policy: Policy, policy: Policy, perturbation: dict,
                units: DrawUnits) -> Rewritable | None:
    """Every stay the draws' upshift may rewrite, when the draw settles from the base policy's parent:
    their points are then computed once for all draws (a draw with its own parent, one whose policy
    changes the points, computes those of the stays it rewrites)."""
    if "coding_upshift" not in perturbation or parent_key(policy) != parent_key(base_policy):
        return None
    key, rows, stays = upshift_candidates(prepared.current, lookups=units.lookups,
                                          drg_codes=perturbation.get("drg_codes"), dip=perturbation.get("dip"))
    return Rewritable(key, rows, stays)


def _has_parent(prepared: PreparedProvince, policy: Policy, units: DrawUnits) -> bool:
    """Whether ``prepared`` keeps a settlement input that draws under ``policy`` settle from, settling it
    under ``policy`` first when it has none: a draw whose policy changes coefficients prices the kept
    points again (:mod:`drgdip.budget.repriced_points`), and a cluster worker that has settled no
    scenario yet makes its parent once. A policy that makes no parent is not tried again."""
    if has_parent(prepared, policy):
        return True
    if units.lookups.get("no_parent") or not may_have_parent(prepared, policy):
        return False
    settle_prepared(prepared, policy, input_columns=False, per_stay=False)
    if has_parent(prepared, policy):
        return True
    units.lookups["no_parent"] = True
    return False
