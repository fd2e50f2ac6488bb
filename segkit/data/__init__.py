"""Stage 1, data: read the sources, clean them with a ledger, check their quality.

Modules: ``io`` (read and map columns by role), ``clean`` (rules + ledger),
``quality`` (profile, PII, sufficiency gate), ``step`` (the pipeline step) and
``report`` / ``report_tables`` (the tables and figures of notebook 01).
"""
