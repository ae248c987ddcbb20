"""Monitoring over Databricks system tables: the query catalogue and what runs it.

- `tasks.monitoring.catalogue`: `Template` and `Param` (a parameterised Databricks SQL query
  over system tables), the registry (`get`, `templates`, `DOMAINS`) and `bind` (typed,
  bounded statement parameters from strings).
- One module per domain registers its templates: `tasks.monitoring.cost`, `reliability`,
  `performance`, `security`, `quality`, `mlops`.
"""
