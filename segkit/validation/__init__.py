"""Stage 4, validation: are the segments stable, distinct and useful?

Modules: ``baselines`` (held-out R squared of the segments vs the same-size RFM
tiers, the named RFM map and shuffled labels, paired bootstrap, permutation null),
``separation`` (held-out gap test per pair of segments), ``distinct``
(descriptive rank tests and effect sizes), ``outcomes`` (next-horizon behaviour per
segment), ``explained`` (in-sample eta / omega squared), ``verdict`` (the verdict
table), ``wording`` (the verdict's sentences, bimodality), ``step``, ``report`` and
``report_tables`` (notebook 04). Stability itself is in
:mod:`segkit.clustering.stability`.
"""
