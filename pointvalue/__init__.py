"""Case points: DRG weights and base points, DIP scores, outlier rules, coefficients.

Public API
----------
rules         :class:`PointsPolicy` and its parts (frozen config sections; see :mod:`drgdip.pointvalue.rules`)
weights       :class:`DrgWeights` / :class:`DipScores` (``fit`` on history), :class:`WeightTable`
published     :func:`read_published_table` (a city's published table as it is, -> :class:`PublishedTable`
              with its :class:`WeightTable`), :func:`price_stays`, :func:`published_table_names`
points        :func:`case_points` -- the full per-case breakdown down to ``final_points``
special       :func:`special_review_candidates`, :func:`special_review_quota`
bedday        :func:`bed_day_payment`, :func:`bed_day_points`
coefs         :func:`hospital_level_coefs`, :func:`group_level_coefs`, :func:`insured_pool`
rate          :func:`drg_rate`, :func:`payment_standard`, :func:`addon_points`
dip_build     :func:`build_dip_directory` (the directory format is :mod:`drgdip.grouper.dip_directory`,
              DIP grouping :mod:`drgdip.grouper.dip`; :meth:`WeightTable.from_dip_directory` reads its scores)
demo_dip      the demo DIP directory of ``data/demo/dip`` and how it was made
"""

from drgdip.pointvalue.rules import (AuxTypingRules, BedDayPhase, BedDayRules, Calibration, DipBuildRules,
                              HighTier, HospitalCoefTable, OutlierRules, PointsPolicy, PublishedTableRules,
                              RemoteRules, SpecialReviewRules, Trim, points_policy_from_mapping)
from drgdip.pointvalue.weights import DipScores, DrgWeights, GroupWeights, WeightTable
from drgdip.pointvalue.published import PublishedTable, price_stays, published_table_names, read_published_table
from drgdip.pointvalue.coefs import group_level_coefs, hospital_level_coefs, insured_pool
from drgdip.pointvalue.bedday import bed_day_payment, bed_day_points
from drgdip.pointvalue.points import BREAKDOWN_COLUMNS, OUTLIER_CLASSES, case_points
from drgdip.pointvalue.special import special_review_candidates, special_review_quota
from drgdip.pointvalue.rate import addon_points, drg_rate, payment_standard

__all__ = [
    "AuxTypingRules", "BedDayPhase", "BedDayRules", "Calibration", "DipBuildRules", "HospitalCoefTable",
    "HighTier", "OutlierRules", "PointsPolicy", "PublishedTableRules", "RemoteRules", "SpecialReviewRules", "Trim",
    "PublishedTable", "price_stays", "published_table_names", "read_published_table",
    "points_policy_from_mapping", "DipScores", "DrgWeights", "GroupWeights", "WeightTable",
    "hospital_level_coefs", "group_level_coefs", "insured_pool", "bed_day_payment", "bed_day_points",
    "BREAKDOWN_COLUMNS",
    "OUTLIER_CLASSES", "case_points", "special_review_candidates", "special_review_quota",
    "build_dip_directory", "addon_points", "drg_rate", "payment_standard",
]


def __getattr__(name):
    if name == "build_dip_directory":  # imports the DIP grouper; loaded on first use
        from drgdip.pointvalue.dip_build import build_dip_directory
        return build_dip_directory
    raise AttributeError(f"module 'pointvalue' has no attribute {name!r}")
