"""Costs and who pays them (费用与基金支付), computed in integer fen so that parts add up exactly.

A stay's cost is lognormal around the median of its group and complication level
(:mod:`drgdip.synth.group_costs`), scaled by hospital level, the hospital's own cost level and
year-on-year growth; day-care and bed-day stays are priced per day
or per session. A small share becomes low- or high-cost outliers. The pooled fund pays a share
that depends on the insurance type, the hospital level and the insured region's policy (remote
patients keep their insured region's benefits, minus the remote adjustment). The remainder is
split into out-of-catalogue self-payment (自费) and in-scope self-payment (自付).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drgdip.synth.params import SynthParams
from drgdip.synth.scheme_profile import DAY_CHEMO, DAY_SURGERY, DAY_WARD, GENERAL, PSYCH_LONG, TCM_DAY

MIN_COST_FEN = 5_000              # 50 yuan
CHEMO_DRUG_SHARE = 0.6


@dataclass
class Payments:
    """Money columns of each case, in fen (int64)."""

    total: np.ndarray
    fund: np.ndarray
    self_in_scope: np.ndarray
    self_out_scope: np.ndarray
    drug: np.ndarray
    consumable: np.ndarray
    outlier: np.ndarray        # int8 0 none, 1 low, 2 high (as drawn)


def _beta_mean(rng, mean: float, size: int, concentration: float = 12.0) -> np.ndarray:
    """Beta draws with the given mean (0 and 1 pass through)."""
    if mean <= 0:
        return np.zeros(size)
    if mean >= 1:
        return np.ones(size)
    return rng.beta(mean * concentration, (1 - mean) * concentration, size)


def case_costs(rng: np.random.Generator, *, care_class: np.ndarray, group_cost: np.ndarray,
               level: np.ndarray, hospital_effect: np.ndarray,
               year_index: np.ndarray, z_cost: np.ndarray, los: np.ndarray,
               window_hours: np.ndarray, params: SynthParams) -> np.ndarray:
    """Total cost of each stay in yuan (float64, before rounding).

    Parameters
    ----------
    care_class : int8[n]
    group_cost : float64[n]
        Median cost of the case's group and complication level at level 2 in the first year
        (:meth:`drgdip.synth.group_costs.GroupCosts.stay_cost`).
    level : int8[n]
        Hospital level 1-3.
    hospital_effect : float64[n]
        The hospital's own cost multiplier.
    year_index : int[n]
        0 for the first year.
    z_cost : float64[n]
        Standard-normal cost deviate.
    los : int[n]
        Length of stay (days / treatment days / sessions).
    window_hours : float64[n]
        discharge - admit in hours (a day surgery that overran costs more).
    """
    level_mult = np.asarray(params.level_cost_multipliers)[level - 1]
    growth = (1.0 + params.cost_growth) ** year_index
    common = level_mult * hospital_effect * growth
    noise = np.exp(params.case_cost_sigma * z_cost)
    cost = group_cost * common * noise
    cost = np.where(care_class == DAY_SURGERY,
                    cost * params.day_surgery_cost_factor * np.where(window_hours > 48, 1.3, 1.0), cost)
    cost = np.where(care_class == DAY_CHEMO, cost * params.day_chemo_cost_factor, cost)
    daily_noise = np.exp(0.25 * z_cost)
    cost = np.where(care_class == TCM_DAY, params.tcm_daily_cost * los * common * daily_noise, cost)
    cost = np.where(care_class == DAY_WARD, params.day_ward_visit_cost * los * common * daily_noise, cost)
    cost = np.where(care_class == PSYCH_LONG, params.psych_daily_cost * los * common * daily_noise, cost)
    return cost


def apply_outliers(rng: np.random.Generator, cost: np.ndarray, care_class: np.ndarray,
                   params: SynthParams) -> tuple[np.ndarray, np.ndarray]:
    """Low/high cost outliers among ordinary and day-surgery/chemo stays (per-day priced stays excluded)."""
    n = len(cost)
    eligible = np.isin(care_class, (GENERAL, DAY_SURGERY, DAY_CHEMO))
    u = rng.random(n)
    low = eligible & (u < params.low_outlier_share)
    high = eligible & ~low & (u < params.low_outlier_share + params.high_outlier_share)
    factor = np.ones(n)
    factor[low] = rng.uniform(*params.low_outlier_range, low.sum())
    factor[high] = rng.uniform(*params.high_outlier_range, high.sum())
    outlier = np.zeros(n, dtype=np.int8)
    outlier[low], outlier[high] = 1, 2
    return cost * factor, outlier


def fund_shares(*, employee: np.ndarray, level: np.ndarray, insured_region_dev: np.ndarray,
                remote: np.ndarray, params: SynthParams) -> np.ndarray:
    """Share of the total cost paid by the pooled fund for each stay."""
    base = np.where(employee, params.fund_share_employee, params.fund_share_resident)
    share = (base + np.asarray(params.fund_share_level_adjust)[level - 1] + insured_region_dev
             + np.where(remote, params.remote_fund_share_adjust, 0.0))
    return np.clip(share, 0.0, 1.0)


def split_payments(rng: np.random.Generator, total_yuan: np.ndarray, fund_share: np.ndarray,
                   care_class: np.ndarray, surgical: np.ndarray, outlier: np.ndarray,
                   params: SynthParams) -> Payments:
    """Round totals to fen and split them: fund + in-scope + out-of-scope self-payment = total."""
    n = len(total_yuan)
    total = np.maximum(np.rint(total_yuan * 100.0), MIN_COST_FEN).astype(np.int64)
    fund = np.rint(total * fund_share).astype(np.int64)
    out_share = np.minimum(_beta_mean(rng, params.out_of_scope_share_mean, n), 1.0 - fund_share)
    out_scope = np.minimum(np.rint(total * out_share).astype(np.int64), total - fund)
    in_scope = total - fund - out_scope
    chemo = np.isin(care_class, (DAY_CHEMO, DAY_WARD))
    drug_share = np.where(chemo, _beta_mean(rng, CHEMO_DRUG_SHARE, n),
                          _beta_mean(rng, params.drug_share_mean, n))
    consumable_mean = np.where(surgical & ~chemo, params.consumable_share_surgical,
                               params.consumable_share_medical)
    consumable_share = np.minimum(_beta_mean(rng, 0.5, n) * 2 * consumable_mean, 0.95 - drug_share)
    consumable_share = np.maximum(consumable_share, 0.0)
    drug = np.rint(total * drug_share).astype(np.int64)
    consumable = np.rint(total * consumable_share).astype(np.int64)
    return Payments(total=total, fund=fund, self_in_scope=in_scope, self_out_scope=out_scope,
                    drug=drug, consumable=consumable, outlier=outlier)
