"""Derive the weight table that synthetic costs follow under a scheme version from a city's published table.

The shipped default for the national CHS-DRG 1.1 scheme, ``data/weights/chs-drg-1.1.csv``, is made from
Yantai's 2023 table (烟台2023.csv of OpenDRG/DRG_Datas, folder ``Payment/``): of the 27 published tables it
is one of the two that list every one of the scheme's 628 DRG codes, and the only one of them that gives
an RW for each (see ``data/weights/README.md``). Run from the repository root::

    python scripts/derive_synth_weights.py ../shared/payment/烟台2023.csv ../shared/chs-drg-1.1 \\
        data/weights/chs-drg-1.1.csv

The published file is read as it is: UTF-8 with a byte-order mark, DRG code in ``DRG编码``, name in
``DRG组名称``, weight in ``RW`` (other columns are not used). The output has one row per DRG of the
scheme, in the scheme's order, in the engine's weight-table format (``group``, ``rw``; plus ``adrg``,
``name`` and ``rw_source``), readable by ``WeightTable.from_csv`` and ``drgdip synth --weights``.

Yantai publishes RW 1 (exactly; every other RW has four decimals) as a placeholder for groups it does
not pay by weight: heart, liver, pancreas/kidney, pancreas and lung transplants (AA19-AD19, AF19),
neonatal heart and other surgery (PB19, PJ19), RA49; other cities give them RWs of 2 to 55. Such an RW
is treated as not published. A scheme DRG without a usable RW in the published table is filled by the rule synth applies to any
table (:mod:`drgdip.synth.group_costs`: from its ADRG siblings, else from synth's own ADRG model with the
default parameters and seed 0); ``rw_source`` says which (``published``, ``adrg_siblings``,
``synth_model``). Published groups that are no DRG of the scheme (Yantai's 0000, 000P and the QY groups)
are left out. The script prints how many rows took each way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ENCODING = "utf-8-sig"
PLACEHOLDER_RW = 1.0     # Yantai's "not paid by weight" marker (see the module docstring)
CODE, NAME, RW = "DRG编码", "DRG组名称", "RW"


def published_table(path: Path) -> pd.DataFrame:
    """``group``, ``name``, ``rw`` of the published file (RW NaN where the cell is empty)."""
    raw = pd.read_csv(path, encoding=ENCODING, dtype=str, keep_default_na=False)
    missing = [c for c in (CODE, NAME, RW) if c not in raw.columns]
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}; header is {list(raw.columns)}")
    return pd.DataFrame({"group": raw[CODE].str.strip(), "name": raw[NAME].str.strip(),
                         "rw": pd.to_numeric(raw[RW].str.strip(), errors="coerce")})


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
    usable = published[(published["rw"] > 0) & (published["rw"] != PLACEHOLDER_RW)]
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


if __name__ == "__main__":
    main()
