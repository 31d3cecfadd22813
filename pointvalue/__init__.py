"""Case points: DRG weights and base points, DIP scores, outlier rules, coefficients."""
