"""DRG rate method (费率法) and payment standards (domain.md §2.3, §4.5).

``rate = DRG_total_cost_budget / Σ n_g·RW_g`` with ``DRG_total_cost_budget = fund budget / fund payment
ratio``; a group's payment standard at a hospital is ``rate × RW × coef``. The point method is the same
with points: 1 RW = 100 points, so a rate of 10,000 is a point value of 100.
"""

from __future__ import annotations

import numpy as np

__all__ = ["drg_rate", "payment_standard", "addon_points"]


def drg_rate(fund_budget: float, fund_payment_ratio: float, total_weight: float) -> float:
    """Yuan per unit of RW: (fund_budget / fund_payment_ratio) / total_weight.

    Example: 900 M fund budget, fund ratio 0.6, Σ n·RW = 150,000 -> 10,000.
    """
    if not 0 < fund_payment_ratio <= 1:
        raise ValueError(f"fund_payment_ratio must be in (0, 1], got {fund_payment_ratio}")
    if not total_weight > 0:
        raise ValueError(f"total_weight must be positive, got {total_weight}")
    return fund_budget / fund_payment_ratio / total_weight


def payment_standard(base, unit_value: float, coef=1.0, aux_coef=1.0):
    """Payment standard (支付标准) in yuan: base (RW, points or score) × rate / point value × coefficients.

    Examples: RW 2.5 at rate 10,000 and coef 1.1 -> 27,500; score 1,225 × 1.2 × 1.5 at point value 10 -> 22,050.
    """
    return np.asarray(base, dtype=np.float64) * unit_value * np.asarray(coef, dtype=np.float64) * \
        np.asarray(aux_coef, dtype=np.float64)


def addon_points(eligible_item_cost, addon_share, point_value: float):
    """New drug / technology add-on (新药新技术加成, local rule, domain.md §4.4): item cost × share / point value.

    Add the result to a case's final points. Example: a 20,000-yuan drug, share 1.0, point value 10 -> 2,000.
    """
    if not point_value > 0:
        raise ValueError(f"point_value must be positive, got {point_value}")
    return np.asarray(eligible_item_cost, dtype=np.float64) * np.asarray(addon_share, dtype=np.float64) / point_value
