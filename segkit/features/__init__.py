"""Stage 2, features: one row per customer, RFM, attributes and the model matrix.

Modules: ``behaviour`` (per-customer features as Ibis expressions), ``rfm``
(scores and named RFM segments), ``attributes`` (customers-table features),
``preprocess`` (the fitted preprocessor), ``build`` (features + matrix, pure),
``step`` and ``report`` (notebook 02).
"""
