"""Derive the weight table that synthetic costs follow under a scheme version from a city's published table.

The shipped default for the national CHS-DRG 1.1 scheme, ``data/weights/chs-drg-1.1.csv``, is made from
Linyi's 2022 table (临沂2022.csv of OpenDRG/DRG_Datas, folder ``Payment/``; why this one:
``data/weights/README.md``). Run from the repository root::

    python scripts/derive_synth_weights.py ../shared/payment/临沂2022.csv ../shared/chs-drg-1.1 \\
        data/weights/chs-drg-1.1.csv

The published file is read as it is: UTF-8 with a byte-order mark, DRG code in ``DRG编码``, name in
``DRG名称``, weight in ``RW``, level-2 payment standards in ``支付标准（二级职工）`` / ``支付标准（二级居民）``
(employees / residents; used only to print the base rate they imply). The output has one row per DRG of
the scheme, in the scheme's order, in the engine's weight-table format (``group``, ``rw``; plus ``adrg``,
``name`` and ``rw_source``), readable by ``WeightTable.from_csv`` and ``drgdip synth --weights``.

A scheme DRG without a positive RW in the published table (Linyi leaves the groups it settles by special
review empty) is filled by the rule synth applies to any table (:mod:`drgdip.synth.group_costs`: from its
ADRG siblings, else from synth's own ADRG model with the default parameters and seed 0); ``rw_source``
says which (``published``, ``adrg_siblings``, ``synth_model``). Published groups that are no DRG of the
scheme (Linyi's 0000, ungrouped stays) are left out. The script prints how many rows took each way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ENCODING = "utf-8-sig"
CODE, NAME, RW = "DRG编码", "DRG名称", "RW"
LEVEL2_STANDARDS = {"employees": "支付标准（二级职工）", "residents": "支付标准（二级居民）"}


def published_table(path: Path) -> pd.DataFrame:
    """``group``, ``name``, ``rw`` of the published file (RW NaN where the cell is empty)."""
    raw = pd.read_csv(path, encoding=ENCODING, dtype=str, keep_default_na=False)
    missing = [c for c in (CODE, NAME, RW) if c not in raw.columns]
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}; header is {list(raw.columns)}")
    table = pd.DataFrame({"group": raw[CODE].str.strip(), "name": raw[NAME].str.strip(),
                          "rw": pd.to_numeric(raw[RW].str.strip(), errors="coerce")})
    for who, column in LEVEL2_STANDARDS.items():
        if column in raw.columns:
            table[who] = pd.to_numeric(raw[column].str.strip(), errors="coerce")
    return table


def table_rw_of(published: pd.DataFrame, codes) -> np.ndarray:
    return published.drop_duplicates("group").set_index("group")["rw"].reindex(codes).to_numpy(dtype=np.float64)


def derive(published: pd.DataFrame, scheme_dir: Path) -> pd.DataFrame:
    from drgdip.grouper import load_scheme
    from drgdip.pointvalue.weights import WeightTable
    from drgdip.synth import SynthParams
    from drgdip.synth.group_costs import from_table, own_model
    from drgdip.synth.scheme_profile import build_profile

    scheme = load_scheme(scheme_dir)
    profile = build_profile(scheme)
    params = SynthParams()
    usable = published[published["rw"] > 0]
    table = WeightTable.from_csv(usable[["group", "rw"]])
    z = np.random.default_rng(0).standard_normal(profile.n_adrg)
    costs = from_table(profile, params, table, own_model(profile, params, z))
    codes = profile.drg_codes.astype(str)
    source = np.where(np.isin(codes, costs.info["drgs_from_adrg_siblings"]), "adrg_siblings",
                      np.where(np.isin(codes, costs.info["drgs_from_synth_model"]), "synth_model", "published"))
    rw = np.where(source == "published", table_rw_of(usable, codes), np.round(costs.drg_rw, 4))
    drg = scheme.tables["drg"]
    names = published.drop_duplicates("group").set_index("group")["name"]
    return pd.DataFrame({"group": codes, "rw": rw, "adrg": drg["adrg"].to_numpy(),
                         "name": names.reindex(codes).fillna(drg.set_index("drg")["name"]).to_numpy(),
                         "rw_source": source})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("published", type=Path, help="the city's published table (UTF-8 with BOM)")
    parser.add_argument("scheme", type=Path, help="the scheme version's folder")
    parser.add_argument("output", type=Path, help="weight table to write (CSV)")
    args = parser.parse_args(argv)
    published = published_table(args.published)
    out = derive(published, args.scheme)
    outside = sorted(set(published["group"]) - set(out["group"]))
    out.to_csv(args.output, index=False, lineterminator="\n")
    counts = out["rw_source"].value_counts()
    print(f"{args.output}: {len(out)} DRGs; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"published groups not in the scheme, left out ({len(outside)}): {' '.join(outside)}")
    for who in LEVEL2_STANDARDS:
        if who in published.columns:
            rate = (published[who] / published["rw"])[published["rw"] > 0].round(1)
            print(f"level-2 payment standard per RW, {who}: {', '.join(f'{v:g}' for v in rate.unique()[:3])}")


if __name__ == "__main__":
    main()
