"""Dagster wiring only: one ``Definitions`` (``pipelines.definitions``), asset modules per
group, checks, resources, schedules, the IO manager and the per-day exports."""
