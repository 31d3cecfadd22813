"""Settlement phase 3: share each pool's money over hospitals, then over their stays (§6.3).

A pool's money shared by points goes to its hospitals in proportion to their (fund-weighted)
points, then from each hospital to its stays, both times by largest remainder
(:func:`~drgdip.budget._kernels.largest_remainder`): hospital amounts add up to the pool's money and
stay amounts to the hospital's, exactly. Remainders that tie at the cut are settled by hospital id
and by case id, so no amount depends on the order of the rows (float sums of points may differ in
their last bits with the order; a fen moves only where two remainders are that close without
being equal). The stays' payments are then summed per hospital row (pooling area × hospital),
with the monthly fund due at the budget point value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drgdip.budget._kernels import (HospitalSums, StayPayments, cell_prices, cell_sum_words, chunk_bounds,
                                    hospital_sum_words, hospital_sums, hospital_sums_of, pair_counts, price_cells,
                                    stay_weights)
from drgdip.budget.inputs import SettlementInput
from drgdip.budget.money import group_sum, share_by_weight
from drgdip.budget.policy import Policy
from drgdip.budget.valuation import PointValues

__all__ = ["HospitalRows", "Shares", "share_money", "hospital_rows", "hospital_words", "cell_words", "price_cell_sums"]

HOSPITAL_SUMS_PER_ROW = 18   # buffer cells per hospital row: 9 integer sums, 3 fixed-point sums of 3 words
CELL_SUMS_PER_CELL = 11      # buffer cells per price cell: 3 fixed-point sums of 3 words, 2 integer sums


@dataclass(frozen=True)
class HospitalRows:
    """One row per pooling area and hospital with stays settled there, in (area, hospital) order."""

    area: np.ndarray         # int64[n_rows]
    hospital: np.ndarray     # int64[n_rows]
    row_of_pair: np.ndarray  # int64[n_areas * n_hospitals] row of each (area, hospital), -1 none

    @property
    def n(self) -> int:
        return len(self.area)


@dataclass(frozen=True)
class Shares:
    """The money each hospital row and each stay gets from its pool."""

    rows: HospitalRows
    sums: HospitalSums        # fund due, fee-for-service fund, cases, ... per hospital row
    payments: StayPayments | None   # per-stay payment and point value (None: shared per hospital only)


def share_money(year_input: SettlementInput, values: PointValues, policy: Policy, *, per_stay: bool = True) -> Shares:
    """Pools → hospitals → stays by largest remainder, then the sums per hospital row.

    A pair's weight and a row's monthly fund due at the budget point value are priced per price
    cell (:func:`~drgdip.budget._kernels.cell_prices`). Without ``per_stay`` the money stops at the
    (pool, hospital) pairs: a hospital row's fund due is the money of its pairs plus what its stays
    add or take whatever their shares (fixed payments, minus the patients' share on that basis),
    which is exactly the sum of its stays' shares, since those add up to their pair's money. The
    remote stays' fund due is then unknown (-1).
    """
    stays, layout = year_input.stays, year_input.layout
    n_hospitals = year_input.n_hospitals
    n_pairs = layout.n_pools * n_hospitals
    use_ratio = policy.point_value.basis == "total_cost"
    rows = year_input.remembered(("hospital_rows",), lambda: hospital_rows(year_input))
    prices = values.prices
    pair_weight, month_due = year_input.remembered(
        ("cell_prices", use_ratio, prices.basis, prices.fund_ratio.tobytes(), prices.budget_point_value.tobytes()),
        lambda: _priced_cells(year_input, rows, prices, use_ratio))
    pair_money = _share_pools(pair_weight, values.values.gross, year_input.arrays.hospital_labels, layout.n_pools)
    points_scale = float(policy.points.points_scale)
    if not per_stay:
        without = hospital_sums_of(hospital_words(year_input, rows, prices, points_scale), rows.n)
        present = np.flatnonzero(pair_money)
        pool, hospital = present // n_hospitals, present % n_hospitals
        row = rows.row_of_pair[layout.pool_area[pool] * n_hospitals + hospital]
        sums = without._replace(fund_due=without.fund_due + group_sum(row, pair_money[present], rows.n),
                                remote_fund_due=np.full(rows.n, -1, dtype=np.int64), month_due=month_due)
        return Shares(rows=rows, sums=sums, payments=None)
    weights = year_input.remembered(("stay_weights", use_ratio, prices.fund_ratio.tobytes()), lambda: stay_weights(
        chunk_bounds(len(stays.pool), 1), stays, prices.fund_ratio, use_ratio, n_hospitals))
    stay_gross, _ = share_by_weight(weights.pair, weights.weight, pair_money, n_pairs, year_input.case_id)
    del weights
    sums, payments = hospital_sums(chunk_bounds(len(stays.pool), rows.n * HOSPITAL_SUMS_PER_ROW), stays, stay_gross,
                                   prices, rows.row_of_pair, rows.n, n_hospitals, points_scale, True)
    return Shares(rows=rows, sums=sums._replace(month_due=month_due), payments=payments)


def hospital_words(year_input: SettlementInput, rows: HospitalRows, prices, points_scale: float) -> tuple:
    """The sums per hospital row without the shares of the pools' money, as exact words
    (:func:`~drgdip.budget._kernels.hospital_sum_words`; of ``prices`` only the basis counts),
    remembered with the input."""
    stays = year_input.stays
    return year_input.remembered(("hospital_sum_words", prices.basis, points_scale), lambda: hospital_sum_words(
        chunk_bounds(len(stays.pool), rows.n * HOSPITAL_SUMS_PER_ROW), stays, np.zeros(0, dtype=np.int64), prices,
        rows.row_of_pair, rows.n, year_input.n_hospitals, points_scale, False)[0])


def cell_words(stays, cell: np.ndarray, n_cells: int) -> tuple:
    """The sums per price cell (:func:`~drgdip.budget._kernels.cell_sum_words`) of ``stays``, ``cell`` the
    price cell of each."""
    return cell_sum_words(chunk_bounds(len(stays.pool), n_cells * CELL_SUMS_PER_CELL), stays, cell, n_cells)


def _priced_cells(year_input: SettlementInput, rows: HospitalRows, prices, use_ratio: bool) -> tuple:
    """(pair weights, monthly fund due per row) of :func:`~drgdip.budget._kernels.cell_prices`."""
    cells, words, cell_row = price_cell_sums(year_input, rows)
    return cell_prices(*words, cells.pool, cells.hospital, cells.insured, cell_row, cells.month, prices, use_ratio,
                       max(year_input.n_hospitals, 1), rows.n)


def price_cell_sums(year_input: SettlementInput, rows: HospitalRows) -> tuple:
    """The input's price cells, their sums (:func:`~drgdip.budget._kernels.cell_sum_words`) and the hospital
    row of each cell, remembered with the input."""
    stays, layout = year_input.stays, year_input.layout
    n_hospitals = max(year_input.n_hospitals, 1)
    cells = year_input.remembered(("price_cells",), lambda: price_cells(stays, layout.n_pools, n_hospitals,
                                                                        year_input.n_regions))
    words = year_input.remembered(("cell_sum_words",), lambda: cell_words(stays, cells.cell, cells.n))
    cell_row = year_input.remembered(("cell_rows",), lambda: rows.row_of_pair[
        layout.pool_area[cells.pool] * n_hospitals + cells.hospital])
    return cells, words, cell_row


def _share_pools(pair_weight: np.ndarray, pool_gross: np.ndarray, hospital_labels: np.ndarray,
                 n_pools: int) -> np.ndarray:
    """Fen of each (pool, hospital) pair: the pool's gross shared over its hospitals with weight
    (ties at the cut by hospital id)."""
    n_hospitals = max(len(hospital_labels), 1)
    present = np.flatnonzero(pair_weight > 0)
    amount, _ = share_by_weight(present // n_hospitals, pair_weight[present], pool_gross, n_pools,
                                hospital_labels[present % n_hospitals])
    pair_money = np.zeros(len(pair_weight), dtype=np.int64)
    pair_money[present] = amount
    return pair_money


def hospital_rows(year_input: SettlementInput) -> HospitalRows:
    """The (pooling area, hospital) pairs that have settled stays."""
    stays = year_input.stays
    n_hospitals = max(year_input.n_hospitals, 1)
    n_areas = max(year_input.layout.n_areas, 1)
    counts = pair_counts(chunk_bounds(len(stays.pool), n_areas * n_hospitals), stays.area, stays.hospital,
                         n_areas, n_hospitals)
    present = counts > 0
    keys = np.flatnonzero(present)
    row_of_pair = np.where(present, np.cumsum(present) - 1, -1).astype(np.int64)
    return HospitalRows(area=keys // n_hospitals, hospital=keys % n_hospitals, row_of_pair=row_of_pair)
