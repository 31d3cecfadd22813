"""A synthetic province: realistic multi-year case data for tests, benchmarks and demos.

>>> from drgdip.synth import generate_province, write_province, SynthParams
>>> province = generate_province("data/demo/scheme", cases=20_000, hospitals=20, regions=4, seed=7)
>>> write_province(province, "out/province", format="parquet")

A province too large for memory is generated and written shard by shard:

>>> from drgdip.synth import SyntheticProvince, write_synthetic_province
>>> write_synthetic_province(SyntheticProvince("data/demo/scheme", cases=100_000_000), "out/big",
...                          partition_rows=2_000_000)
"""

from drgdip.core.province import Province, write_province
from drgdip.synth.params import SynthParams
from drgdip.synth.output import write_synthetic_province
from drgdip.synth.province import (CASE_COLUMNS, CASE_DTYPES, DAY_WARD_VISIT_DTYPES, HOSPITAL_DTYPES,
                                   OUTPATIENT_DTYPES, TABLE_DTYPES, SyntheticProvince, generate_province,
                                   read_synthetic_province)

__all__ = ["CASE_COLUMNS", "CASE_DTYPES", "DAY_WARD_VISIT_DTYPES", "HOSPITAL_DTYPES",
           "OUTPATIENT_DTYPES", "Province", "SynthParams", "SyntheticProvince", "TABLE_DTYPES", "generate_province",
           "read_synthetic_province", "write_province", "write_synthetic_province"]
