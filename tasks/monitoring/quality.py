"""Data-quality templates over the Unity Catalog lineage system tables: table lineage (upstream
and downstream), column lineage and data freshness (last write per table).

Lineage rows are read/write events: a row with a source and a target is a write of the target
from the source; a row with a source and no target is a read (e.g. by a dashboard). Freshness
comes from the write events (rows with a target), since the audit log does not record table
writes made by queries.
"""

from __future__ import annotations

from tasks.monitoring.catalogue import Param, Template, register

_TABLE = "system.access.table_lineage"
_COLUMN = "system.access.column_lineage"

TABLE_NAME = Param("table_name", "STRING", "Full table name catalog.schema.table (case-insensitive).", required=True)
DIRECTION = Param("direction", "STRING", "upstream (what feeds the table), downstream (what reads it) or both.",
                  default="both", choices=("upstream", "downstream", "both"))
DAYS = Param("days_back", "INT", "Days of lineage events to consider (event_date >= today - N).", default=90,
             minimum=1, maximum=365)

TABLE_LINEAGE = Template(
    name="table_lineage",
    domain="quality",
    answers="Which tables feed a table (upstream) and which tables or entities read it (downstream)?",
    params=(TABLE_NAME, DIRECTION, DAYS),
    sql=f"""SELECT direction, source_table_full_name, target_table_full_name, entity_type, entity_id, events,
  last_event_time
FROM (
  SELECT 'upstream' AS direction, source_table_full_name, target_table_full_name, entity_type, entity_id,
    COUNT(*) AS events, MAX(event_time) AS last_event_time
  FROM {_TABLE}
  WHERE :direction IN ('upstream', 'both')
    AND lower(target_table_full_name) = lower(:table_name)
    AND source_table_full_name IS NOT NULL
    AND event_date >= date_sub(current_date(), :days_back)
  GROUP BY source_table_full_name, target_table_full_name, entity_type, entity_id
  UNION ALL
  SELECT 'downstream' AS direction, source_table_full_name, target_table_full_name, entity_type, entity_id,
    COUNT(*) AS events, MAX(event_time) AS last_event_time
  FROM {_TABLE}
  WHERE :direction IN ('downstream', 'both')
    AND lower(source_table_full_name) = lower(:table_name)
    AND event_date >= date_sub(current_date(), :days_back)
  GROUP BY source_table_full_name, target_table_full_name, entity_type, entity_id
) AS edges
ORDER BY direction DESC, source_table_full_name, target_table_full_name NULLS LAST, entity_type, entity_id""",
    columns=("direction", "source_table_full_name", "target_table_full_name", "entity_type", "entity_id", "events",
             "last_event_time"),
    reads=(f"{_TABLE}(source_table_full_name, target_table_full_name, entity_type, entity_id, event_time, "
           "event_date)",),
    order="upstream edges first, then downstream; each by source_table_full_name, target_table_full_name "
          "(reads without a target last), entity_type, entity_id",
    totals=("events",),
    keywords=("lineage", "upstream", "downstream", "depends", "dependency", "dependencies", "feeds", "impact",
              "source", "sources", "consumers", "table"),
)

COLUMN_LINEAGE = Template(
    name="column_lineage",
    domain="quality",
    answers="Which columns feed a table's columns (upstream) and which columns are derived from them (downstream)?",
    params=(TABLE_NAME, Param("column_name", "STRING", "Only this column of the table (case-insensitive); all when empty."),
            DIRECTION, DAYS),
    sql=f"""SELECT direction, source_table_full_name, source_column_name, target_table_full_name, target_column_name,
  events, last_event_time
FROM (
  SELECT 'upstream' AS direction, source_table_full_name, source_column_name, target_table_full_name,
    target_column_name, COUNT(*) AS events, MAX(event_time) AS last_event_time
  FROM {_COLUMN}
  WHERE :direction IN ('upstream', 'both')
    AND lower(target_table_full_name) = lower(:table_name)
    AND (:column_name IS NULL OR lower(target_column_name) = lower(:column_name))
    AND source_table_full_name IS NOT NULL
    AND event_date >= date_sub(current_date(), :days_back)
  GROUP BY source_table_full_name, source_column_name, target_table_full_name, target_column_name
  UNION ALL
  SELECT 'downstream' AS direction, source_table_full_name, source_column_name, target_table_full_name,
    target_column_name, COUNT(*) AS events, MAX(event_time) AS last_event_time
  FROM {_COLUMN}
  WHERE :direction IN ('downstream', 'both')
    AND lower(source_table_full_name) = lower(:table_name)
    AND (:column_name IS NULL OR lower(source_column_name) = lower(:column_name))
    AND target_table_full_name IS NOT NULL
    AND event_date >= date_sub(current_date(), :days_back)
  GROUP BY source_table_full_name, source_column_name, target_table_full_name, target_column_name
) AS edges
ORDER BY direction DESC, source_table_full_name, source_column_name, target_table_full_name, target_column_name""",
    columns=("direction", "source_table_full_name", "source_column_name", "target_table_full_name",
             "target_column_name", "events", "last_event_time"),
    reads=(f"{_COLUMN}(source_table_full_name, source_column_name, target_table_full_name, target_column_name, "
           "event_time, event_date)",),
    order="upstream edges first, then downstream; each by source table and column, then target table and column",
    totals=("events",),
    keywords=("column", "columns", "lineage", "field", "derived", "upstream", "downstream", "feeds"),
)

DATA_FRESHNESS = Template(
    name="data_freshness",
    domain="quality",
    answers="When was each table last written (from lineage write events), and how stale is it now?",
    params=(Param("days_back", "INT", "Days of write events to consider (event_date >= today - N).", default=30,
                  minimum=1, maximum=365),
            Param("table_prefix", "STRING", "Only tables whose full name starts with this (e.g. main.sales.); "
                                            "all when empty."),
            Param("min_hours", "DOUBLE", "Only tables not written for at least this many hours.", default=0,
                  minimum=0, maximum=100_000)),
    sql=f"""SELECT
  target_table_full_name AS table_full_name,
  MAX(event_time) AS last_write_time,
  round(timestampdiff(MINUTE, MAX(event_time), current_timestamp()) / 60.0, 1) AS hours_since_last_write,
  COUNT(DISTINCT coalesce(entity_run_id, event_id)) AS writes,
  COUNT(DISTINCT entity_id) AS writers
FROM {_TABLE}
WHERE target_table_full_name IS NOT NULL
  AND event_date >= date_sub(current_date(), :days_back)
  AND (:table_prefix IS NULL
       OR left(lower(target_table_full_name), length(:table_prefix)) = lower(:table_prefix))
GROUP BY target_table_full_name
HAVING timestampdiff(MINUTE, MAX(event_time), current_timestamp()) / 60.0 >= :min_hours
ORDER BY hours_since_last_write DESC, table_full_name""",
    columns=("table_full_name", "last_write_time", "hours_since_last_write", "writes", "writers"),
    reads=(f"{_TABLE}(target_table_full_name, event_time, event_date, entity_run_id, event_id, entity_id)",),
    order="hours_since_last_write descending (stalest first), then table_full_name",
    totals=("writes",),
    keywords=("freshness", "fresh", "stale", "staleness", "last", "updated", "written", "write", "late",
              "outdated", "sla"),
)

register(TABLE_LINEAGE, COLUMN_LINEAGE, DATA_FRESHNESS)
