"""Why a case got its DIP group: the events recorded by the grouping kernel itself, as structure and text.

The trace runs :func:`drgdip.grouper._dip_kernels._dip_cases` -- the function the batch kernel runs -- with an
event buffer, so the explanation always agrees with :func:`drgdip.grouper.dip.group_dip`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from drgdip.grouper import _dip_kernels as K
from drgdip.grouper.dip import DIP_STATUSES, DIP_TYPES, kernel_args, prepare_dip_cases
from drgdip.grouper.dip_directory import PROC_CLASSES, SUBTYPES, DipDirectory, load_dip_directory

__all__ = ["explain_dip", "trace_dip_case", "DipTrace", "DipStep"]

MAX_EVENTS = 4096


@dataclass(frozen=True)
class DipStep:
    """One decision: its kind, whether it held, the group or code involved, details, and a sentence."""

    kind: str     # principal, main_procedure, class, core_candidate, core, comprehensive, subtype, aux, result
    passed: bool
    code: str
    detail: dict[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class DipTrace:
    """Result of one case and the steps that led to it."""

    dip_group: str | None
    dip_type: str
    dip_score: float
    dip_subtype: str | None
    dip_aux_coef: float
    steps: tuple[DipStep, ...]

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def to_text(self) -> str:
        """English explanation, one line per decision."""
        head = (f"DIP group {self.dip_group} ({self.dip_type}, score {self.dip_score:g})"
                if self.dip_group else "ungrouped (blank group)")
        if self.dip_subtype:
            head += f", auxiliary subtype {self.dip_subtype} x{self.dip_aux_coef:g}"
        return "\n".join([head] + [f"  {'+' if s.passed else '-'} {s.text}" for s in self.steps])


def explain_dip(case: Mapping[str, Any], directory: DipDirectory | str | Path) -> DipTrace:
    """Why one case gets its DIP group (``to_text()``, ``to_dict()``); ``directory`` may be a folder."""
    if not isinstance(directory, DipDirectory):
        directory = load_dip_directory(directory)
    return trace_dip_case(case, directory)


def trace_dip_case(case: Mapping[str, Any], directory: DipDirectory) -> DipTrace:
    """Trace one case given as a mapping of case-table fields (``dx``, ``proc``, ``los``, ...)."""
    frame = pd.DataFrame([{k: v for k, v in dict(case).items()}])
    for column in ("dx", "proc"):
        if column in frame.columns and isinstance(case.get(column), (list, tuple)):
            frame[column] = ["|".join(case[column])]
    prepared = prepare_dip_cases(frame, directory, "<case>")
    events = np.zeros((MAX_EVENTS, 4), dtype=np.int64)
    group, dip_type, aux_row, n_events = K._trace_dip_case(0, *kernel_args(prepared, directory), events)
    g = directory.groups
    c = directory.compiled
    procs = prepared.procs.to_pylist()
    principal = prepared.principal[0].as_py()
    steps = []
    case_class = PROC_CLASSES[0]
    for kind, a, b, cc in events[:min(n_events, MAX_EVENTS)]:
        if kind == K.EV_PRINCIPAL:
            if not a:
                steps.append(DipStep("principal", False, "", {}, "no principal diagnosis: the case cannot be grouped"))
            else:
                sub = c.core_dx_vocab[b] if b >= 0 else None
                steps.append(DipStep("principal", True, principal, {"core_subcategory": sub},
                                     f"principal diagnosis {principal}" +
                                     (f", subcategory {sub} has core groups" if sub else
                                      ", its subcategory has no core group")))
        elif kind == K.EV_MAIN_PROC:
            if a < 0:
                steps.append(DipStep("main_procedure", False, "", {},
                                     "no procedure other than conservative ones: medical (保守) case"))
            else:
                code = procs[a]
                steps.append(DipStep("main_procedure", True, code, {"position": int(a), "class": PROC_CLASSES[cc]},
                                     f"main procedure {code} (position {a + 1}), class {PROC_CLASSES[cc]}"))
        elif kind == K.EV_CLASS:
            case_class = PROC_CLASSES[a]
            steps.append(DipStep("class", True, PROC_CLASSES[a], {},
                                 f"procedure class of the case: {PROC_CLASSES[a]} "
                                 f"({directory.attribute_source} procedure)"))
        elif kind == K.EV_CORE_CANDIDATE:
            row = g.iloc[a]
            related = row["related_procs"]
            steps.append(DipStep("core_candidate", bool(cc), row["dip_group"],
                                 {"related_procs": related, "n_related": int(b)},
                                 f"core group {row['dip_group']}: " +
                                 (f"related procedures {related} " + ("all present" if cc else "not all present")
                                  if related else "no related procedure required")))
        elif kind == K.EV_CORE_CHOSEN:
            if a >= 0:
                steps.append(DipStep("core", True, g["dip_group"].iloc[a], {},
                                     f"core group chosen: {g['dip_group'].iloc[a]}"))
            else:
                steps.append(DipStep("core", False, "", {}, "no core group matches"))
        elif kind == K.EV_COMP_TRY:
            length = c.prefix_lengths[a]
            prefix = (principal or "")[:length]
            if cc >= 0:
                steps.append(DipStep("comprehensive", True, g["dip_group"].iloc[cc],
                                     {"prefix": prefix, "class": case_class},
                                     f"comprehensive group of {prefix} x {case_class}: {g['dip_group'].iloc[cc]}"))
            else:
                steps.append(DipStep("comprehensive", False, prefix, {"prefix": prefix, "class": case_class},
                                     f"no comprehensive group of {prefix} x {case_class}"))
        elif kind == K.EV_SUBTYPE:
            name = SUBTYPES[a]
            coef = float(c.aux_coef[b])
            steps.append(DipStep("subtype", bool(cc), name, {"aux_coef": coef, "trigger": float(c.aux_trigger[b])},
                                 f"subtype {name} (coef {coef:g}) " + ("met" if cc else "not met")))
        elif kind == K.EV_AUX_CHOSEN:
            if a >= 0:
                steps.append(DipStep("aux", True, SUBTYPES[c.aux_subtype[a]], {"aux_coef": float(c.aux_coef[a])},
                                     f"auxiliary coefficient {c.aux_coef[a]:g} ({SUBTYPES[c.aux_subtype[a]]}, "
                                     f"highest trigger)"))
            else:
                steps.append(DipStep("aux", False, "", {}, "no auxiliary subtype applies (coefficient 1)"))
        elif kind == K.EV_NEWBORN:
            steps.append(DipStep("newborn", True, g["dip_group"].iloc[b], {"birth_weight": g["birth_weight"].iloc[b]},
                                 f"newborn pre-grouping by birth weight {g['birth_weight'].iloc[b]} g: "
                                 f"{g['dip_group'].iloc[b]}"))
        elif kind == K.EV_RANGE:
            steps.append(DipStep("comprehensive", True, g["dip_group"].iloc[b], {"range": g["dx"].iloc[b],
                                                                                 "class": case_class},
                                 f"comprehensive group by category range {g['dx'].iloc[b]} x {case_class}: "
                                 f"{g['dip_group'].iloc[b]}"))
        elif kind == K.EV_RESULT:
            steps.append(DipStep("result", a >= 0, g["dip_group"].iloc[a] if a >= 0 else "",
                                 {"dip_type": DIP_TYPES[b]},
                                 f"result: {DIP_TYPES[b]}" + (f" {g['dip_group'].iloc[a]}" if a >= 0 else "")))
    status = int(prepared.status[0])
    if status:   # the input keeps the case out of every group, as group_dip does
        problem = {1: "a number field (age, LOS, cost, ...) is not a number",
                   2: "a procedure is missing from the directory's proc_attributes.csv (its class is unknown)",
                   3: "the principal diagnosis is on the directory's exclusion list (excluded_dx.csv)"}
        steps.append(DipStep("input", False, DIP_STATUSES[status], {},
                             f"not grouped, dip_status {DIP_STATUSES[status]}: {problem[status]}"))
        group, dip_type, aux_row = -1, DIP_TYPES.index("ungrouped"), -1
    return DipTrace(
        dip_group=g["dip_group"].iloc[group] if group >= 0 else None,
        dip_type=DIP_TYPES[dip_type],
        dip_score=float(g["score"].iloc[group]) if group >= 0 else float("nan"),
        dip_subtype=SUBTYPES[c.aux_subtype[aux_row]] if aux_row >= 0 else None,
        dip_aux_coef=float(c.aux_coef[aux_row]) if aux_row >= 0 else 1.0,
        steps=tuple(steps))
