"""``drgdip demo``: run the pipeline on the bundled demo data."""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="run the pipeline on the bundled demo data")
    demo.set_defaults(func=lambda args: run_demo())


def run_demo(out=sys.stdout) -> int:
    """Group the bundled demo cases with the bundled demo scheme and print the summary."""
    from grouper import group_cases, load_scheme

    scheme = load_scheme(DEMO_DIR / "scheme")
    grouped = group_cases(DEMO_DIR / "cases.csv", scheme)
    print(f"{len(grouped):,} demo cases grouped under {scheme}", file=out)
    print(grouped["status"].value_counts().to_string(), file=out)
    return 0
