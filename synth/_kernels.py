"""numba kernels of the case synthesis (plain numpy arrays in and out)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _compact_codes(matrix):
    """Per-row code lists of a padded matrix as CSR, repeats within a row dropped.

    Parameters
    ----------
    matrix : int32[n, W]
        Code ids in output order, -1 = no code.

    Returns
    -------
    offsets : int64[n + 1]
        Codes of row ``i`` are ``flat[offsets[i]:offsets[i+1]]``.
    flat : int32[n_codes]
        Code ids, first occurrence of each code of a row kept, order preserved.
    """
    n, w = matrix.shape
    flat = np.empty(n * w, dtype=np.int32)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    pos = 0
    for i in range(n):
        start = pos
        for j in range(w):
            code = matrix[i, j]
            if code < 0:
                continue
            seen = False
            for k in range(start, pos):
                if flat[k] == code:
                    seen = True
                    break
            if not seen:
                flat[pos] = code
                pos += 1
        offsets[i + 1] = pos
    return offsets, flat[:pos].copy()


@njit(cache=True)
def _severity_kernel(offsets, flat, cc_level, cc_table, principal_table):
    """Highest complication level of each case's secondary diagnoses that the principal does not exclude.

    Parameters
    ----------
    offsets : int64[n + 1]
        CSR offsets of the diagnoses of each case (principal first).
    flat : int32[n_codes]
        Diagnosis ids.
    cc_level : int8[n_dx]
        0 none, 1 CC, 2 MCC.
    cc_table : int32[n_dx]
        Exclusion table of a code as a complication, -1 if none.
    principal_table : int32[n_dx]
        Exclusion table of a code as principal diagnosis, -1 if none.

    Returns
    -------
    severity : int8[n]
        0 none, 1 CC, 2 MCC (the level the DRG split rules see).
    """
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.int8)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        if b - a < 2:
            continue
        table = principal_table[flat[a]]
        best = 0
        for k in range(a + 1, b):
            code = flat[k]
            level = cc_level[code]
            if level > best and not (table >= 0 and cc_table[code] == table):
                best = level
        out[i] = best
    return out
