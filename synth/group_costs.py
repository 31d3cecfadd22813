"""The cost centre of each group (病组费用中心): synth's own model, or a published weight table.

Synth's own model gives every ADRG a median cost drawn around its kind's median (medical, surgical,
pre-MDC: ``SynthParams.base_cost_*``, log-sd ``base_cost_sigma``); complications multiply it
(``severity_cost_multipliers``).

With a weight table (RW per DRG, the engine's :class:`~drgdip.pointvalue.WeightTable` format), a DRG's
ordinary stays at a level-2 hospital in the first year cost RW x ``base_rate`` on average: the centre
(median) of the DRG is RW x base rate divided by the mean of the multiplicative noise that
:mod:`drgdip.synth.costs` puts on top (case lognormal, the hospital's own level, outliers). Within a DRG, stays
with more complications still cost more (the severity multipliers, rescaled over the DRG's ordinary stays so
that its mean stays RW x base rate). An ADRG's reference cost, which drives the case mix and the
length of stay, is the centre of a stay without complication implied by its DRGs.

A DRG of the scheme that the table does not price (absent, empty or not positive RW) gets an RW by
this rule, and ``province.info`` lists it:

1. from the DRGs of its ADRG that the table prices: the geometric mean over them of
   ``RW_sibling x m[level] / m[level_sibling]``, where ``m`` are the severity multipliers and the level
   is the complication level the DRG's split rule asks for (2 ``mcc``, 1 ``mcc_or_cc``, 0 otherwise);
2. if the table prices no DRG of the ADRG: synth's own model cost of the ADRG (as without a table)
   turned into an RW with the base rate, times ``m[level] / m[0]``.

``weights="auto"`` uses a weight table shipped with the package (``drgdip.data/weights``) whose groups are
exactly the scheme's DRGs, if there is one (the national CHS-DRG 1.1 scheme has one); otherwise synth's
own model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drgdip.core.resources import weights_dir
from drgdip.synth.params import SynthParams
from drgdip.synth.scheme_profile import KIND_PREMDC, KIND_SURGICAL, SchemeProfile

AUTO = "auto"


@dataclass(frozen=True)
class GroupCosts:
    """Cost centres of a scheme's ADRGs and DRGs (yuan, level-2 hospital, first year)."""

    adrg_cost: np.ndarray               # float64[n_adrg] median cost of a stay without complication
    adrg_z: np.ndarray                  # float64[n_adrg] standard-normal cost deviate (drives the LOS)
    drg_centre: np.ndarray | None       # float64[n_drg] median cost of the DRG's stays; None: own model
    drg_rw: np.ndarray | None = None    # float64[n_drg] RW followed (the table's, or filled by the rule)
    info: dict = field(default_factory=dict)
    notes: tuple = ()

    def stay_cost(self, adrg: np.ndarray, drg: np.ndarray, severity: np.ndarray, ordinary: np.ndarray,
                  params: SynthParams) -> np.ndarray:
        """Median cost of each stay's group and complication level before level, hospital, growth,
        noise and outliers.

        ``drg`` is the stay's DRG as an index into the scheme's DRGs (-1: none, e.g. invalid input);
        such stays are priced by their ADRG. ``ordinary`` marks the ordinary inpatient stays, over which
        the severity multipliers of a DRG average to 1 (over all its stays if it has none).
        """
        severity_mult = np.asarray(params.severity_cost_multipliers)[severity]
        cost = self.adrg_cost[adrg] * severity_mult
        if self.drg_centre is None:
            return cost
        known = np.flatnonzero(drg >= 0)
        d = drg[known]
        n_drg = len(self.drg_centre)
        mult = severity_mult[known]
        usual = np.where(ordinary[known], 1.0, 0.0)
        count = np.bincount(d, weights=usual, minlength=n_drg)
        mean_mult = np.bincount(d, weights=mult * usual, minlength=n_drg) / np.maximum(count, 1)
        stays = np.bincount(d, minlength=n_drg)
        if ((count == 0) & (stays > 0)).any():      # a DRG with day cases only: over all its stays
            every = np.bincount(d, weights=mult, minlength=n_drg) / np.maximum(stays, 1)
            mean_mult = np.where(count > 0, mean_mult, every)
        cost[known] = self.drg_centre[d] * mult / mean_mult[d]
        return cost


