"""Derive a DIP directory (病种目录库) from settled history, as domain.md §3 describes.

Steps, on the history years that the calibration uses (the latest ``len(year_weights)``):

1. Keys per case: principal-diagnosis subcategory (e.g. ``K35.8``), main procedure (the first one
   whose attribute is not conservative), the set of other non-conservative procedures ("related"),
   the case's procedure class (main procedure's, or the highest with ``attribute_source: highest``).
2. **Core groups** (核心病种): (subcategory, main procedure) -- (subcategory) alone for medical
   cases -- with at least ``core_threshold`` cases, or, with ``core_coverage``, the largest threshold
   whose core groups still cover that share of the cases.
3. **Related procedures**: a (subcategory, main, related set) combination with at least the threshold
   of cases whose weighted mean cost is at least ``1 + related_proc_min_uplift`` times that of the
   cases with the same subcategory and main procedure and no related procedure (all of them when there
   is none) becomes its own core group.
4. **Comprehensive groups** (综合病种): the other cases by (diagnosis prefix, procedure class), prefix
   lengths ``comprehensive_fallback`` in turn (3 = category); a group under ``comprehensive_min_cases``,
   or whose cost CV is above ``comprehensive_cv_max`` (the local CV limit, DIP3 §3.3), passes its cases
   to the next length; cases left after the last length stay ungrouped.
5. History is grouped with the directory itself (:func:`drgdip.grouper.dip.group_dip`), and the scores come
   from :class:`drgdip.pointvalue.DipScores` on those groups (weighted means, trimming, ``score_method``).
   Groups that end up with no case are removed and the history regrouped.
6. **Basic groups** (基层病种): core groups with ``n_cases >= basic_group_min_cases`` and
   ``cv <= basic_group_cv_max`` (medical core groups only with ``basic_group_medical_only``);
   ``basic_coef`` = the group's mean cost at ``secondary_level`` hospitals / its mean cost, when the
   history has ``hospital_level``.
7. **Auxiliary typing** (辅助分型), core groups only, on untrimmed costs: a group with at least
   ``aux_min_cases_group`` cases in the latest year; a subtype with at least ``aux_min_cases_sub`` of
   them; typing kept when it lowers the CV by ``aux_trigger_cv_drop``, measured as
   ``1 − sqrt(SSW / SST)`` of the partition {subtype, rest} in the latest year. ``trigger`` = subtype
   mean / group mean in the latest year; ``aux_coef`` = year-weighted subtype mean / year-weighted group
   mean. ``kinds`` chooses the subtype families: death, severity, age, icu, and the malignant-tumour
   (a high-cost stay costs at least 3 x the built group's mean cost, as the grouper checks) and
   Charlson (``cci``) subtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.errors import UsageError, rows_in_file
from drgdip.grouper.dip import HIGH_COST_FACTOR, group_dip, prepare_dip_cases
from drgdip.grouper.dip_codes import code_lists, diagnosis_subcategory
from drgdip.grouper.dip_directory import ATTRIBUTES, PROC_CLASSES, SUBTYPES, DipDirectory, class_of_attribute
from drgdip.core.checks import number_column
from drgdip.core.tables import read_table, source_name
from drgdip.pointvalue.rules import Calibration, DipBuildRules, PointsPolicy
from drgdip.pointvalue.weights import DipScores, weighted_group_means

__all__ = ["build_dip_directory"]

_SUBTYPES_OF_KIND = {"death": ("death",), "severity": ("severe", "moderate"),
                     "age": ("age_0_28d", "age_29d_1y", "age_1_6y", "age_7_17y", "age_65y_plus"),
                     "icu": ("icu_2_7d", "icu_8_14d", "icu_15_30d", "icu_31d_plus"),
                     "tumour": ("tumour_high_cost_1", "tumour_high_cost_2", "tumour_metastasis",
                                "tumour_radiotherapy", "tumour_chemotherapy"),
                     "cci": ("cci_1_2", "cci_3_4", "cci_5_plus")}
_HIGH_COST = ("tumour_high_cost_1", "tumour_high_cost_2")


def _case_keys(frame: pd.DataFrame, attributes: pd.DataFrame, rules: DipBuildRules, file: str) -> pd.DataFrame:
    """Per case: subcategory, main procedure, related set ('+'-joined, sorted), class, has_dx."""
    n = len(frame)
    dx_ptr, dx_flat, no_principal = code_lists(frame["dx"], n, "dx", file, first_empty=True)
    proc_ptr, proc_flat = code_lists(frame["proc"] if "proc" in frame.columns else None, n, "proc", file)
    has_dx = (np.diff(dx_ptr) > 0) & ~no_principal
    sub = np.full(n, "", dtype=object)
    if has_dx.any():
        principal = dx_flat.take(pa.array(dx_ptr[:-1][has_dx], pa.int64()))
        sub[has_dx] = diagnosis_subcategory(principal).to_numpy(zero_copy_only=False)
    vocab = pd.Index(attributes["proc"].to_numpy(dtype=object))
    klass_of = class_of_attribute(attributes["attribute"], rules.interventional_as)
    ids = vocab.get_indexer(proc_flat.to_numpy(zero_copy_only=False)) if len(proc_flat) else np.zeros(0, np.int64)
    item_class = np.where(ids >= 0, klass_of[np.maximum(ids, 0)] if len(klass_of) else 0, 0).astype(np.int8)
    owner = np.repeat(np.arange(n), np.diff(proc_ptr))
    procedural = item_class > 0
    proc_codes = proc_flat.to_numpy(zero_copy_only=False) if len(proc_flat) else np.zeros(0, dtype=object)
    main = np.full(n, "", dtype=object)
    main_class = np.zeros(n, dtype=np.int8)
    highest = np.zeros(n, dtype=np.int8)
    np.maximum.at(highest, owner, item_class)
    items = np.flatnonzero(procedural)
    first_owner, first_pos = np.unique(owner[items], return_index=True)
    main_item = items[first_pos]
    main[first_owner] = proc_codes[main_item]
    main_class[first_owner] = item_class[main_item]
    is_main = np.zeros(len(proc_codes), dtype=bool)
    is_main[main_item] = True
    related_items = np.flatnonzero(procedural & ~is_main)
    rel = pd.DataFrame({"owner": owner[related_items], "code": proc_codes[related_items]})
    rel = rel[rel["code"] != pd.Series(main[rel["owner"].to_numpy()], index=rel.index)]
    rel = rel.drop_duplicates().sort_values(["owner", "code"], kind="stable")
    related = np.full(n, "", dtype=object)
    if len(rel):
        owners = rel["owner"].to_numpy()
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        offsets = np.r_[starts, len(owners)].astype(np.int32)
        lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(rel["code"].to_numpy(dtype=object), pa.string()))
        related[owners[starts]] = pc.binary_join(lists, "+").to_numpy(zero_copy_only=False)
    case_class = highest if rules.attribute_source == "highest" else main_class
    return pd.DataFrame({"has_dx": has_dx, "sub": sub, "main": main, "related": related,
                         "case_class": case_class.astype(np.int64)})


def _core_threshold(counts: np.ndarray, n_cases: int, rules: DipBuildRules) -> int:
    if rules.core_coverage is None:
        return rules.core_threshold
    if len(counts) == 0:
        return rules.core_threshold
    ordered = np.sort(counts)[::-1]
    covered = np.cumsum(ordered)
    need = rules.core_coverage * n_cases
    position = int(np.searchsorted(covered, need - 1e-9, side="left"))
    return int(ordered[min(position, len(ordered) - 1)])


def _weighted_means(labels: pd.Series, year_pos: np.ndarray, cost: np.ndarray, weights: np.ndarray,
                    mode: str) -> pd.Series:
    codes, names = pd.factorize(labels)
    n_years = len(weights)
    cell = codes * n_years + year_pos
    shape = (len(names), n_years)
    count = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)
    total = np.bincount(cell, weights=cost, minlength=shape[0] * shape[1]).reshape(shape)
    return pd.Series(weighted_group_means(total, count, weights, mode), index=names)


def _first_row(file: str) -> int:
    """The row a table's first record has as the file shows it: 2 under a CSV or sheet header, else 1."""
    return 2 if file.lower().endswith((".csv", ".xlsx", ".xls")) else 1


