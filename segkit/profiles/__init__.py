"""Stage 5, profiles: who is in each segment, what to call them, what changed.

Modules: ``profile`` (per-segment profiles and indices), ``naming`` (names whose
claims are checked on the members), ``rules`` (surrogate-tree rules),
``evolution`` (migration vs an earlier run), ``export`` (assignments and the
segments file), ``step`` and ``report`` (notebook 05).
"""
