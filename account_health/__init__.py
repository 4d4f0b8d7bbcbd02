"""The ``account-health`` command line, ``make run`` and its summary, the data check and the
demo data generators."""
