"""Every shipped policy settles the demo province to the fen per hospital recorded in ``tests/golden``.

The golden files were written by the settlement engine before its restructuring into phases; any
change of behaviour shows up here as a hospital whose money moved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.budget import load_policy, settle_province

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
POLICIES = sorted((REPO / "data" / "policies").glob("*.yaml"))
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
DEMO_DIP = REPO / "data" / "demo" / "dip"
MONEY = ("total_cost", "ffs_fund", "fund_due", "assessment_withheld", "deductions", "fund_due_assessed",
         "surplus", "surplus_kept", "surplus_returned", "overspend_shared", "final_payment", "gain_vs_ffs",
         "prepaid", "revolving_fund", "clearing_payment")
POINT_VALUES = ("settlement_point_value", "effective_point_value", "budget_point_value")


def _hex(values) -> list[str]:
    return [float.hex(float(v)) for v in values]


@pytest.mark.parametrize("policy_file", POLICIES, ids=lambda p: p.stem)
def test_shipped_policy_settles_as_recorded(demo_province_dir, policy_file):
    policy = load_policy(policy_file)
    grouping = {"dip": DEMO_DIP} if policy.points.is_dip else {"scheme": DEMO_SCHEME}
    settlement = settle_province(demo_province_dir, policy, **grouping)

    expected = pd.read_csv(GOLDEN / f"{policy_file.stem}.hospitals.csv", dtype={"area": str, "hospital_id": str})
    hospitals = settlement.hospitals
    assert list(hospitals["area"].astype(str)) == list(expected["area"])
    assert list(hospitals["hospital_id"].astype(str)) == list(expected["hospital_id"])
    assert hospitals["cases"].tolist() == expected["cases"].tolist()
    for column in MONEY:
        got = np.rint(hospitals[column].to_numpy(dtype=np.float64) * 100).astype(np.int64)
        moved = np.flatnonzero(got != expected[f"{column}_fen"].to_numpy())
        assert not len(moved), (f"{column}: {len(moved)} hospital(s) differ, e.g. "
                                f"{expected['hospital_id'].iloc[moved[0]]}: {got[moved[0]]} fen, "
                                f"recorded {expected[f'{column}_fen'].iloc[moved[0]]}")
    np.testing.assert_allclose([float.fromhex(v) for v in _hex(hospitals["points"])],
                               [float.fromhex(v) for v in expected["points"]], rtol=1e-12)

    pools = pd.read_csv(GOLDEN / f"{policy_file.stem}.pools.csv", dtype={"area": str, "pool": str})
    assert list(settlement.pools["pool"].astype(str)) == list(pools["pool"])
    for column in POINT_VALUES:
        np.testing.assert_allclose(settlement.pools[column].to_numpy(dtype=np.float64),
                                   [float.fromhex(v) for v in pools[column]], rtol=1e-12, equal_nan=True)
