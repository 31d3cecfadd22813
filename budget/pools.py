"""Pooling areas, pools and the regional total budget (区域总额预算) split over them (§6.1, §7).

A *pooling area* is a treatment region (``pooling: region``) or a whole province (``pooling:
province``); it has one budget and one reserve. Its money is shared over *pools*, each with its
own point value: one per insurance type when ``point_value.by_insurance_type``, and a separate pool
for in-province remote stays (省内异地) when ``remote_pool.pool`` is ``separate``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from drgdip.budget._kernels import _layout_kernel
from drgdip.budget.frame import CaseArrays
from drgdip.budget.money import allocate_grouped, fen, group_sum, round_fen
from drgdip.budget.policy import Policy
from drgdip.core.errors import UsageError

__all__ = ["Layout", "History", "area_of_regions", "remote_flags", "build_layout", "map_history", "AreaBudget",
           "check_area_figures",
           "area_budgets", "last_year_funds", "STATUS_CROSS_PROVINCE", "STATUS_OTHER_REGION"]

STATUS_CROSS_PROVINCE = "out_of_scope:cross_province"
STATUS_OTHER_REGION = "out_of_scope:region"


@dataclass(frozen=True)
class Layout:
    """Where each case is settled.

    ``area`` / ``pool`` are -1 for cases outside the budget. Pools are numbered area by area.
    """

    area: np.ndarray            # int32[n]
    area_labels: np.ndarray     # object[n_areas]
    remote: np.ndarray          # bool[n] in-province remote stay (insured elsewhere in the province)
    pool: np.ndarray            # int32[n]
    pool_area: np.ndarray       # int64[n_pools]
    pool_insurance: np.ndarray  # object[n_pools] insurance type of the pool ("all" when not split)
    pool_remote: np.ndarray     # bool[n_pools] the separate remote pool
    pool_labels: np.ndarray     # object[n_pools]

    @property
    def n_areas(self) -> int:
        return len(self.area_labels)

    @property
    def n_pools(self) -> int:
        return len(self.pool_labels)


def area_of_regions(region_labels: np.ndarray, policy: Policy) -> np.ndarray:
    """Pooling-area label of each region label (the region itself, or its province prefix)."""
    prefix = policy.points.remote.province_prefix_len
    if policy.pooling == "province":
        return np.asarray([str(r)[:prefix] for r in region_labels], dtype=object)
    return np.asarray([str(r) for r in region_labels], dtype=object)


def _region_tables(region_labels: np.ndarray, policy: Policy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per region label: candidate area label index, province code, settled by the policy."""
    prefix = policy.points.remote.province_prefix_len
    _, province = np.unique(np.asarray([str(r)[:prefix] for r in region_labels], dtype=object),
                            return_inverse=True)
    area_label = area_of_regions(region_labels, policy)
    candidates, candidate = np.unique(area_label, return_inverse=True)
    wanted = (np.isin(region_labels, np.asarray(policy.regions, dtype=object)) if policy.regions
              else np.ones(len(region_labels), dtype=bool))
    return candidates, candidate.astype(np.int64), province.astype(np.int64), wanted


