"""A synthetic province: realistic multi-year case data for tests, benchmarks and demos.

>>> from drgdip.synth import generate_province, write_province, SynthParams
>>> province = generate_province("data/demo/scheme", cases=20_000, hospitals=20, regions=4, seed=7)
>>> write_province(province, "out/province", format="parquet")
"""

from drgdip.core.province import Province, write_province
from drgdip.synth.params import SynthParams
from drgdip.synth.province import (CASE_COLUMNS, CASE_DTYPES, DAY_WARD_VISIT_DTYPES, HOSPITAL_DTYPES,
                                   OUTPATIENT_DTYPES, TABLE_DTYPES, generate_province, read_synthetic_province)

__all__ = ["CASE_COLUMNS", "CASE_DTYPES", "DAY_WARD_VISIT_DTYPES", "HOSPITAL_DTYPES",
           "OUTPATIENT_DTYPES", "Province", "SynthParams", "TABLE_DTYPES", "generate_province",
           "read_synthetic_province", "write_province"]
