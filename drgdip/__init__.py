"""drgdip: CHS-DRG / DIP grouping, case points and regional budget settlement."""

__version__ = "0.1.0"
