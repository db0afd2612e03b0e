"""hrss-hub."""
