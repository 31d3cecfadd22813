"""What the demo DIP directory is made of: procedure attributes derived from a DRG scheme, severity lists,
and an illustrative history for tests of the builder.

Nothing here is a real region's data. The demo directory in ``data/demo/dip`` is built from the demo
province's own history by :func:`drgdip.demo.build_demo_dip_directory` (so that it covers the province
``drgdip demo`` settles); rebuild it with::

    python -c "from drgdip.demo import build_demo_dip_directory; build_demo_dip_directory('data/demo/dip')"

Procedure attributes (:func:`derive_proc_attributes`), a documented heuristic on the scheme's tables:

* ``diagnostic`` -- ICD-9-CM-3 chapters 87-89 (imaging, diagnostic measures), or a name with
  检查 (examination), 活检 / 活组织检查 (biopsy) or 造影 (angiography);
* ``interventional`` -- an operating-room procedure (``valid_proc.csv``) whose name says 经皮
  (percutaneous), 腔内 (endoluminal), 支架 (stent), 栓塞 (embolisation) or 封堵 (occlusion);
* ``surgery`` -- any other operating-room procedure (``valid_proc.csv``);
* ``conservative`` -- 93.* (physical therapy, non-invasive ventilation), 99.0* (transfusion),
  57.94 (urinary catheter): routine medical care that does not make a procedural group;
* ``therapeutic`` -- every other procedure (intubation, ventilation, chemotherapy injection, ...).

Severity lists (``severity_dx.csv``): the scheme's MCC codes are ``severe`` and its CC codes
``moderate`` (the Jining CC/MCC reading of auxiliary typing, domain.md §3.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["derive_proc_attributes", "severity_from_cc", "demo_history"]

_DIAGNOSTIC_WORDS = ("检查", "活检", "活组织检查", "造影")
_INTERVENTIONAL_WORDS = ("经皮", "腔内", "支架", "栓塞", "封堵")


def _read(scheme_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(scheme_dir / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def derive_proc_attributes(scheme_dir) -> pd.DataFrame:
    """``proc, attribute`` for every code of the scheme's ``proc_names.csv`` (rules in the module docstring)."""
    scheme_dir = Path(scheme_dir)
    names = _read(scheme_dir, "proc_names.csv")
    valid = set(_read(scheme_dir, "valid_proc.csv")["code"])
    code = names["code"].astype(str)
    name = names["name"].astype(str)
    is_valid = code.isin(valid).to_numpy()
    diagnostic = code.str.slice(0, 2).isin(["87", "88", "89"]).to_numpy() | \
        name.str.contains("|".join(_DIAGNOSTIC_WORDS)).to_numpy()
    interventional = is_valid & name.str.contains("|".join(_INTERVENTIONAL_WORDS)).to_numpy()
    conservative = (code.str.startswith("93.") | code.str.startswith("99.0") |
                    code.str.startswith("57.94")).to_numpy()
    attribute = np.select([diagnostic, interventional, is_valid, conservative],
                          ["diagnostic", "interventional", "surgery", "conservative"], default="therapeutic")
    return pd.DataFrame({"proc": code, "attribute": attribute}).drop_duplicates("proc").reset_index(drop=True)


def severity_from_cc(scheme_dir) -> pd.DataFrame:
    """``dx, severity``: MCC codes severe, CC codes moderate."""
    cc = _read(Path(scheme_dir), "cc.csv")
    return pd.DataFrame({"dx": cc["code"], "severity": np.where(cc["level"] == "MCC", "severe", "moderate")})


# relative cost of a stay by the class of its main procedure (illustrative)
STRUCTURE_SEED = 20261122

_CLASS_COST = {"conservative": 1.0, "diagnostic": 1.25, "therapeutic": 1.6, "surgery": 2.6, "interventional": 3.2}


