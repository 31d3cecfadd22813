"""Which stays a settlement run groups, and with what: the scheme and DIP directory, each loaded once.

A province written by ``drgdip synth`` carries the DRG columns (``status``, ``mdc``, ``adrg``, ``drg``)
and records in ``province.json`` the scheme that grouped them (name, folder, content fingerprint).
Settlement groups again only the stays that need it:

* DRG: every stay with ``regroup``, or when the scheme given is not the one that grouped the stays;
  otherwise the stays without a group (no ``status`` and no ``drg`` value) and the stays whose codes
  a day-care merge changed (``needs_regroup``). The scheme is the one given, else the recorded one
  when its folder still holds the same tables; it is loaded only when some stay needs it.
* DIP: every stay with ``regroup`` or without a ``dip_group`` column, and the stays merged by day
  care, with the DIP directory given (loaded once, and its scores are the weight table).

A policy that names a built-in scheme version (``points.scheme_version``) groups under that version:
it is the scheme (a ``--scheme`` given must be the same version) and the stays that carry a DRG must
have been grouped under it. The version a stay was grouped under is, first found: its
``scheme_version`` column (``drgdip group`` writes it), the scheme recorded in ``province.json``
(``drgdip synth``), else the policy's own. A stay of another version fails the run unless
``regroup`` groups every stay again under the policy's version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from drgdip.budget.case_source import GROUPING_INPUTS
from drgdip.core.errors import UsageError
from drgdip.core.frames import with_columns

__all__ = ["Grouping", "resolve_grouping", "group_stays", "DRG_COLUMNS", "DIP_COLUMNS"]

DRG_COLUMNS = ("status", "mdc", "adrg", "drg")
DIP_COLUMNS = ("dip_group", "dip_type", "dip_score", "dip_basic", "dip_aux_coef", "dip_status")


@dataclass
class Grouping:
    """The grouping sources of one run.

    ``scheme`` is a loaded scheme, a folder or None; :meth:`drg_scheme` loads a folder the first time
    a stay needs it. ``dip`` is a loaded DIP directory or None. ``stale`` says the cases' DRG
    columns were made under another scheme than ``scheme``.
    """

    scheme: object = None
    dip: object = None
    stale: bool = False
    recorded_fingerprint: str = ""
    version: str | None = None      # the policy's points.scheme_version
    recorded_version: str = ""      # the scheme that grouped the stays, as province.json records it
    notes: list = field(default_factory=list)

    def drg_scheme(self):
        """The loaded scheme, or None when the run has none (or the recorded folder has changed)."""
        if self.scheme is not None and not hasattr(self.scheme, "compiled"):
            loaded = _load_scheme(self.scheme)
            if self.recorded_fingerprint and loaded.fingerprint != self.recorded_fingerprint:
                self.notes.append(f"the scheme folder recorded in province.json ({self.scheme}) no longer holds "
                                  "the tables the stays were grouped with; give --scheme")
                loaded = None
            self.scheme = loaded
        return self.scheme


def _load_scheme(scheme):
    """The scheme of a folder or a built-in name; a bad one is the user's error (the ``scheme`` option)."""
    from drgdip.grouper import SchemeError, load_scheme

    try:
        return load_scheme(scheme)
    except SchemeError as error:
        raise UsageError(f"invalid scheme: {error}", field="scheme") from None


def _recorded_scheme(info: dict) -> tuple[str, str, str]:
    """(name, folder, fingerprint) of the scheme recorded in province.json ('' where not recorded)."""
    grouping = (info or {}).get("grouping") or {}
    return (str(grouping.get("scheme", "")), str(grouping.get("scheme_path", "")),
            str(grouping.get("scheme_fingerprint", "")))


