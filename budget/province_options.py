"""The options that say which province to settle and how to read it, shared by ``drgdip settle`` and
``drgdip simulate`` (declared once, so both commands take the same ones)."""

from __future__ import annotations

__all__ = ["add_province_options", "province_options"]


def add_province_options(parser) -> None:
    """Add ``--input``, ``--scheme``, ``--regroup``, ``--dip``, ``--weights``, ``--weights-format``, ``--special``,
    ``--deductions`` and ``--year`` to an argparse parser."""
    parser.add_argument("--input", required=True,
                        help="province directory (cases.* or a cases/ directory of Parquet files, hospitals.*, "
                             "outpatient.*), a cases file or a directory of Parquet files of cases")
    parser.add_argument("--scheme", help="DRG scheme for the stays that need grouping: a built-in version (drgdip "
                                         "schemes lists them) or a scheme directory (default: the policy's "
                                         "points.scheme_version, else the scheme recorded in province.json)")
    parser.add_argument("--regroup", action="store_true",
                        help="group every stay again, whatever group columns the cases carry")
    parser.add_argument("--dip", help="DIP directory, for stays without a dip_group column")
    parser.add_argument("--weights", help="weight / point table instead of calibrating: an engine table (CSV or "
                                          "Parquet: group, rw or base_points), a city's published table (CSV as "
                                          "published, Chinese headers, UTF-8 or GB18030) or the name of a "
                                          "built-in published table (e.g. qingdao-2023)")
    parser.add_argument("--weights-format", choices=("auto", "engine", "published"), default="auto",
                        help="how to read --weights (default auto: a built-in name or a CSV with a published "
                             "table's Chinese headers is a published table)")
    parser.add_argument("--special", help="special-review approval list (CSV/Parquet with case_id)")
    parser.add_argument("--deductions", help="audit deductions (hospital_id, amount, optional month)")
    parser.add_argument("--year", type=int, help="settlement year (default: the policy's year or the latest)")


def province_options(args) -> dict:
    """The keyword arguments of :func:`drgdip.budget.pipeline.prepare_province` the options give."""
    from drgdip.pointvalue.published import WeightsFile

    weights = WeightsFile(args.weights, args.weights_format) if args.weights else None
    return {"scheme": args.scheme, "dip": args.dip, "weights": weights, "approved": args.special,
            "deductions": args.deductions, "year": args.year, "regroup": args.regroup}