def demo_history(scheme_dir, n_cases: int = 60_000, years=(2021, 2022, 2023), seed: int = 20261122) -> pd.DataFrame:
    """An illustrative settled history over the demo scheme's codes (numpy only; not a real region).

    Each principal diagnosis gets a base cost; about half the cases carry a procedure of the same
    MDC's ADRG lists (else a diagnostic or conservative one, or none); secondary CC/MCC diagnoses,
    death, age and hospital level raise or lower the lognormal cost; costs grow 4% a year.
    """
    # the case mix (popularity, costs, plausible procedures of each diagnosis) is fixed; ``seed``
    # only draws the cases, so histories of different seeds come from one region
    mix = np.random.default_rng(STRUCTURE_SEED)
    rng = np.random.default_rng(seed)
    scheme_dir = Path(scheme_dir)
    mdc_dx = _read(scheme_dir, "mdc_dx.csv")
    adrg = _read(scheme_dir, "adrg.csv")
    codes = _read(scheme_dir, "adrg_codes.csv").merge(adrg[["adrg", "mdc"]], on="adrg")
    attributes = derive_proc_attributes(scheme_dir).set_index("proc")["attribute"]
    cc = _read(scheme_dir, "cc.csv")

    dx_pool = mdc_dx.drop_duplicates("code")
    dx_codes = dx_pool["code"].to_numpy(dtype=object)
    dx_mdc = dx_pool["mdc"].to_numpy(dtype=object)
    popularity = mix.zipf(1.6, len(dx_codes)).astype(float)
    popularity = np.minimum(popularity, 40) / np.minimum(popularity, 40).sum()
    dx_base = np.exp(mix.normal(np.log(8000), 0.45, len(dx_codes)))
    procs_by_mdc = {m: g.loc[g["list"].isin(["ss", "ss1"]), "code"].drop_duplicates().to_numpy(dtype=object)
                    for m, g in codes.groupby("mdc")}
    diagnostic = attributes.index[attributes == "diagnostic"].to_numpy(dtype=object)
    conservative = attributes.index[attributes == "conservative"].to_numpy(dtype=object)
    therapeutic = attributes.index[attributes == "therapeutic"].to_numpy(dtype=object)

    # each diagnosis has a few plausible procedures: up to two of its MDC's ADRG procedures, one
    # diagnostic and one therapeutic one
    n_dx = len(dx_codes)
    plausible = np.full((n_dx, 4), "", dtype=object)
    for k in range(n_dx):  # a few dozen diagnoses, once each
        pool = procs_by_mdc.get(dx_mdc[k])
        if pool is not None and len(pool):
            plausible[k, :2] = mix.choice(pool, 2, replace=len(pool) < 2)
        plausible[k, 2] = diagnostic[mix.integers(0, len(diagnostic))]
        plausible[k, 3] = therapeutic[mix.integers(0, len(therapeutic))]
    d = rng.choice(n_dx, n_cases, p=popularity)
    mdc = dx_mdc[d]
    kind = rng.random(n_cases)
    column = np.select([kind < 0.3, kind < 0.45, kind < 0.6, kind < 0.7], [0, 1, 2, 3], default=-1)
    main = np.where(column >= 0, plausible[d, np.maximum(column, 0)], "")
    extra = np.where(rng.random(n_cases) < 0.25, conservative[rng.integers(0, len(conservative), n_cases)], "")
    related = np.where((main != "") & (column < 2) & (rng.random(n_cases) < 0.15), plausible[d, 3], "")
    proc = pd.Series(main + "|" + related + "|" + extra).str.replace(r"\|+", "|", regex=True).str.strip("|")

    cc_codes = cc["code"].to_numpy(dtype=object)
    cc_mcc = (cc["level"] == "MCC").to_numpy()
    has_cc = rng.random(n_cases) < 0.3
    pick = rng.integers(0, len(cc_codes), n_cases)
    secondary = np.where(has_cc, cc_codes[pick], "")
    secondary = np.where(secondary == dx_codes[d], "", secondary)
    dx = pd.Series(dx_codes[d] + "|" + secondary).str.strip("|")

    age = np.clip(rng.normal(55, 20, n_cases).round(), 1, 99).astype(np.int64)
    newborn = mdc == "MDCP"
    age[newborn] = 0
    age_days = np.where(newborn, rng.integers(0, 28, n_cases), age * 365)
    birth_weight = np.where(newborn, rng.integers(900, 4200, n_cases), 0)
    died = rng.random(n_cases) < 0.015
    los = np.maximum(1, rng.poisson(7, n_cases) + (main != "") * 2).astype(np.int64)
    level = rng.choice([1, 2, 3], n_cases, p=[0.2, 0.35, 0.45])
    year = rng.choice(np.asarray(years), n_cases)

    klass = attributes.reindex(main).fillna("conservative").to_numpy(dtype=object)
    factor = np.array([_CLASS_COST[k] for k in klass])  # over the five class names only
    severe = has_cc & cc_mcc[pick]
    cost = dx_base[d] * factor * np.where(related != "", 1.25, 1.0) * np.where(severe, 1.7, np.where(has_cc, 1.2, 1.0))
    cost *= np.where(died, 1.6, 1.0) * np.where(age >= 65, 1.1, 1.0) * np.array([0.0, 0.8, 1.0, 1.2])[level]
    cost *= 1.04 ** (year - min(years)) * rng.lognormal(0, 0.35, n_cases)
    return pd.DataFrame({
        "case_id": [f"H{i:06d}" for i in range(n_cases)], "year": year, "hospital_level": level,
        "gender": rng.integers(1, 3, n_cases), "age": age, "age_days": age_days, "birth_weight": birth_weight,
        "los": los, "leaving_type": np.where(died, 5, 1), "dx": dx, "proc": proc, "total_cost": cost.round(2)})
