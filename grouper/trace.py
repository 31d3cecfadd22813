"""Why a case got its group: a structured trace of every grouping decision, and its English text.

The trace is recorded by the very kernel function that groups batches (``_group_case`` with an
event buffer), so it always agrees with :func:`drgdip.grouper.group_cases`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numba
import numpy as np
import pandas as pd

from drgdip.grouper import io
from drgdip.grouper._kernels import (
    EV_ADRG, EV_CC, EV_DRG, EV_DX_MATCH, EV_FALLTHROUGH, EV_MDC, EV_MDC_DX, EV_NO_DRG, EV_PROC_GROUPS,
    EV_PROC_MATCH, EV_QY, EV_TRAUMA, _trace_case,
)
from drgdip.grouper.drg import group_encoded, result_labels
from drgdip.grouper.scheme import (
    ADRG_ATOMS, CC_MCC, MDC_ATOMS, Scheme,
)

_MDC_ATOM_NAMES = {flag: name for name, flag in MDC_ATOMS.items()}
_ADRG_ATOM_NAMES = {flag: name for name, flag in ADRG_ATOMS.items()}

_VALIDATION_TEXT = {
    "invalid_input:gender_missing": "gender is empty",
    "invalid_input:gender_invalid": "gender is not 1, 2, 男 or 女",
    "invalid_input:gender_invalid:text": "gender is not the text 1 or 2",
    "invalid_input:age_missing": "age is empty",
    "invalid_input:age_days_missing": "age is 0 but age_days is empty",
    "invalid_input:birth_weight_missing": "a newborn (age 0, age_days <= 28) has no birth weight",
    "invalid_input:parse_error": "age (or a newborn's age_days) is not an integer",
    "invalid_input:dx_missing": "the diagnosis list is empty",
    "unmapped_dx": "a diagnosis code is not in the scheme's dx_map",
    "unmapped_proc": "a procedure code is not in the scheme's proc_map",
}


@dataclass(frozen=True)
class Step:
    """One decision: what was tested, whether it held, and the codes involved."""

    kind: str    # validation, mdc, adrg, trauma, complication, drg, ambiguous, fallthrough
    passed: bool
    code: str    # the MDC / ADRG / DRG / diagnosis code the step is about
    detail: dict[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Trace:
    """Result of one case with the steps that led to it."""

    case_id: str
    status: str
    mdc: str
    adrg: str
    drg: str
    dx: tuple[str, ...]
    proc: tuple[str, ...]
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        """Readable English, one decision per line."""
        lines = [f"Case {self.case_id}: status {self.status}, MDC {self.mdc}, ADRG {self.adrg}, "
                 f"DRG {self.drg}"]
        lines.append("  diagnoses:  " + (" | ".join(repr(c) if c != c.strip() or not c else c
                                                     for c in self.dx) or "(none)"))
        lines.append("  procedures: " + (" | ".join(self.proc) or "(none)"))
        not_entered: dict[str, list[str]] = {}
        for step in self.steps:
            if step.kind == "mdc" and not step.passed:
                not_entered.setdefault(step.detail["failed"], []).append(step.code)
                continue
            if not_entered:
                lines.extend(_not_entered_lines(not_entered))
                not_entered = {}
            indent = "    " if step.kind in ("adrg", "complication", "drg", "trauma") else "  "
            lines.append(indent + step.text)
        lines.extend(_not_entered_lines(not_entered))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


_MDC_FAILURE_TEXT = {
    "main_proc_valid": "main procedure is not an operating-room procedure",
    "principal_dx": "principal diagnosis not in their lists",
    "gender": "gender does not match (only the integers 1/2 enter sex-specific MDCs)",
    "age_years": "age in years does not match",
    "age_years_strict": "age is not the integer required (a text age never matches)",
    "trauma_regions": "fewer distinct trauma regions than required",
    "any_dx": "no diagnosis in their lists",
}


def _not_entered_lines(groups: dict[str, list[str]]) -> list[str]:
    return [f"  not entered ({_MDC_FAILURE_TEXT[atom]}): {', '.join(codes)}"
            for atom, codes in groups.items()]


def _names(scheme: Scheme, stem: str, codes) -> dict[str, str]:
    """Names of just ``codes`` from a names table (a vectorised scan, no per-call dictionary)."""
    table = scheme.tables.get(stem)
    if table is None:
        return {}
    rows = table[table["code"].isin(list(codes))]
    return dict(zip(rows["code"], rows["name"]))


def _label(code: str, names: Mapping[str, str]) -> str:
    name = names.get(code)
    shown = repr(code) if (not code or code != code.strip()) else code
    return f"{shown} ({name})" if name else shown


def explain_case(case: Mapping[str, Any] | pd.Series, scheme: Scheme, *,
                 gender_aliases: bool = False, map_codes: bool = False) -> Trace:
    """Group one case and return the trace of every decision (validation, MDC, ADRG, CC, DRG)."""
    # One case gains nothing from threads; on a busy machine their start-up costs far more.
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _explain(case, scheme, gender_aliases=gender_aliases, map_codes=map_codes)
    finally:
        numba.set_num_threads(threads)


def _explain(case, scheme: Scheme, *, gender_aliases: bool, map_codes: bool) -> Trace:
    record = dict(case)
    record.setdefault("case_id", "case")
    for name in io.GROUPING_COLUMNS:
        record.setdefault(name, None if name in ("age_days", "birth_weight") else "")
    frame = pd.DataFrame([{k: record[k] for k in record}])
    table = next(io.iter_case_batches(frame))
    encoded = io.encode_batch(table, scheme, gender_aliases=gender_aliases, map_codes=map_codes)
    grouped = group_encoded(encoded, scheme)
    dx_ids = encoded.dx_ids[encoded.dx_ptr[0]:encoded.dx_ptr[1]]
    proc_ids = encoded.proc_ids[encoded.proc_ptr[0]:encoded.proc_ptr[1]]
    dx = tuple(_raw_codes(record.get("dx"), empty_is_none=False))
    proc = tuple(_raw_codes(record.get("proc"), empty_is_none=True))
    status = io.STATUS_TOKENS[int(grouped.status[0])]
    mdc_labels, adrg_labels, drg_labels = result_labels(scheme)
    group = int(grouped.group[0])
    steps: list[Step] = []
    if int(encoded.status[0]) != io.OK:
        reason = status + (":text" if scheme.gender_typing == "text" and status.endswith("gender_invalid") else "")
        steps.append(Step("validation", False, status, {"reason": status},
                          f"validation failed: {_VALIDATION_TEXT.get(reason, status)}; not grouped"))
    else:
        steps.append(Step("validation", True, "", {}, "validation passed"))
        events = _record_events(dx_ids, proc_ids, encoded, scheme)
        steps.extend(_describe(events, dx, proc, scheme))
        if status == "no_group":
            steps.append(Step("result", False, "", {}, "no MDC yielded an ADRG: no_group"))
    return Trace(case_id=str(record["case_id"]), status=status, mdc=str(mdc_labels[group]),
                 adrg=str(adrg_labels[group]), drg=str(drg_labels[group]), dx=dx, proc=proc,
                 steps=tuple(steps))


def _raw_codes(value, *, empty_is_none: bool) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        value = ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text = str(value)
    if empty_is_none and text == "":
        return []
    return text.replace(",", "|").split("|")


def _record_events(dx_ids, proc_ids, encoded, scheme: Scheme) -> np.ndarray:
    size = 64 + 4 * (len(scheme.mdc_codes) + len(scheme.adrg_codes) + len(dx_ids) + len(proc_ids))
    while True:
        events = np.zeros((size, 4), dtype=np.int64)
        count = np.zeros(1, dtype=np.int64)
        _trace_case(dx_ids, proc_ids, encoded.gender[0], encoded.age[0], encoded.age_integer[0],
                    encoded.age_days[0], encoded.birth_weight[0], encoded.los[0], scheme.compiled, events,
                    count)
        if count[0] <= size:
            return events[:count[0]]
        size = int(count[0])


def _describe(events: np.ndarray, dx: tuple[str, ...], proc: tuple[str, ...],
              scheme: Scheme) -> list[Step]:
    dx_names, proc_names = _names(scheme, "dx_names", dx), _names(scheme, "proc_names", proc)
    mdc_names = dict(zip(scheme.tables["mdc"]["mdc"], scheme.tables["mdc"]["name"]))
    adrg_names = dict(zip(scheme.tables["adrg"]["adrg"], scheme.tables["adrg"]["name"]))
    drg_names = dict(zip(scheme.tables["drg"]["drg"], scheme.tables["drg"]["name"]))
    drg = scheme.tables["drg"]
    drg_rule = dict(zip(drg["drg"], zip(drg["split_rule"], drg["age_max"], drg["los_min"], drg["los_max"])))
    mdc_rule = dict(zip(scheme.tables["mdc"]["mdc"], scheme.tables["mdc"]["entry_rule"]))
    adrg = scheme.tables["adrg"]
    adrg_keys = list(zip(adrg["adrg"], adrg["variant"]))
    adrg_rule = dict(zip(adrg_keys, adrg["entry_rule"]))
    adrg_groups = dict(zip(adrg_keys, adrg["proc_groups"]))
    principal = _label(dx[0], dx_names) if dx else "''"
    main_proc = _label(proc[0], proc_names) if proc else "(none)"
    steps: list[Step] = []
    pending: list[str] = []  # evidence recorded before the ADRG/MDC verdict it belongs to
    for kind, a, b, c in events.tolist():
        if kind == EV_TRAUMA:
            regions = [scheme.trauma_regions[k] for k in range(len(scheme.trauma_regions)) if b >> k & 1]
            pending.append(f"{c} trauma region(s): {', '.join(regions) or 'none'}")
        elif kind == EV_MDC_DX:
            pending.append(f"diagnosis {_label(dx[b], dx_names)}"
                           + (" (principal)" if b == 0 else f" (position {b + 1})") + " is in its list")
        elif kind == EV_DX_MATCH:
            pending.append(f"{_ADRG_ATOM_NAMES[a]} on diagnosis {_label(dx[b], dx_names)}"
                           + (" (principal)" if b == 0 else f" (position {b + 1})"))
        elif kind == EV_PROC_MATCH:
            what = f"{_ADRG_ATOM_NAMES[a]} on procedure {_label(proc[b], proc_names)}"
            if c >= 0:
                what += f" with {_label(proc[c], proc_names)}"
            pending.append(what)
        elif kind == EV_PROC_GROUPS:
            slot = scheme.compiled.adrg_pg_slot[a]
            labels = [lab for k, lab in enumerate(scheme.proc_group_names[slot]) if b >> k & 1]
            expression = adrg_groups[(scheme.adrg_codes[a], scheme.adrg_variants[a])]
            pending.append(f"procedure groups present {{{', '.join(labels)}}} "
                           f"{'satisfy' if c else 'do not satisfy'} {expression}")
        elif kind == EV_MDC:
            code = str(scheme.mdc_codes[a])
            if b:
                why = f"entry rule {mdc_rule[code]} holds"
                if "principal_dx" in mdc_rule[code]:
                    why += f"; principal diagnosis {principal} is in its list"
                if "main_proc_valid" in mdc_rule[code]:
                    why += f"; main procedure {main_proc} is an operating-room procedure"
                if pending:
                    why += "; " + "; ".join(pending)
                steps.append(Step("mdc", True, code, {"rule": mdc_rule[code]},
                                  f"entered {code} {mdc_names.get(code, '')}: {why}"))
            else:
                atom = _MDC_ATOM_NAMES[c]
                steps.append(Step("mdc", False, code, {"failed": atom, "evidence": list(pending)}))
            pending = []
        elif kind == EV_ADRG:
            code, variant = str(scheme.adrg_codes[a]), str(scheme.adrg_variants[a])
            rule = adrg_rule[(code, variant)]
            label = f"{code} {adrg_names.get(code, '')}".rstrip() + (f" (rule {variant})" if variant else "")
            detail = {"rule": rule, **({"variant": variant} if variant else {})}
            if b:
                text = f"matched ADRG {label}: {rule}" + (f" ({'; '.join(pending)})" if pending else "")
                steps.append(Step("adrg", True, code, {**detail, "evidence": pending}, text))
            else:
                atom = _ADRG_ATOM_NAMES[c]
                steps.append(Step("adrg", False, code, {**detail, "failed": atom},
                                  f"not {label}: {_adrg_failure(atom, principal, main_proc)}"))
            pending = []
        elif kind == EV_CC:
            level = "MCC" if b == CC_MCC else "CC"
            code = dx[a]
            if c:
                text = (f"secondary {_label(code, dx_names)} is {_article(level)} but is excluded by the "
                        f"principal diagnosis (same exclusion table)")
            else:
                text = f"secondary {_label(code, dx_names)} is {_article(level)} and counts"
            steps.append(Step("complication", not c, code,
                              {"level": level, "excluded": bool(c), "position": a + 1}, text))
        elif kind == EV_DRG:
            code = str(scheme.drg_codes[a])
            rule, age_max, los_min, los_max = drg_rule[code]
            label = f"{code} {drg_names.get(code, '')}".rstrip()
            text = (f"DRG {label}: split rule {rule}{_split_parameters(age_max, los_min, los_max)} "
                    + ("holds" if b else "does not hold") + (" (no condition)" if rule == "always" else ""))
            steps.append(Step("drg", bool(b), code, {"split_rule": rule}, text))
        elif kind == EV_NO_DRG:
            code = str(scheme.adrg_codes[a])
            steps.append(Step("drg", True, code, {"split_rule": None},
                              f"no DRG of {code} applies: the result is the ADRG code {code}"))
        elif kind == EV_QY:
            code = str(scheme.qy_codes[a])
            steps.append(Step("ambiguous", True, code, {"procedure": proc[b]},
                              f"ambiguous group {code}: operating-room procedure "
                              f"{_label(proc[b], proc_names)} matched no surgical ADRG"))
        elif kind == EV_FALLTHROUGH:
            code = str(scheme.mdc_codes[a])
            steps.append(Step("fallthrough", False, code, {},
                              f"no ADRG of {code} matched: continue with the next MDC"))
    return steps


def _split_parameters(age_max: str, los_min: str, los_max: str) -> str:
    """The age and length-of-stay limits of a split rule, as text (empty when it has none)."""
    limits = []
    if age_max != "":
        limits.append(f"age <= {age_max}")
    if los_min != "":
        limits.append(f"los >= {los_min}")
    if los_max != "":
        limits.append(f"los < {los_max}")
    return f" ({', '.join(limits)})" if limits else ""


def _article(level: str) -> str:
    return f"an {level}" if level == "MCC" else f"a {level}"


def _adrg_failure(atom: str, principal: str, main_proc: str) -> str:
    return {
        "principal_dx": f"principal diagnosis {principal} not in its diagnosis list",
        "any_dx": "no diagnosis in its diagnosis list",
        "main_proc": f"main procedure {main_proc} not in its procedure list",
        "main_proc_valid": f"main procedure {main_proc} is not an operating-room procedure",
        "proc_pair": "no procedure pair from its two lists",
        "proc_groups": "procedure groups do not satisfy its expression",
        "no_valid_proc": "the case has an operating-room procedure",
        "main_proc_not_valid": f"main procedure {main_proc} is an operating-room procedure",
        "any_proc": "no procedure in its procedure list",
        "any_proc_ss2": "no procedure in its third procedure list",
        "secondary_dx1": "no secondary diagnosis in its secondary-diagnosis list",
        "newborn": "not a newborn by age in days",
        "birth_weight": "birth weight missing, zero or outside its band",
        "always": "",
    }[atom]
