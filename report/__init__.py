"""Reports people look at: one self-contained HTML file over the output folders of ``drgdip settle``
and ``drgdip simulate``, with charts, in Chinese or English."""

from drgdip.report.page import build_report, write_report

__all__ = ["build_report", "write_report"]