def _check_attributes(attributes: pd.DataFrame, file: str) -> None:
    """The procedure attribute table, checked against the user's own file before anything is built."""
    first = _first_row(file)
    bad = ~attributes["attribute"].isin(ATTRIBUTES).to_numpy() | (attributes["proc"].str.strip() == "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UsageError(f"attribute must be one of {', '.join(ATTRIBUTES)} (with a proc code), got "
                         f"{attributes['attribute'].iloc[row]!r}", file=file, row=row + first, field="attribute")
    twice = attributes["proc"].duplicated().to_numpy()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        raise UsageError(f"procedure {attributes['proc'].iloc[row]!r} is listed twice", file=file, row=row + first,
                         field="proc")


def build_dip_directory(history, rules: DipBuildRules | PointsPolicy | None = None, *, proc_attributes,
                        calibration: Calibration | None = None, points_scale: float | None = None,
                        severity_dx=None, name: str = "dip", secondary_level: int = 2,
                        notes: list[str] | None = None) -> DipDirectory:
    """Build a :class:`drgdip.grouper.dip_directory.DipDirectory` from settled history cases.

    Parameters
    ----------
    history : DataFrame or path
        ``dx``, ``proc``, ``year``, ``total_cost``; optional ``los``, ``age``, ``age_days``,
        ``leaving_type``, ``icu_hours`` (auxiliary typing) and ``hospital_level`` (same-level means,
        basic coef).
    rules : DipBuildRules or PointsPolicy
        A policy supplies ``dip``, ``calibration`` and ``points_scale`` together.
    proc_attributes : DataFrame or path
        ``proc, attribute`` (conservative / diagnostic / therapeutic / surgery / interventional).
    calibration : Calibration, optional
        Year weights, trimming and score method (default :class:`Calibration`).
    points_scale : float, optional
        Score scale (default 1000).
    severity_dx : DataFrame or path, optional
        ``dx, severity`` lists for the severity subtypes.
    name : str
        Directory name written to ``meta.yaml``.
    secondary_level : int
        Hospital level whose mean cost gives ``basic_coef``.
    notes : list, optional
        Receives what the build had to fall back on (fewer history years than the year weights).
    """
    if isinstance(rules, PointsPolicy):
        calibration = calibration or rules.calibration
        points_scale = points_scale if points_scale is not None else rules.points_scale
        secondary_level = rules.hospital_coef.secondary_level
        rules = rules.dip
    rules = rules or DipBuildRules()
    calibration = calibration or Calibration()
    points_scale = 1000.0 if points_scale is None else float(points_scale)

    file = source_name(history)
    frame = read_table(history, required=("dx", "year", "total_cost"), what="history",
                       columns=("dx", "proc", "year", "total_cost", "los", "age", "age_days", "birth_weight",
                                "leaving_type", "icu_hours", "drug_cost", "treatment_cost", "hospital_level"),
                       text=("dx", "proc"))
    attributes = read_table(proc_attributes, required=("proc", "attribute"), what="procedure attributes",
                            text=("proc", "attribute"))
    attributes = attributes[["proc", "attribute"]].astype(str)
    _check_attributes(attributes, source_name(proc_attributes))
    severity = None
    if severity_dx is not None:
        severity = read_table(severity_dx, required=("dx", "severity"), what="severity diagnoses",
                              text=("dx", "severity"))[["dx", "severity"]].astype(str)
    with rows_in_file({file: np.arange(len(frame))}, file=file, first_row=_first_row(file)):
        year = number_column(frame, "year", file=file, lo=None, integer=True)
        cost = number_column(frame, "total_cost", file=file)
    weights = np.asarray(calibration.year_weights, dtype=np.float64)
    years = np.unique(year)[-len(weights):]
    if len(years) < len(weights) and notes is not None:
        notes.append(f"the history has {len(years)} year(s) ({', '.join(map(str, years))}) for "
                     f"{len(weights)} year weights {list(calibration.year_weights)}: the scores use the last "
                     f"{len(years)} weight(s) {list(calibration.year_weights[-len(years):])}")
    weights = weights[-len(years):]
    use = np.isin(year, years)
    frame = frame.loc[use].reset_index(drop=True)
    year, cost = year[use], cost[use]
    year_pos = np.searchsorted(years, year)

    keys = _case_keys(frame, attributes, rules, file)
    grouped = keys["has_dx"].to_numpy()
    n_cases = int(grouped.sum())
    if n_cases == 0:
        raise UsageError("history has no case with a principal diagnosis", file=file, field="dx")
    base_key = np.where(keys["main"] == "", keys["sub"], keys["sub"] + ":" + keys["main"])
    base_key = pd.Series(base_key, dtype=object).where(grouped, None)
    counts = base_key.value_counts()
    threshold = _core_threshold(counts.to_numpy(), n_cases, rules)
    core_keys = set(counts.index[counts.to_numpy() >= threshold])
    in_core = base_key.isin(core_keys).to_numpy()

    # related-procedure groups
    has_related = in_core & (keys["related"] != "").to_numpy()
    full_key = pd.Series(np.where(has_related, base_key + "+" + keys["related"], base_key), dtype=object)
    full_counts = full_key[has_related].value_counts()
    candidates = full_counts.index[full_counts.to_numpy() >= threshold]
    core_mean = _weighted_means(base_key[in_core], year_pos[in_core], cost[in_core], weights,
                                calibration.year_weight_mode)
    sub_groups = []
    if len(candidates):
        pure = in_core & ~has_related
        pure_mean = _weighted_means(base_key[pure], year_pos[pure], cost[pure], weights,
                                    calibration.year_weight_mode) if pure.any() else pd.Series(dtype=float)
        full_mean = _weighted_means(full_key[has_related], year_pos[has_related], cost[has_related], weights,
                                    calibration.year_weight_mode)
        for key in candidates:  # one per candidate combination (a few hundred at most), not per case
            base = key.split("+", 1)[0]
            reference = pure_mean.get(base, np.nan)
            if not np.isfinite(reference):
                reference = core_mean[base]
            if full_mean[key] >= (1.0 + rules.related_proc_min_uplift) * reference:
                sub_groups.append(key)

    rows = []
    for key in sorted(core_keys):
        sub, _, main = key.partition(":")
        rows.append(dict(dip_group=key, dip_type="core", dx=sub, main_proc=main, related_procs="",
                         proc_class="", mean_cost=core_mean.get(key, np.nan)))
    for key in sorted(sub_groups):
        base, _, related = key.partition("+")
        sub, _, main = base.partition(":")
        rows.append(dict(dip_group=key, dip_type="core", dx=sub, main_proc=main, related_procs=related,
                         proc_class="", mean_cost=np.nan))

    # comprehensive groups with prefix fallback
    remaining = grouped & ~in_core
    principal_prefix = pd.Series(keys["sub"], dtype=object)
    class_names = np.asarray(PROC_CLASSES, dtype=object)[keys["case_class"].to_numpy()]
    for length in rules.comprehensive_fallback:
        prefix = principal_prefix.str.slice(0, length)
        comp_key = pd.Series(np.where(remaining, prefix + "/" + class_names, None), dtype=object)
        comp_counts = comp_key[remaining].value_counts()
        kept = comp_counts.index[comp_counts.to_numpy() >= rules.comprehensive_min_cases]
        if rules.comprehensive_cv_max is not None and len(kept):   # too mixed a group: its cases go on
            costs = pd.Series(cost[remaining]).groupby(comp_key[remaining].to_numpy())
            cv = (costs.std(ddof=calibration.cv_ddof) / costs.mean()).reindex(kept)
            kept = kept[(cv.fillna(0.0) <= rules.comprehensive_cv_max).to_numpy()]
        for key in sorted(kept):
            dx, _, klass = key.partition("/")
            rows.append(dict(dip_group=key, dip_type="comprehensive", dx=dx, main_proc="", related_procs="",
                             proc_class=klass, mean_cost=np.nan))
        remaining &= ~comp_key.isin(set(kept)).to_numpy()

    groups = pd.DataFrame(rows, columns=["dip_group", "dip_type", "dx", "main_proc", "related_procs",
                                         "proc_class", "mean_cost"])
    groups["score"] = 1.0
    # procedures of core groups must carry a non-conservative attribute: they do by construction
    scorer = DipScores(year_weights=tuple(calibration.year_weights), year_weight_mode=calibration.year_weight_mode,
                       trim=calibration.trim, points_scale=points_scale, score_method=calibration.score_method,
                       base_group=calibration.base_group, standard_quota_yuan=calibration.standard_quota_yuan,
                       cv_ddof=calibration.cv_ddof)
    history_frame = pd.DataFrame({"year": year, "total_cost": cost})
    if "hospital_level" in frame.columns:
        history_frame["hospital_level"] = frame["hospital_level"].to_numpy()
    for _ in range(5):  # regroup until every group keeps at least one case
        skeleton = DipDirectory(groups=groups, proc_attributes=attributes, name=name, points_scale=points_scale,
                                interventional_as=rules.interventional_as,
                                attribute_source=rules.attribute_source, source=f"<building {name}>")
        result = group_dip(frame, skeleton)
        labels = result["dip_group"].astype(object).where(result["dip_group"].notna(), None)
        used = set(labels.dropna().unique())
        if used == set(groups["dip_group"]) or len(used) == 0:
            break
        groups = groups[groups["dip_group"].isin(used)].reset_index(drop=True)
    history_frame["dip_group"] = labels.to_numpy()
    if not history_frame["dip_group"].notna().any():
        raise UsageError("no history case falls into a DIP group (check core_threshold and comprehensive_min_cases)",
                         file=file)
    scorer.fit(history_frame)
    table = scorer.table_.set_index("group")
    if scorer.score_method == "base_disease" and calibration.base_group not in table.index:
        raise UsageError(f"base group {calibration.base_group!r} is not a DIP group of the built directory")
    groups = groups[groups["dip_group"].isin(table.index)].reset_index(drop=True)
    at = table.loc[groups["dip_group"]]
    groups["score"] = at["base_points"].to_numpy()
    groups["mean_cost"] = at["mean_cost"].to_numpy()
    groups["n_cases"] = at["n_cases"].to_numpy()
    groups["cv"] = at["cv"].to_numpy()
    level_columns = [c for c in table.columns if c.startswith("mean_cost_level_")]
    for column in level_columns:
        groups[column] = at[column].to_numpy()

    # basic groups
    core = (groups["dip_type"] == "core").to_numpy()
    basic = core & (groups["n_cases"].to_numpy() >= rules.basic_group_min_cases) & \
        (groups["cv"].fillna(np.inf).to_numpy() <= rules.basic_group_cv_max)
    if rules.basic_group_medical_only:
        basic &= (groups["main_proc"] == "").to_numpy()
    groups["is_basic"] = basic
    secondary = f"mean_cost_level_{secondary_level}"
    groups["basic_coef"] = np.where(basic, groups[secondary] / groups["mean_cost"], np.nan) \
        if secondary in groups.columns else np.nan

    severity_kwargs = {} if severity is None else {"severity_dx": severity}
    try:
        skeleton = DipDirectory(groups=groups, proc_attributes=attributes, name=name, points_scale=points_scale,
                                interventional_as=rules.interventional_as, attribute_source=rules.attribute_source,
                                source=f"<building {name}>", **severity_kwargs)
    except UsageError as error:   # the severity list is the user's file: say so, with its rows
        if severity_dx is None or error.file != f"<building {name}>/severity_dx.csv":
            raise
        user = source_name(severity_dx)
        raise UsageError(error.problem, file=user, field=error.field,
                         row=None if error.row is None else error.row - 1 + _first_row(user)) from None
    aux = _aux_typing(frame, skeleton, history_frame["dip_group"], year_pos, cost, weights, rules,
                      calibration.year_weight_mode, len(years) - 1)
    return DipDirectory(groups=groups, proc_attributes=attributes, aux=aux,
                        severity_dx=skeleton.severity_dx, name=name, points_scale=points_scale,
                        all_case_mean=float(scorer.all_case_mean_), interventional_as=rules.interventional_as,
                        attribute_source=rules.attribute_source, severity_min_los=rules.aux.severity_min_los,
                        source=f"<built {name}>")