def remote_flags(arrays: CaseArrays, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """(in-province remote, cross-province) flags of each stay (numpy; for history tables)."""
    _, _, province, _ = _region_tables(arrays.region_labels, policy)
    region = np.maximum(arrays.region, 0)
    insured = arrays.insured_region
    insured = np.maximum(insured, 0)
    same_region = (arrays.insured < 0) | (arrays.insured == arrays.region)
    same_province = province[region] == province[insured]
    return ~same_region & same_province, ~same_region & ~same_province


def build_layout(arrays: CaseArrays, policy: Policy) -> tuple[CaseArrays, Layout]:
    """Areas and pools of the settlement year; cross-province stays and stays treated outside
    ``policy.regions`` leave the budget with their own status."""
    candidates, candidate, province, wanted = _region_tables(arrays.region_labels, policy)
    arrays, cross_code = arrays.status_code(STATUS_CROSS_PROVINCE)
    arrays, other_code = arrays.status_code(STATUS_OTHER_REGION)
    split_type = policy.point_value.by_insurance_type
    separate = policy.remote_pool.pool == "separate"
    n_types = len(arrays.insurance_labels) if split_type else 1
    status = arrays.status.copy()
    area, pool, remote, pool_keys, area_ids = _layout_kernel(
        arrays.region, arrays.insured, status, arrays.insurance, candidate, province, wanted,
        np.int8(cross_code), np.int8(other_code), n_types, split_type, separate, max(len(candidates), 1))
    arrays = replace(arrays, status=status)
    used = area_ids >= 0
    area_labels = np.empty(int(used.sum()), dtype=object)
    area_labels[area_ids[used]] = candidates[used] if len(candidates) else []
    pool_candidate = pool_keys // (n_types * 2)
    pool_area = area_ids[pool_candidate] if len(pool_keys) else np.zeros(0, dtype=np.int64)
    pool_ins = (pool_keys // 2) % n_types
    pool_remote = (pool_keys % 2).astype(bool)
    pool_insurance = (arrays.insurance_labels[pool_ins] if split_type
                      else np.full(len(pool_keys), "all", dtype=object)).astype(object)
    labels = []
    for a, ins, rem in zip(pool_area, pool_insurance, pool_remote):
        label = str(area_labels[a])
        if split_type:
            label += f"/{ins}"
        if rem:
            label += "/remote"
        labels.append(label)
    layout = Layout(area=area, area_labels=area_labels, remote=remote, pool=pool,
                    pool_area=pool_area.astype(np.int64), pool_insurance=pool_insurance,
                    pool_remote=pool_remote, pool_labels=np.asarray(labels, dtype=object))
    return arrays, layout


@dataclass(frozen=True)
class History:
    """Earlier years' stays mapped onto the settlement year's areas, pools and hospitals.

    ``area``, ``pool`` and ``hospital`` (the settlement year's numbering) are -1 where the history
    stay has no counterpart (outside the budget, or a pool / hospital absent from the settlement year).
    """

    stays: CaseArrays
    year: np.ndarray       # int64[n] year of each stay
    area: np.ndarray       # int64[n]
    pool: np.ndarray       # int64[n]
    hospital: np.ndarray   # int64[n]
    remote: np.ndarray     # bool[n] in-province remote stay


def map_history(history: CaseArrays, years: np.ndarray, current: CaseArrays, layout: Layout,
                policy: Policy) -> History:
    """Area, pool, hospital (in the settlement year's numbering) and remote flag of each history stay."""
    remote, cross = remote_flags(history, policy)
    ok = history.in_scope & ~cross
    _, _, _, wanted = _region_tables(history.region_labels, policy)
    ok &= wanted[np.maximum(history.region, 0)]
    area_index = {label: k for k, label in enumerate(layout.area_labels)}
    region_area = area_of_regions(history.region_labels, policy)
    area_of_region = np.asarray([area_index.get(a, -1) for a in region_area], dtype=np.int64)
    area = np.where(ok, area_of_region[np.maximum(history.region, 0)] if len(area_of_region) else -1, -1)

    split_type = policy.point_value.by_insurance_type
    separate = policy.remote_pool.pool == "separate"
    pool_index = {(int(a), ins if split_type else "all", bool(rem) and separate): k for k, (a, ins, rem) in
                  enumerate(zip(layout.pool_area, layout.pool_insurance, layout.pool_remote))}
    n_types = len(history.insurance_labels)
    table = np.full((max(layout.n_areas, 1), n_types, 2), -1, dtype=np.int64)
    for a in range(layout.n_areas):
        for t in range(n_types):
            for r in (0, 1):
                key = (a, history.insurance_labels[t] if split_type else "all", bool(r) and separate)
                table[a, t, r] = pool_index.get(key, -1)
    pool = np.where(area >= 0, table[np.maximum(area, 0), history.insurance, remote.astype(np.int64)], -1)
    area = np.where(pool >= 0, area, -1)

    hospital_index = {label: k for k, label in enumerate(current.hospital_labels)}
    hospital_map = np.asarray([hospital_index.get(h, -1) for h in history.hospital_labels], dtype=np.int64)
    hospital = np.where(history.hospital >= 0, hospital_map[np.maximum(history.hospital, 0)]
                        if len(hospital_map) else -1, -1)
    return History(stays=history, year=years, area=area, pool=pool, hospital=hospital, remote=remote)


# ---------------------------------------------------------------------------------------- budget

@dataclass(frozen=True)
class AreaBudget:
    """The money of each pooling area and pool, in fen.

    ``total = base + remote_add``; ``reserve`` is held back; ``distributable = total − reserve``
    is shared over the area's pools (``pool_money``); ``unplaced`` is distributable money no pool
    could take (no pool with a positive split weight), which stays with the reserve.
    """

    base: np.ndarray          # int64[n_areas] budget by the policy's method
    remote_add: np.ndarray    # int64[n_areas] remote money added to the area's total
    total: np.ndarray         # int64[n_areas]
    reserve: np.ndarray       # int64[n_areas]
    distributable: np.ndarray  # int64[n_areas]
    pool_money: np.ndarray    # int64[n_pools]
    unplaced: np.ndarray      # int64[n_areas]
    last_year: int | None     # history year used for last-year figures


def _by_area(value, area_labels: np.ndarray, key: str, file: str | None) -> np.ndarray:
    """A yuan figure (one number or {area: yuan}) as fen per area."""
    if isinstance(value, Mapping):
        missing = [str(a) for a in area_labels if str(a) not in value]
        if missing:
            raise UsageError(f"no figure for pooling area(s) {', '.join(missing[:5])}; "
                             f"the policy lists {', '.join(map(str, list(value)[:5]))}", file=file, field=key)
        return np.asarray([fen(value[str(a)]) for a in area_labels], dtype=np.int64)
    if len(area_labels) > 1:
        raise UsageError(f"one number for {len(area_labels)} pooling areas "
                         f"({', '.join(map(str, area_labels[:5]))}); give {{area: yuan}} for each",
                         file=file, field=key)
    return np.full(len(area_labels), fen(value), dtype=np.int64)


def check_area_figures(policy: Policy, area_labels: np.ndarray) -> None:
    """Raise :func:`area_budgets`' error for a budget figure (one number or {area: yuan}) that does not fit
    the pooling areas ``area_labels`` of a whole province: for a settlement done area by area."""
    rules, remote_rules, file = policy.budget, policy.remote_pool, policy.source or None
    figures = {"amount": [("budget.amount", rules.amount)],
               "growth": [("budget.last_year_fund", rules.last_year_fund)] if rules.last_year_fund is not None else [],
               "share": [("budget.inpatient_fund_budget", rules.inpatient_fund_budget)],
               "items": [("budget.inpatient_fund_budget", rules.inpatient_fund_budget),
                         ("budget.items_reserve", rules.items_reserve), ("budget.items_remote", rules.items_remote),
                         ("budget.items_other", rules.items_other)]}.get(rules.method, [])
    if remote_rules.budget_method == "amount":
        figures.append(("remote_pool.amount", remote_rules.amount))
    for key, value in figures:
        _by_area(value, area_labels, key, file)


def last_year_funds(history: History | None, layout: Layout, year: int | None,
                    explicit_remote: bool) -> tuple[int | None, np.ndarray | None, np.ndarray | None]:
    """(the last history year before ``year``, the fund paid in it per area, without the remote stays
    when the remote money is budgeted apart, and per pool), in fen; Nones without such a year."""
    if history is None or not len(history.year):
        return None, None, None
    earlier = history.year[history.area >= 0]
    if year is not None:
        earlier = earlier[earlier < year]
    if not len(earlier):
        return None, None, None
    last_year = int(earlier.max())
    sel = (history.year == last_year) & (history.area >= 0)
    hist_local = sel & ~(history.remote & explicit_remote)
    return (last_year, group_sum(history.area[hist_local], history.stays.fund_fen[hist_local], layout.n_areas),
            group_sum(history.pool[sel], history.stays.fund_fen[sel], layout.n_pools))


def area_budgets(policy: Policy, layout: Layout, pool_fund: np.ndarray, pool_remote_fund: np.ndarray,
                 history: History | None, year: int | None, history_funds: tuple | None = None) -> AreaBudget:
    """Total budget, reserve and pool money of every pooling area (§6.1), in fen.

    ``pool_fund`` / ``pool_remote_fund`` are the fund paid in the settlement year for all / the
    remote settled stays of each pool; ``history_funds`` is :func:`last_year_funds` of ``history``
    when the caller has it already.
    """
    rules = policy.budget
    remote_rules = policy.remote_pool
    file = policy.source or None
    n_areas = layout.n_areas
    explicit_remote = remote_rules.budget_method != "included"
    area_fund = group_sum(layout.pool_area, pool_fund, n_areas)
    area_remote_fund = group_sum(layout.pool_area, pool_remote_fund, n_areas)
    last_year, hist_fund_area, hist_fund_pool = history_funds if history_funds is not None else \
        last_year_funds(history, layout, year, explicit_remote)

    method = rules.method
    if method == "amount":
        base = _by_area(rules.amount, layout.area_labels, "budget.amount", file)
    elif method == "growth":
        if rules.last_year_fund is not None:
            last = _by_area(rules.last_year_fund, layout.area_labels, "budget.last_year_fund", file)
        else:
            if hist_fund_area is None:
                raise UsageError("budget method 'growth' needs last_year_fund or the previous year's "
                                 "stays in the input", file=file, field="budget.last_year_fund")
            last = hist_fund_area
            empty = [str(a) for a, v in zip(layout.area_labels, last) if v <= 0]
            if empty:
                raise UsageError(f"no fund paid in {last_year} for pooling area(s) {', '.join(empty[:5])}; "
                                 f"give budget.last_year_fund", file=file, field="budget.last_year_fund")
        base = round_fen(last * (1.0 + rules.growth_rate))
    elif method == "share":
        inpatient = _by_area(rules.inpatient_fund_budget, layout.area_labels, "budget.inpatient_fund_budget",
                             file)
        base = round_fen(inpatient * rules.last_year_share)
    elif method == "items":
        base = (_by_area(rules.inpatient_fund_budget, layout.area_labels, "budget.inpatient_fund_budget", file)
                - _by_area(rules.items_reserve, layout.area_labels, "budget.items_reserve", file)
                - _by_area(rules.items_remote, layout.area_labels, "budget.items_remote", file)
                - _by_area(rules.items_other, layout.area_labels, "budget.items_other", file))
        if (base < 0).any():
            raise UsageError("the deducted items exceed the inpatient fund budget", file=file,
                             field="budget.items_other")
    else:  # actual_fund
        fund = area_fund - area_remote_fund if explicit_remote else area_fund
        base = round_fen(fund * rules.actual_fund_factor)

    if remote_rules.budget_method == "amount":
        remote_add = _by_area(remote_rules.amount, layout.area_labels, "remote_pool.amount", file)
    elif remote_rules.budget_method == "actual_fund":
        remote_add = round_fen(area_remote_fund * remote_rules.actual_fund_factor)
    else:
        remote_add = np.zeros(n_areas, dtype=np.int64)

    base_reserve = round_fen(base * rules.reserve_share)
    remote_reserve = round_fen(remote_add * rules.reserve_share)
    total = base + remote_add
    reserve = base_reserve + remote_reserve

    # pots: the area's local money, and its remote money when the remote pool is separate and sized apart
    separate_pot = (remote_rules.pool == "separate") and explicit_remote
    pot_of_pool = layout.pool_area * 2 + (layout.pool_remote & separate_pot)
    pot_money = np.zeros(n_areas * 2, dtype=np.int64)
    if separate_pot:
        pot_money[0::2] = base - base_reserve
        pot_money[1::2] = remote_add - remote_reserve
    else:
        pot_money[0::2] = total - reserve

    if rules.split == "actual_fund":
        weight = pool_fund.astype(np.float64)
    elif rules.split == "last_year_fund":
        if hist_fund_pool is None:
            raise UsageError("budget split 'last_year_fund' needs the previous year's stays in the input",
                             file=file, field="budget.split")
        weight = hist_fund_pool.astype(np.float64)
    else:
        shares = rules.insurance_type_shares
        weight = np.asarray([shares.get(str(t), 0.0) for t in layout.pool_insurance], dtype=np.float64)
    pool_money, unplaced_pot = allocate_grouped(pot_of_pool, weight, pot_money, n_areas * 2)
    unplaced = unplaced_pot[0::2] + unplaced_pot[1::2]
    return AreaBudget(base=base, remote_add=remote_add, total=total, reserve=reserve,
                      distributable=total - reserve, pool_money=pool_money, unplaced=unplaced,
                      last_year=last_year)