def noise_mean(params: SynthParams) -> float:
    """Mean of the multiplicative noise on an ordinary stay's cost: case lognormal, hospital lognormal
    and the outlier factors (see :mod:`drgdip.synth.costs`)."""
    lo, hi = params.low_outlier_share, params.high_outlier_share
    outliers = (1.0 - lo - hi + lo * float(np.mean(params.low_outlier_range))
                + hi * float(np.mean(params.high_outlier_range)))
    return float(np.exp(params.case_cost_sigma ** 2 / 2 + params.hospital_cost_sigma ** 2 / 2) * outliers)


def own_model(profile: SchemeProfile, params: SynthParams, z: np.ndarray) -> GroupCosts:
    """Synth's own ADRG costs from the standard-normal deviates ``z`` (one per ADRG)."""
    kind = np.array([r.kind for r in profile.adrgs], dtype=np.int8)
    median = np.select([kind == KIND_PREMDC, kind == KIND_SURGICAL],
                       [params.base_cost_premdc, params.base_cost_surgical], params.base_cost_medical)
    return GroupCosts(adrg_cost=median * np.exp(params.base_cost_sigma * z), adrg_z=z, drg_centre=None,
                      info={"model": "synth"})


def group_costs(profile: SchemeProfile, params: SynthParams, z: np.ndarray, weights: Any = AUTO) -> GroupCosts:
    """The cost centres under ``weights``: ``"auto"``, ``None`` (synth's own model), a
    :class:`~drgdip.pointvalue.WeightTable` or the path of one (CSV or Parquet)."""
    own = own_model(profile, params, z)
    table = resolve_weights(weights, profile)
    if table is None:
        return own
    return from_table(profile, params, table, own)


def resolve_weights(weights: Any, profile: SchemeProfile):
    """The weight table ``weights`` names, or None for synth's own model."""
    if weights is None:
        return None
    if isinstance(weights, str) and weights == AUTO:
        path = shipped_table_for(profile.drg_codes)
        if path is None:
            return None
        from drgdip.pointvalue.weights import WeightTable

        return replace(WeightTable.from_csv(path), source=f"drgdip.data/weights/{path.name}")
    from drgdip.pointvalue.weights import WeightTable

    if isinstance(weights, WeightTable):
        return weights
    if isinstance(weights, (str, PathLike)):
        from drgdip.pointvalue.published import is_published_table, read_published_table

        if is_published_table(weights):   # a city's table as published, or its built-in name
            return read_published_table(weights).weights
    if isinstance(weights, (str, PathLike, pd.DataFrame)):
        return WeightTable.from_csv(weights)
    raise TypeError(f"weights must be 'auto', None, a WeightTable, a published table's name or a file path, "
                    f"got {type(weights).__name__}")


def shipped_table_for(drg_codes) -> Path | None:
    """The shipped weight table whose groups are exactly ``drg_codes``, if any."""
    wanted = set(map(str, drg_codes))
    directory = weights_dir()
    for path in sorted(directory.glob("*.csv")) if directory.is_dir() else []:
        groups = pd.read_csv(path, usecols=["group"], dtype=str, keep_default_na=False)["group"]
        if len(groups) == len(wanted) and set(groups) == wanted:
            return path
    return None


def table_rw(table) -> pd.Series:
    """RW per group of a weight table: its ``rw`` column, else base points / points scale."""
    frame = table.frame
    if "rw" in frame.columns:
        rw = pd.to_numeric(frame["rw"], errors="coerce")
    else:
        rw = frame["base_points"] / table.points_scale
    return pd.Series(rw.to_numpy(dtype=np.float64), index=frame["group"].astype(str).to_numpy())


