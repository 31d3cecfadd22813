"""A synthetic province: realistic multi-year case data for tests, benchmarks and demos."""
