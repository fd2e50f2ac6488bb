"""Stage 4, validation: are the segments stable, distinct and useful?

Modules: ``stability`` (bootstrap Jaccard, prediction strength), ``distinct``
(separation tests), ``outcomes`` (next-horizon behaviour per segment vs
baselines), ``verdict`` (the verdict table), ``step`` and ``report`` (notebook 04).
"""
