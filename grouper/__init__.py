"""CHS-DRG and DIP grouping: scheme tables in, a status and MDC / ADRG / DRG (or DIP group) per case out."""

from drgdip.grouper.builtin import builtin_names, builtin_schemes
from drgdip.grouper.dip import group_dip
from drgdip.grouper.dip_directory import DipDirectory, load_dip_directory
from drgdip.grouper.dip_trace import explain_dip
from drgdip.grouper.drg import group_cases, iter_group_batches
from drgdip.grouper.io import STATUS_TOKENS
from drgdip.grouper.scheme import CompiledScheme, Scheme, SchemeError, load_scheme
from drgdip.grouper.trace import Step, Trace, explain_case

__all__ = [
    "CompiledScheme", "DipDirectory", "STATUS_TOKENS", "Scheme", "SchemeError", "Step", "Trace",
    "builtin_names", "builtin_schemes", "explain_case", "explain_dip", "group_cases", "group_dip", "iter_group_batches",
    "load_dip_directory", "load_scheme",
]