def resolve_grouping(policy, *, scheme=None, dip=None, info: dict | None = None) -> Grouping:
    """The scheme and DIP directory of a run (loaded once), given the arguments and province.json."""
    grouping = Grouping()
    if policy.points.is_dip:
        if dip is not None:
            from drgdip.grouper.dip_directory import DipDirectory, load_dip_directory

            grouping.dip = dip if isinstance(dip, DipDirectory) else load_dip_directory(dip)
        return grouping
    name, folder, fingerprint = _recorded_scheme(info)
    version = policy.points.scheme_version
    if version is not None:
        grouping.version, grouping.recorded_version = version, name
        scheme = version if scheme is None else scheme
    if scheme is not None:
        grouping.scheme = scheme if hasattr(scheme, "compiled") else _load_scheme(scheme)
        if version is not None and grouping.scheme.name != version:
            raise UsageError(f"the scheme given ({grouping.scheme.name}) is not the policy's scheme version "
                             f"{version} (points.scheme_version): give --scheme {version}, or no --scheme",
                             field="scheme")
        # stays recorded under another version than the policy's are group_stays' to judge, stay by stay
        other_version = version is not None and bool(name) and name != version
        if fingerprint and not other_version and grouping.scheme.fingerprint != fingerprint:
            grouping.stale = True
            grouping.notes.append(f"the stays were grouped under another scheme ({name}); every stay is "
                                  f"grouped again under {grouping.scheme.name}")
    elif folder and fingerprint and Path(folder).is_dir():
        grouping.scheme = folder    # loaded, and its fingerprint checked, only if a stay needs it
        grouping.recorded_fingerprint = fingerprint
    return grouping


def _lacking_drg(frame: pd.DataFrame) -> np.ndarray:
    """Stays with no DRG result at all (never grouped)."""
    if "status" in frame.columns:
        return frame["status"].isna().to_numpy(dtype=bool)
    if "drg" in frame.columns:
        return frame["drg"].isna().to_numpy(dtype=bool)
    return np.ones(len(frame), dtype=bool)


def _check_versions(frame: pd.DataFrame, grouping: Grouping, file: str | None) -> None:
    """Fail when a stay carries a DRG made under another scheme version than the policy's (see the module)."""
    version = grouping.version
    assumed = grouping.recorded_version or version
    versions = np.full(len(frame), assumed, dtype=object)
    given = np.zeros(len(frame), dtype=bool)
    if "scheme_version" in frame.columns:
        column = frame["scheme_version"].astype(object).to_numpy()
        given = pd.notna(column) & (column != "")
        versions[given] = column[given].astype(str)
    other = ~_lacking_drg(frame) & (versions != version)
    if not other.any():
        return
    first = int(np.flatnonzero(other)[0])
    found = ", ".join(f"{name} ({count:,})" for name, count in pd.Series(versions[other]).value_counts().items())
    how = "their scheme_version column" if given[other].all() else \
        "province.json" if not given[other].any() else "their scheme_version column and province.json"
    raise UsageError(f"{int(other.sum()):,} stay(s) were grouped under another scheme version than the policy's "
                     f"{version} (points.scheme_version): {found}, as {how} says; give --regroup to group every "
                     f"stay again under {version}", file=file, row=first + 1, field="scheme_version")


def group_stays(frame: pd.DataFrame, policy, grouping: Grouping, *, regroup: bool = False,
                warnings: list[str], fetch=None, file: str | None = None) -> pd.DataFrame:
    """``frame`` with DRG (or DIP) columns for every stay, grouping only the stays that need it.

    ``fetch(columns, rows)`` gives the grouping inputs ``frame`` does not hold (codes, demographics)
    for the stays at positions ``rows``. ``file`` names ``frame`` in errors about its rows (1 = its first).
    """
    merged = frame["needs_regroup"].to_numpy(dtype=bool) if "needs_regroup" in frame.columns \
        else np.zeros(len(frame), dtype=bool)
    if policy.points.is_dip:
        return _group_dip_stays(frame, grouping, merged, regroup, warnings, fetch)
    if grouping.version is not None and not regroup:
        _check_versions(frame, grouping, file)
    rows = np.ones(len(frame), dtype=bool) if (regroup or grouping.stale) else (_lacking_drg(frame) | merged)
    if not rows.any():
        warnings.extend(grouping.notes)
        return frame
    scheme = grouping.drg_scheme()
    warnings.extend(grouping.notes)
    if scheme is None:
        if "drg" not in frame.columns or regroup:
            raise UsageError("the cases have no drg column: give a grouping scheme (--scheme)" if not regroup
                             else "--regroup needs a grouping scheme (--scheme)", field="drg")
        lacking = int((rows & ~merged).sum())
        if merged.any():
            warnings.append(f"{int(merged.sum()):,} merged stay(s) keep the DRG of their ward stay "
                            "(no scheme given to regroup them)")
        if lacking:
            warnings.append(f"{lacking:,} stay(s) have no DRG and no scheme was given: they are paid as "
                            "ungrouped stays")
        return frame
    from drgdip.grouper import group_cases

    grouped = group_cases(_grouping_inputs(frame, rows, fetch), scheme)
    if "scheme_version" in frame.columns:   # the stays grouped here say so
        grouped = grouped.assign(scheme_version=np.full(len(grouped), scheme.name, dtype=object))
    return put_columns(frame, rows, grouped, DRG_COLUMNS + ("scheme_version",))


