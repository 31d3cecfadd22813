"""The Charlson comorbidity index (CCI) of a stay's secondary diagnoses, by the ICD-10 coding of Quan et
al. (Med Care 2005;43:1130-9) with Charlson's weights; DIP 1.0 typed severity by it (domain §3.5).

Each condition is a list of ICD-10 categories (``I21``) or subcategories (``I25.2``), ranges written
``I60-I69`` / ``K70.0-K70.3``. A stay scores each condition once; where a condition has a severer form
(diabetes with complications, moderate or severe liver disease, metastatic solid tumour) only the
severer one counts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CONDITIONS", "charlson_index"]

# condition: (weight, codes)
CONDITIONS = {
    "myocardial_infarction": (1, "I21 I22 I25.2"),
    "heart_failure": (1, "I09.9 I11.0 I13.0 I13.2 I25.5 I42.0 I42.5-I42.9 I43 I50 P29.0"),
    "peripheral_vascular": (1, "I70 I71 I73.1 I73.8 I73.9 I77.1 I79.0 I79.2 K55.1 K55.8 K55.9 Z95.8 Z95.9"),
    "cerebrovascular": (1, "G45 G46 H34.0 I60-I69"),
    "dementia": (1, "F00-F03 F05.1 G30 G31.1"),
    "chronic_pulmonary": (1, "I27.8 I27.9 J40-J47 J60-J67 J68.4 J70.1 J70.3"),
    "rheumatic": (1, "M05 M06 M31.5 M32-M34 M35.1 M35.3 M36.0"),
    "peptic_ulcer": (1, "K25-K28"),
    "mild_liver": (1, "B18 K70.0-K70.3 K70.9 K71.3-K71.5 K71.7 K73 K74 K76.0 K76.2-K76.4 K76.8 K76.9 Z94.4"),
    "diabetes": (1, "E10.0 E10.1 E10.6 E10.8 E10.9 E11.0 E11.1 E11.6 E11.8 E11.9 E12.0 E12.1 E12.6 E12.8 E12.9 "
                    "E13.0 E13.1 E13.6 E13.8 E13.9 E14.0 E14.1 E14.6 E14.8 E14.9"),
    "diabetes_complicated": (2, "E10.2-E10.5 E10.7 E11.2-E11.5 E11.7 E12.2-E12.5 E12.7 E13.2-E13.5 E13.7 "
                                "E14.2-E14.5 E14.7"),
    "hemiplegia": (2, "G04.1 G11.4 G80.1 G80.2 G81 G82 G83.0-G83.4 G83.9"),
    "renal": (2, "I12.0 I13.1 N03.2-N03.7 N05.2-N05.7 N18 N19 N25.0 Z49.0-Z49.2 Z94.0 Z99.2"),
    "malignancy": (2, "C00-C26 C30-C34 C37-C41 C43 C45-C58 C60-C76 C81-C85 C88 C90-C97"),
    "severe_liver": (3, "I85.0 I85.9 I86.4 I98.2 K70.4 K71.1 K72.1 K72.9 K76.5 K76.6 K76.7"),
    "metastatic_tumour": (6, "C77-C80"),
    "hiv": (6, "B20-B22 B24"),
}
# a severer form replaces the milder one
SUPERSEDES = {"diabetes_complicated": "diabetes", "severe_liver": "mild_liver", "metastatic_tumour": "malignancy"}


def _expand(entry: str) -> list[str]:
    if "-" not in entry:
        return [entry]
    low, high = entry.split("-")
    if "." in low:   # K70.0-K70.3
        return [f"{low[:4]}{d}" for d in range(int(low[4]), int(high[4]) + 1)]
    return [f"{low[0]}{n:02d}" for n in range(int(low[1:3]), int(high[1:3]) + 1)]   # I60-I69


def _code_table() -> tuple[pa.Array, np.ndarray]:
    codes, condition = [], []
    for number, (_, text) in enumerate(CONDITIONS.values()):
        for entry in text.split():
            for code in _expand(entry):
                codes.append(code)
                condition.append(number)
    return pa.array(codes, pa.string()), np.asarray(condition, dtype=np.int64)


_CODES, _CONDITION = _code_table()
_WEIGHTS = np.asarray([weight for weight, _ in CONDITIONS.values()], dtype=np.int64)
_NAMES = list(CONDITIONS)


def charlson_index(codes: pa.Array, owner: np.ndarray, n: int) -> np.ndarray:
    """CCI of each of ``n`` stays from its diagnoses ``codes`` (flat) owned by stays ``owner`` (the
    secondary diagnoses, as the caller chooses them); codes such as ``I21.000x001`` match by their
    subcategory (``I21.0``) or category (``I21``)."""
    present = np.zeros((n, len(_NAMES)), dtype=bool)
    if len(codes):
        if isinstance(codes, pa.ChunkedArray):
            codes = codes.combine_chunks()
        # a few thousand distinct subcategories among millions of codes: each looked up once
        encoded = pc.dictionary_encode(pc.utf8_slice_codeunits(codes, 0, 5))
        distinct = encoded.dictionary
        condition = pc.index_in(distinct, value_set=_CODES).fill_null(-1).to_numpy(zero_copy_only=False)
        by_category = pc.index_in(pc.utf8_slice_codeunits(distinct, 0, 3), value_set=_CODES) \
            .fill_null(-1).to_numpy(zero_copy_only=False)
        condition = np.where(condition >= 0, _CONDITION[np.maximum(condition, 0)],
                             np.where(by_category >= 0, _CONDITION[np.maximum(by_category, 0)], -1))
        of_code = condition[encoded.indices.to_numpy(zero_copy_only=False)]
        hit = of_code >= 0
        present[owner[hit], of_code[hit]] = True
    for severe, mild in SUPERSEDES.items():
        present[:, _NAMES.index(mild)] &= ~present[:, _NAMES.index(severe)]
    index = np.zeros(n, dtype=np.int64)
    for column, weight in enumerate(_WEIGHTS):
        index[present[:, column]] += weight
    return index
