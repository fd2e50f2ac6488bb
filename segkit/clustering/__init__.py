"""Stage 3, clustering: candidates x k x representation, and the recommendation.

Modules: ``algorithms`` (name -> scikit-learn estimator), ``reduce``
(representations), ``sampling`` (stratified samples, thread limits), ``model``
(``SegmentationModel``), ``metrics``, ``compare`` (the comparison grid),
``recommend`` (the documented choice), ``step`` and ``report`` (notebook 03).
"""