def _aux_typing(frame, directory: DipDirectory, labels: pd.Series, year_pos, cost, weights, rules: DipBuildRules,
                mode: str, latest: int) -> pd.DataFrame:
    """Auxiliary subtypes per core group (vectorised over groups, one pass per subtype)."""
    aux_rules = rules.aux
    directory = DipDirectory(groups=directory.groups, proc_attributes=directory.proc_attributes,
                             severity_dx=directory.severity_dx, severity_min_los=aux_rules.severity_min_los,
                             interventional_as=directory.interventional_as,
                             attribute_source=directory.attribute_source, source=directory.source)
    wanted = [subtype for kind in aux_rules.kinds for subtype in _SUBTYPES_OF_KIND[kind]]
    flags = prepare_dip_cases(frame, directory, subtypes=wanted).subtype_flags
    groups = directory.groups
    core = (groups["dip_type"] == "core").to_numpy()
    core_groups = pd.Index(groups.loc[core, "dip_group"])
    gid = core_groups.get_indexer(labels.astype(object).where(labels.notna(), None))
    in_core = gid >= 0
    # a high-cost tumour stay costs at least HIGH_COST_FACTOR × its group's mean, as when grouping
    directory_mean = groups.loc[core, "mean_cost"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        high_cost = in_core & (cost >= HIGH_COST_FACTOR * directory_mean[np.maximum(gid, 0)])
    n_groups = len(core_groups)
    n_years = len(weights)
    last = in_core & (year_pos == latest)
    n_last = np.bincount(gid[last], minlength=n_groups)
    s_last = np.bincount(gid[last], weights=cost[last], minlength=n_groups)
    mean_last = s_last / np.maximum(n_last, 1)
    dev = cost[last] - mean_last[gid[last]]
    sst = np.bincount(gid[last], weights=dev * dev, minlength=n_groups)
    cell = gid[in_core] * n_years + year_pos[in_core]
    shape = (n_groups, n_years)
    group_mean = weighted_group_means(
        np.bincount(cell, weights=cost[in_core], minlength=shape[0] * shape[1]).reshape(shape),
        np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape), weights, mode)
    eligible = n_last >= aux_rules.aux_min_cases_group
    rows = []
    for kind in aux_rules.kinds:
        for subtype in _SUBTYPES_OF_KIND[kind]:
            s = SUBTYPES.index(subtype)
            member = flags[:, s] & high_cost if subtype in _HIGH_COST else flags[:, s]
            sel_last = last & member
            n_sub = np.bincount(gid[sel_last], minlength=n_groups)
            s_sub = np.bincount(gid[sel_last], weights=cost[sel_last], minlength=n_groups)
            rest_n = n_last - n_sub
            mean_sub = s_sub / np.maximum(n_sub, 1)
            mean_rest = (s_last - s_sub) / np.maximum(rest_n, 1)
            # SSW = SST − between-partition SS
            ssb = n_sub * (mean_sub - mean_last) ** 2 + rest_n * (mean_rest - mean_last) ** 2
            ssw = np.maximum(sst - ssb, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                cv_drop = 1.0 - np.sqrt(ssw / sst)
            ok = eligible & (n_sub >= aux_rules.aux_min_cases_sub) & (rest_n > 0) & (sst > 0) & \
                (cv_drop >= aux_rules.aux_trigger_cv_drop)
            if not ok.any():
                continue
            sel = in_core & member
            cell_sub = gid[sel] * n_years + year_pos[sel]
            sub_mean = weighted_group_means(
                np.bincount(cell_sub, weights=cost[sel], minlength=shape[0] * shape[1]).reshape(shape),
                np.bincount(cell_sub, minlength=shape[0] * shape[1]).reshape(shape), weights, mode)
            for g in np.flatnonzero(ok):
                rows.append(dict(dip_group=core_groups[g], subtype=subtype,
                                 aux_coef=float(sub_mean[g] / group_mean[g]),
                                 trigger=float(mean_sub[g] / mean_last[g]), n_cases=int(n_sub[g]),
                                 cv_drop=float(cv_drop[g])))
    return pd.DataFrame(rows, columns=["dip_group", "subtype", "aux_coef", "trigger", "n_cases", "cv_drop"]) \
        .sort_values(["dip_group", "subtype"], kind="stable").reset_index(drop=True)
