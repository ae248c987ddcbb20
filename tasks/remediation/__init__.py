"""Failure remediation: classify a failed run and choose what to do about it.

- ``classify``: :class:`~tasks.remediation.classify.Classifier` and
  :class:`~tasks.remediation.classify.Diagnosis` (the public API), the layer order and thresholds;
- ``termination``: layer 1, the Jobs API termination code / type and result state;
- ``signatures``: layer 2, the catalogue of Spark and Databricks error signatures;
- ``neighbours``: layer 3, nearest labelled examples by MiniLM (``examples.jsonl`` ships with it);
- ``policy``: the remediation from the category and the evidence, priorities, new-params hints;
- ``evaluate``: k-fold cross-validation and the seed's keyword baseline (for bench and tests).

Importing this package (or ``classify``) imports no heavy library.
"""
