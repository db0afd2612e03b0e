"""Data quality: the row gate (per-row verdicts from the standard's rules) and quarantine."""