def _grouping_inputs(frame: pd.DataFrame, rows: np.ndarray, fetch, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The stays at ``rows`` with every grouping input, and the ``extra`` columns (those ``frame``
    lacks fetched)."""
    cases = frame if rows.all() else frame.loc[rows].reset_index(drop=True)
    lacking = [c for c in GROUPING_INPUTS + extra if c not in frame.columns]
    if lacking and fetch is not None:
        fetched = fetch(lacking, np.flatnonzero(rows))
        cases = with_columns(cases, **{c: fetched[c].to_numpy() if not isinstance(fetched[c].dtype, pd.CategoricalDtype)
                                else fetched[c].array for c in fetched.columns})
    return cases


def _group_dip_stays(frame: pd.DataFrame, grouping: Grouping, merged: np.ndarray, regroup: bool,
                     warnings: list[str], fetch=None) -> pd.DataFrame:
    has_groups = "dip_group" in frame.columns
    if has_groups and not merged.any() and not regroup:
        return frame
    if grouping.dip is None:
        if not has_groups or regroup:
            raise UsageError("the cases have no dip_group column: give a DIP directory (--dip)" if not regroup
                             else "--regroup needs a DIP directory (--dip)", field="dip_group")
        warnings.append(f"{int(merged.sum()):,} merged stay(s) keep the DIP group of their ward stay "
                        "(no DIP directory given to regroup them)")
        return frame
    from drgdip.grouper.dip import group_dip

    rows = merged if has_groups and not regroup else np.ones(len(frame), dtype=bool)
    # the high-cost tumour subtypes read the stay's cost parts, when the directory types by them
    typed = set(grouping.dip.aux["subtype"]) if len(grouping.dip.aux) else set()
    extra = ("drug_cost", "treatment_cost") if typed & {"tumour_high_cost_1", "tumour_high_cost_2"} else ()
    grouped = group_dip(_grouping_inputs(frame, rows, fetch, extra), grouping.dip)
    status = grouped["dip_status"].astype(str)
    for problem, count in status[status != "ok"].value_counts().items():
        first = int(np.flatnonzero(rows)[np.flatnonzero((status == problem).to_numpy())[0]])
        cause = {"invalid_input:parse_error": "a number field that is not a number",
                 "unknown_proc": "a procedure missing from the DIP directory's proc_attributes.csv",
                 "excluded_dx": "a principal diagnosis on the DIP directory's exclusion list"}.get(problem, problem)
        which = f"case_id {frame['case_id'].iloc[first]!r}" if "case_id" in frame.columns else f"stay {first + 1}"
        warnings.append(f"{count:,} stay(s) not grouped by DIP for {cause}: dip_status {problem}, paid as the "
                        f"blank group (空白病组) (first: {which})")
    return put_columns(frame, rows, grouped, DIP_COLUMNS)


def put_columns(frame: pd.DataFrame, rows: np.ndarray, grouped: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame`` with ``columns`` of ``grouped`` written into ``rows`` (categoricals stay categoricals)."""
    present = [c for c in columns if c in grouped.columns]
    if rows.all():
        return with_columns(frame, **{c: grouped[c].to_numpy() if not isinstance(grouped[c].dtype, pd.CategoricalDtype)
                               else grouped[c].array for c in present})
    updated = {}
    positions = np.flatnonzero(rows)
    for column in present:
        new = grouped[column]
        if isinstance(new.dtype, pd.CategoricalDtype):
            old = frame[column] if column in frame.columns else pd.Series(pd.Categorical([None] * len(frame)))
            old = old if isinstance(old.dtype, pd.CategoricalDtype) else old.astype("category")
            categories = old.cat.categories.append(new.cat.categories).unique()
            codes = old.cat.set_categories(categories).cat.codes.to_numpy().copy()
            codes[positions] = new.cat.set_categories(categories).cat.codes.to_numpy()
            updated[column] = pd.Categorical.from_codes(codes, categories=categories)
        else:
            base = frame[column].to_numpy(copy=True) if column in frame.columns \
                else np.full(len(frame), np.nan if new.dtype.kind == "f" else None,
                             dtype=new.dtype if new.dtype.kind in "fb" else object)
            base[positions] = new.to_numpy()
            updated[column] = base
    return with_columns(frame, **updated)
