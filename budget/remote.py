"""Provincial clearing of in-province remote stays (省内异地就医清算) (§7, [REM]).

A remote stay is paid at the treatment location like a local one; the fund share of the stay is
owed by the patient's insured region. The clearing table lists, for each insured region, treatment
region and hospital, the stays, their points, the fund due at settlement, the fund they recorded
under fee-for-service and the difference (fund due − recorded fund: in a common pool, what the
treatment location's local money paid for them beyond their recorded fund); the matrix sums the
fund due per (insured region, treatment region). Its total equals the fund due of the remote stays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.budget.money import group_sum, to_yuan

__all__ = ["clearing_table", "clearing_matrix", "CLEARING_COLUMNS"]

CLEARING_COLUMNS = ("insured_region", "treatment_region", "hospital_id", "cases", "points", "fund_due",
                    "ffs_fund", "difference")


def clearing_table(remote: np.ndarray, insured: np.ndarray, region: np.ndarray, hospital: np.ndarray,
                   region_labels: np.ndarray, hospital_labels: np.ndarray, points: np.ndarray,
                   payment_yuan: np.ndarray, ffs_fen: np.ndarray) -> pd.DataFrame:
    """Fund money each insured region owes each treatment region and hospital for remote stays.

    Parameters
    ----------
    remote : bool[n]
        Settled in-province remote stays.
    insured, region, hospital : int64[n]
        Codes into ``region_labels`` / ``hospital_labels``.
    points : float64[n]
    payment_yuan : float64[n]
        Fund due of the stay at settlement (yuan holding whole fen; turned back into fen exactly).
    ffs_fen : int64[n]
        The fund the stay recorded under fee-for-service.
    """
    if not remote.any():
        return pd.DataFrame({c: pd.Series(dtype=object if c in CLEARING_COLUMNS[:3] else np.float64)
                             for c in CLEARING_COLUMNS})
    n_regions = np.int64(len(region_labels))
    n_h = np.int64(len(hospital_labels))
    rows = np.flatnonzero(remote)
    key = (insured[rows].astype(np.int64) * n_regions + region[rows]) * n_h + hospital[rows]
    keys, inverse = np.unique(key, return_inverse=True)
    cases = np.bincount(inverse, minlength=len(keys))
    pts = np.bincount(inverse, weights=points[rows], minlength=len(keys))
    fund = group_sum(inverse, np.rint(payment_yuan[rows] * 100.0).astype(np.int64), len(keys))
    ffs = group_sum(inverse, ffs_fen[rows], len(keys))
    h = keys % n_h
    r = (keys // n_h) % n_regions
    i = keys // (n_h * n_regions)
    return pd.DataFrame({
        "insured_region": region_labels[i], "treatment_region": region_labels[r],
        "hospital_id": hospital_labels[h], "cases": cases.astype(np.int64), "points": pts,
        "fund_due": to_yuan(fund), "ffs_fund": to_yuan(ffs), "difference": to_yuan(fund - ffs),
    })


def clearing_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Insured region (rows) × treatment region (columns) of the fund due, yuan, with totals."""
    if table.empty:
        return pd.DataFrame({"insured_region": pd.Series(dtype=object), "total": pd.Series(dtype=np.float64)})
    fen = (table["fund_due"].to_numpy() * 100).round().astype(np.int64)
    frame = table.assign(_fen=fen)
    matrix = frame.pivot_table(index="insured_region", columns="treatment_region", values="_fen",
                               aggfunc="sum", fill_value=0)
    matrix["total"] = matrix.sum(axis=1)
    matrix.loc["total"] = matrix.sum(axis=0)
    matrix = matrix / 100.0
    matrix.columns.name = None
    return matrix.reset_index()
