"""Paths of the data bundled with the package: the demo scheme, the demo DIP directory, the policies.

Found with :mod:`importlib.resources`, so they work from a checkout, an editable install and an
installed wheel alike.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

__all__ = ["data_dir", "demo_scheme_dir", "demo_dip_dir", "policies_dir", "policy_path", "weights_dir",
           "payment_tables_dir", "payment_table_names", "kernels_cached"]

KERNEL_PACKAGES = ("drgdip.grouper", "drgdip.pointvalue", "drgdip.budget")


def kernels_cached() -> bool:
    """Whether numba has cached compiled kernels of drgdip on this machine (next to the modules, or
    under ``NUMBA_CACHE_DIR``): if not, the first run compiles them."""
    if os.environ.get("NUMBA_CACHE_DIR"):   # numba then caches there only
        places = [Path(os.environ["NUMBA_CACHE_DIR"])]
    else:
        places = [Path(str(files(package))) / "__pycache__" for package in KERNEL_PACKAGES]
    return any(next(place.rglob("*.nbi"), None) is not None for place in places if place.is_dir())


def data_dir() -> Path:
    """The folder of ``drgdip.data``."""
    return Path(str(files("drgdip.data")))


def demo_scheme_dir() -> Path:
    """The small demo CHS-DRG scheme written for drgdip (``data/demo/scheme``)."""
    return data_dir() / "demo" / "scheme"


def demo_dip_dir() -> Path:
    """The demo DIP directory built on the demo scheme (``data/demo/dip``)."""
    return data_dir() / "demo" / "dip"


def weights_dir() -> Path:
    """Weight tables shipped for synthetic costs (``data/weights``), one per scheme version."""
    return data_dir() / "weights"


def policies_dir() -> Path:
    """The worked settlement policies (``data/policies``)."""
    return data_dir() / "policies"


def policy_path(name: str) -> Path:
    """A shipped policy by file stem, e.g. ``panzhihua_drg_day_care_2025``."""
    return policies_dir() / f"{name}.yaml"


def payment_tables_dir() -> Path:
    """The published city DRG weight and payment tables, with their header map (``data/payment``)."""
    return data_dir() / "payment"


@lru_cache(maxsize=1)
def payment_table_names() -> tuple[str, ...]:
    """Names of the shipped published tables (``data/payment/index.csv``: ``qingdao-2023`` is
    ``qingdao-2023.csv``)."""
    import csv

    with open(payment_tables_dir() / "index.csv", encoding="utf-8", newline="") as handle:
        return tuple(row["name"] for row in csv.DictReader(handle))
