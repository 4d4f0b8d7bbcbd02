"""Feature logic without Dagster: the input contract and row checks, labels, the daily
account snapshot and point-in-time training sets, retention metrics."""