def from_table(profile: SchemeProfile, params: SynthParams, table, own: GroupCosts) -> GroupCosts:
    """Cost centres following ``table``'s RWs; unpriced DRGs filled by the module's rule."""
    m = np.asarray(params.severity_cost_multipliers, dtype=np.float64)
    codes = pd.Index(profile.drg_codes.astype(str))
    published = table_rw(table)
    rw = published.reindex(codes).to_numpy(dtype=np.float64)
    rw = np.where(rw > 0, rw, np.nan)
    adrg = profile.drg_adrg.astype(np.int64)
    level = profile.drg_split_level.astype(np.int64)
    n_adrg = profile.n_adrg
    priced = ~np.isnan(rw)

    # log RW per unit of severity multiplier, averaged over the priced DRGs of each ADRG
    unit = np.log(np.where(priced, rw, 1.0)) - np.log(m[level])
    n_priced = np.bincount(adrg[priced], minlength=n_adrg)
    adrg_unit = np.bincount(adrg[priced], weights=unit[priced], minlength=n_adrg) / np.maximum(n_priced, 1)
    mean_noise = noise_mean(params)
    own_unit = np.log(own.adrg_cost * mean_noise / params.base_rate) - np.log(m[0])
    from_siblings = ~priced & (n_priced[adrg] > 0)
    from_model = ~priced & (n_priced[adrg] == 0)
    rw[from_siblings] = np.exp(adrg_unit[adrg[from_siblings]]) * m[level[from_siblings]]
    rw[from_model] = np.exp(own_unit[adrg[from_model]]) * m[level[from_model]]

    # ADRG reference: the centre of a stay without complication (own model where the ADRG has no DRG)
    n_drgs = np.bincount(adrg, minlength=n_adrg)
    adrg_unit = np.bincount(adrg, weights=np.log(rw) - np.log(m[level]), minlength=n_adrg) / np.maximum(n_drgs, 1)
    adrg_cost = np.where(n_drgs > 0, np.exp(adrg_unit) * m[0] * params.base_rate / mean_noise, own.adrg_cost)
    log_cost = np.log(adrg_cost)
    kind = np.array([r.kind for r in profile.adrgs], dtype=np.int8)
    z = np.zeros(n_adrg)
    for k in np.unique(kind):      # standardised within the kind, as the own model's deviates are
        rows = kind == k
        sd = log_cost[rows].std()
        z[rows] = (log_cost[rows] - log_cost[rows].mean()) / sd if sd > 0 else 0.0

    outside = sorted(set(published.index) - set(codes))
    info = {
        "model": "weights", "weights": table.source, "base_rate": params.base_rate,
        "drgs_priced_by_table": int(priced.sum()),
        "drgs_from_adrg_siblings": codes[from_siblings].tolist(),
        "drgs_from_synth_model": codes[from_model].tolist(),
        "table_groups_not_in_scheme": len(outside),
    }
    notes = []
    if from_siblings.any() or from_model.any():
        notes.append(f"weight table {table.source} has no RW for {int((~priced).sum())} of the scheme's "
                     f"{len(codes)} DRGs: {int(from_siblings.sum())} priced from their ADRG siblings "
                     f"({_some(codes[from_siblings])}), {int(from_model.sum())} by synth's own ADRG model "
                     f"({_some(codes[from_model])})")
    if outside:
        notes.append(f"weight table {table.source}: {len(outside)} group(s) are no DRG of the scheme and are "
                     f"not used ({_some(outside)})")
    return GroupCosts(adrg_cost=adrg_cost, adrg_z=z, drg_centre=rw * params.base_rate / mean_noise, drg_rw=rw,
                      info=info, notes=tuple(notes))


def _some(codes, k: int = 10) -> str:
    codes = list(codes)
    return ", ".join(codes[:k]) + (" ..." if len(codes) > k else "") if codes else "none"

