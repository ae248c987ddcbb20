"""Failure remediation: classify a failed run and choose what to do about it.

- ``classify``: :class:`~tasks.remediation.classify.Classifier` and
  :class:`~tasks.remediation.classify.Diagnosis` (the public API), the layer order and thresholds;
- ``termination``: layer 1, the Jobs API termination code / type and result state;
- ``signatures``: layer 2, the catalogue of Spark and Databricks error signatures;
- ``neighbours``: layer 3, nearest labelled examples by MiniLM (``examples.jsonl`` ships with it);
- ``policy``: the remediation from the category and the evidence, priorities, new-params hints;
- ``llm_fallback``: layer 5, a model consulted only when the layers above are unsure, its answer
  validated like a person's (categories, remediations, the retry-parameter allow-list);
- ``email_explanation``: a model-written explanation paragraph for the owner's e-mail, kept
  only when its numbers come from the run;
- ``evaluate``: k-fold cross-validation and the seed's keyword baseline (for bench and tests).

Importing this package (or ``classify``) imports no heavy library.
"""
