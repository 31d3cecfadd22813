"""The foundation every stage stands on: errors, table I/O, boundary validation of case tables,
the config engine and the bundled data. It imports no stage."""
