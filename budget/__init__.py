"""Regional total budget, point value, hospital settlement and clearing (区域总额预算与结算).

Public API
----------
policy     :func:`load_policy` / :class:`Policy` (one YAML per pooling region and year)
pipeline   :func:`settle_province` -- day care, grouping, points and settlement of a province (its cases
           a Dask DataFrame too: settled on a Dask cluster, :mod:`drgdip.budget.on_cluster`);
           :func:`prepare_province` once, then :func:`settle_prepared` under many policies
settle     :func:`settle_cases` -- settlement of stays that already carry ``case_points``; :class:`Settlement`
daycare    :func:`apply_day_care`, :func:`apply_day_payments` (日间医疗)
money      :func:`allocate`, :func:`allocate_grouped` (largest remainder in integer fen)
report     :func:`format_settlement_summary`, :func:`write_settlement`
"""

from drgdip.budget.daycare import apply_day_care, apply_day_payments
from drgdip.budget.money import allocate, allocate_grouped
from drgdip.budget.on_cluster import settle_province
from drgdip.budget.pipeline import PreparedProvince, prepare_province, settle_prepared
from drgdip.budget.policy import Policy, load_policy, policy_from_mapping
from drgdip.budget.report import format_settlement_summary, write_settlement
from drgdip.budget.settle import Settlement, settle_cases

__all__ = ["Policy", "load_policy", "policy_from_mapping", "settle_province", "prepare_province", "settle_prepared",
           "PreparedProvince", "settle_cases",
           "Settlement", "apply_day_care", "apply_day_payments", "allocate", "allocate_grouped",
           "format_settlement_summary", "write_settlement"]
