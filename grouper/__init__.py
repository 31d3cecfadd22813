"""CHS-DRG grouping: scheme tables in, MDC / ADRG / DRG and a status per case out."""

from grouper.drg import group_cases, iter_group_batches
from grouper.trace import Step, Trace, explain_case
from grouper.io import STATUS_TOKENS
from grouper.scheme import CompiledScheme, Scheme, SchemeError, load_scheme

__all__ = ["CompiledScheme", "Scheme", "SchemeError", "STATUS_TOKENS", "Step", "Trace", "explain_case", "group_cases",
           "iter_group_batches", "load_scheme"]
