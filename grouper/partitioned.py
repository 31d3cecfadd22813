"""Grouping a Dask DataFrame, partition by partition, for data beyond one machine.

:func:`drgdip.grouper.group_cases` and :func:`drgdip.grouper.group_dip` take a Dask DataFrame themselves
and hand it on to the functions gathered here. Each partition is grouped by the same kernel as a
pandas DataFrame; the result columns have fixed categories (every status token, every label of the
scheme or directory), so partitions concatenate without recoding. ``drgdip group --engine dask``
groups files on a cluster with :mod:`drgdip.grouper.on_cluster`.
"""

from __future__ import annotations

from drgdip.grouper.dip import dip_result_meta, group_dip_dask
from drgdip.grouper.drg import group_dask, result_meta

__all__ = ["group_dask", "result_meta", "group_dip_dask", "dip_result_meta"]
