"""Special-case review (特例单议): candidates, the quota, the approval list (domain.md §5.4).

The quota is region-wide: at most ``floor(special_quota × discharges)`` approved cases (DRG 5%,
DIP 5‰), not a quota per hospital. DIP cases whose cost is at least ``special_min_ratio`` times the
standard may apply. Approvals enter :func:`drgdip.pointvalue.case_points` through its ``approved`` argument.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["special_review_quota", "special_review_candidates"]


def special_review_quota(n_discharges: int, policy) -> int:
    """Most cases that may be approved: ``floor(special_quota × discharges of the pooling region)``.

    Example: 200,000 DIP discharges at 5‰ -> 1,000.
    """
    if n_discharges < 0:
        raise ValueError(f"n_discharges must be >= 0, got {n_discharges}")
    # the small epsilon keeps 0.005 × 200,000 at 1,000 despite binary floating point
    return int(math.floor(policy.special_review.special_quota * n_discharges + 1e-9))


def special_review_candidates(breakdown: pd.DataFrame, policy) -> pd.DataFrame:
    """Cases that may apply for special review, highest cost ratio first.

    ``breakdown`` is the output of :func:`drgdip.pointvalue.case_points` (its ``special_review_candidate``
    column; cases already approved are left out). Returns ``case_id, group, hospital_id, total_cost,
    cost_ratio, outlier_class, reason`` where reason is the class for ``ungrouped``, ``extreme`` and
    ``high`` cases (every DRG high case; DIP high cases of any formula) and ``high_ratio`` for other
    DIP cases with ratio >= special_min_ratio.
    """
    klass = breakdown["outlier_class"].astype(str).to_numpy()
    candidate = breakdown["special_review_candidate"].to_numpy(dtype=bool)
    reason = np.where(np.isin(klass, ("ungrouped", "extreme", "high")), klass, "high_ratio").astype(object)
    keep = candidate & (klass != "special_review")
    columns = [c for c in ("case_id", "group", "hospital_id", "total_cost", "cost_ratio", "outlier_class")
               if c in breakdown.columns]
    out = breakdown.loc[keep, columns].copy()
    out["reason"] = reason[keep]
    order = np.argsort(-np.nan_to_num(out["cost_ratio"].to_numpy(dtype=np.float64), nan=np.inf), kind="stable")
    return out.iloc[order].reset_index(drop=True)
