"""Cost templates: list-price spend from `system.billing.usage` joined to `system.billing.list_prices`.

Every template prices usage the same way: the list price whose validity window holds the
usage's start (`price_start_time <= usage_start_time AND (price_end_time IS NULL OR
usage_start_time < price_end_time)`), same SKU, cloud and unit, in USD; cost =
`usage_quantity * pricing.default` ("list cost", before discounts). Job names come from the
latest row of the slowly changing `system.lakeflow.jobs` (one per workspace and job), falling
back to `usage_metadata.job_name`. Date ranges are inclusive `usage_date` bounds.
"""

from __future__ import annotations

from tasks.monitoring.catalogue import Param, Template, register
from tasks.monitoring.sql_parts import FAILED_RESULT_STATES, LATEST_JOBS

_START = Param("start_date", "DATE", "first usage date (inclusive)", default="today-30")
_END = Param("end_date", "DATE", "last usage date (inclusive)", default="today")
_TOP_N = Param("top_n", "INT", "how many rows to return", default=10, minimum=1, maximum=1000)
_TAG_KEY = Param("tag_key", "STRING", "custom tag key to group by (e.g. team, cost_center)", default="team")

_USAGE_READS = (
    "system.billing.usage(workspace_id, sku_name, cloud, usage_unit, usage_start_time, usage_date, "
    "usage_quantity, custom_tags, usage_metadata.job_id, usage_metadata.job_run_id, usage_metadata.job_name, "
    "billing_origin_product)",
    "system.billing.list_prices(sku_name, cloud, usage_unit, currency_code, price_start_time, price_end_time, "
    "pricing.default)",
)
_JOBS_READ = "system.lakeflow.jobs(workspace_id, job_id, name, tags, change_time)"

# usage rows with their list cost, restricted to [start_date, end_date]
_PRICED = """priced AS (
  SELECT
    u.workspace_id,
    u.sku_name,
    u.usage_date,
    u.usage_quantity,
    u.custom_tags,
    u.billing_origin_product,
    u.usage_metadata.job_id AS job_id,
    u.usage_metadata.job_run_id AS job_run_id,
    u.usage_metadata.job_name AS usage_job_name,
    CAST(u.usage_quantity AS DECIMAL(38, 10)) * CAST(lp.pricing.default AS DECIMAL(20, 10)) AS list_cost
  FROM system.billing.usage u
  JOIN system.billing.list_prices lp
    ON lp.sku_name = u.sku_name
   AND lp.cloud = u.cloud
   AND lp.usage_unit = u.usage_unit
   AND lp.currency_code = 'USD'
   AND lp.price_start_time <= u.usage_start_time
   AND (lp.price_end_time IS NULL OR u.usage_start_time < lp.price_end_time)
  WHERE u.usage_date BETWEEN CAST(:start_date AS DATE) AND CAST(:end_date AS DATE)
)"""


TOP_COST_CONTRIBUTORS = Template(
    name="top_cost_contributors",
    domain="cost",
    answers="Which jobs cost the most (list price, USD) between two dates?",
    params=(_START, _END, _TOP_N),
    sql=f"""WITH {_PRICED},
{LATEST_JOBS},
per_job AS (
  SELECT
    p.workspace_id,
    p.job_id,
    COALESCE(MAX(j.name), MAX(p.usage_job_name)) AS job_name,
    COUNT(DISTINCT p.job_run_id) AS runs,
    SUM(p.usage_quantity) AS dbus,
    SUM(p.list_cost) AS list_cost
  FROM priced p
  LEFT JOIN latest_jobs j ON j.workspace_id = p.workspace_id AND j.job_id = p.job_id
  WHERE p.job_id IS NOT NULL
  GROUP BY p.workspace_id, p.job_id
),
ranked AS (
  SELECT *,
    ROW_NUMBER() OVER (ORDER BY list_cost DESC, workspace_id, job_id) AS cost_rank,
    SUM(list_cost) OVER () AS all_jobs_cost
  FROM per_job
)
SELECT
  cost_rank,
  workspace_id,
  job_id,
  job_name,
  runs,
  ROUND(dbus, 2) AS dbus,
  ROUND(list_cost, 2) AS list_cost_usd,
  ROUND(100 * list_cost / NULLIF(all_jobs_cost, 0), 2) AS pct_of_job_spend
FROM ranked
WHERE cost_rank <= :top_n
ORDER BY cost_rank""",
    columns=("cost_rank", "workspace_id", "job_id", "job_name", "runs", "dbus", "list_cost_usd", "pct_of_job_spend"),
    reads=_USAGE_READS + (_JOBS_READ,),
    order="list_cost_usd descending (cost_rank 1 = most expensive), ties by workspace_id, job_id",
    totals=("runs", "dbus", "list_cost_usd"),
    keywords=("top", "most expensive", "jobs", "cost", "spend", "contributors", "biggest"),
)

COST_TREND_BY_SKU = Template(
    name="cost_trend_by_sku",
    domain="cost",
    answers="How did daily list cost per SKU change between two dates (optionally for one SKU)?",
    params=(_START, _END,
            Param("sku_name", "STRING", "SKU name or part of it, case-insensitive (NULL = all SKUs)")),
    sql=f"""WITH {_PRICED},
daily AS (
  SELECT usage_date, sku_name, SUM(usage_quantity) AS dbus, SUM(list_cost) AS list_cost
  FROM priced
  WHERE :sku_name IS NULL OR upper(sku_name) LIKE concat('%', upper(:sku_name), '%')
  GROUP BY usage_date, sku_name
)
SELECT
  usage_date,
  sku_name,
  ROUND(dbus, 2) AS dbus,
  ROUND(list_cost, 2) AS list_cost_usd,
  ROUND(SUM(list_cost) OVER (PARTITION BY sku_name ORDER BY usage_date
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 2) AS cumulative_cost_usd
FROM daily
ORDER BY usage_date, sku_name""",
    columns=("usage_date", "sku_name", "dbus", "list_cost_usd", "cumulative_cost_usd"),
    reads=_USAGE_READS,
    order="usage_date ascending, then sku_name",
    chart={"x": "usage_date", "y": "list_cost_usd"},
    totals=("dbus", "list_cost_usd"),
    keywords=("trend", "sku", "daily", "cost over time", "spend trend", "product"),
)

BUDGET_VARIANCE = Template(
    name="budget_variance",
    domain="cost",
    answers="How does list-price spend between two dates compare with a budget, and where is it heading?",
    params=(Param("budget", "DOUBLE", "budget for the whole period, USD", required=True, minimum=0,
                  maximum=1e12), _START, _END),
    sql=f"""WITH {_PRICED},
period AS (
  SELECT
    CAST(:start_date AS DATE) AS period_start,
    CAST(:end_date AS DATE) AS period_end,
    CAST(:budget AS DOUBLE) AS budget
),
spent AS (SELECT COALESCE(SUM(list_cost), 0) AS actual FROM priced),
shape AS (
  SELECT
    period_start, period_end, budget,
    datediff(period_end, period_start) + 1 AS days_in_period,
    GREATEST(LEAST(datediff(current_date(), period_start) + 1, datediff(period_end, period_start) + 1), 0)
      AS days_elapsed
  FROM period
)
SELECT
  s.period_start,
  s.period_end,
  ROUND(s.budget, 2) AS budget_usd,
  ROUND(CAST(t.actual AS DOUBLE), 2) AS actual_cost_usd,
  ROUND(CAST(t.actual AS DOUBLE) - s.budget, 2) AS variance_usd,
  ROUND(100 * (CAST(t.actual AS DOUBLE) - s.budget) / NULLIF(s.budget, 0), 2) AS variance_pct,
  s.days_elapsed,
  s.days_in_period,
  ROUND(CAST(t.actual AS DOUBLE) * s.days_in_period / NULLIF(s.days_elapsed, 0), 2) AS projected_cost_usd,
  CASE
    WHEN CAST(t.actual AS DOUBLE) > s.budget THEN 'OVER_BUDGET'
    WHEN CAST(t.actual AS DOUBLE) * s.days_in_period / NULLIF(s.days_elapsed, 0) > s.budget THEN 'AT_RISK'
    ELSE 'ON_TRACK'
  END AS status
FROM shape s CROSS JOIN spent t""",
    columns=("period_start", "period_end", "budget_usd", "actual_cost_usd", "variance_usd", "variance_pct",
             "days_elapsed", "days_in_period", "projected_cost_usd", "status"),
    reads=_USAGE_READS,
    order="one row",
    keywords=("budget", "variance", "over budget", "forecast", "projected", "on track"),
)

SPEND_BY_DAY_AND_SKU = Template(
    name="spend_by_day_and_sku",
    domain="cost",
    answers="What did each day cost per SKU and product, and what share of the day's spend was each?",
    params=(_START, _END),
    sql=f"""WITH {_PRICED},
daily AS (
  SELECT usage_date, sku_name, billing_origin_product,
         SUM(usage_quantity) AS dbus, SUM(list_cost) AS list_cost
  FROM priced
  GROUP BY usage_date, sku_name, billing_origin_product
)
SELECT
  usage_date,
  sku_name,
  billing_origin_product,
  ROUND(dbus, 2) AS dbus,
  ROUND(list_cost, 2) AS list_cost_usd,
  ROUND(SUM(list_cost) OVER (PARTITION BY usage_date), 2) AS day_total_usd,
  ROUND(100 * list_cost / NULLIF(SUM(list_cost) OVER (PARTITION BY usage_date), 0), 2) AS pct_of_day
FROM daily
ORDER BY usage_date, list_cost_usd DESC, sku_name""",
    columns=("usage_date", "sku_name", "billing_origin_product", "dbus", "list_cost_usd", "day_total_usd",
             "pct_of_day"),
    reads=_USAGE_READS,
    order="usage_date ascending, then list_cost_usd descending, sku_name",
    chart={"x": "usage_date", "y": "list_cost_usd"},
    totals=("dbus", "list_cost_usd"),
    keywords=("daily spend", "per day", "sku", "breakdown", "product", "dbu"),
)

# the baseline needs the 7 days before start_date too, so this template prices its own window
COST_ANOMALIES = Template(
    name="cost_anomalies",
    domain="cost",
    answers="Which days cost markedly more than their trailing 7-day average?",
    params=(_START, _END,
            Param("threshold", "DOUBLE", "flag a day costing at least this multiple of its baseline",
                  default=2.0, minimum=1.0, maximum=100.0)),
    sql="""WITH priced AS (
  SELECT u.usage_date, CAST(u.usage_quantity AS DECIMAL(38, 10)) * CAST(lp.pricing.default AS DECIMAL(20, 10)) AS list_cost
  FROM system.billing.usage u
  JOIN system.billing.list_prices lp
    ON lp.sku_name = u.sku_name
   AND lp.cloud = u.cloud
   AND lp.usage_unit = u.usage_unit
   AND lp.currency_code = 'USD'
   AND lp.price_start_time <= u.usage_start_time
   AND (lp.price_end_time IS NULL OR u.usage_start_time < lp.price_end_time)
  WHERE u.usage_date BETWEEN date_sub(CAST(:start_date AS DATE), 7) AND CAST(:end_date AS DATE)
),
daily AS (
  SELECT usage_date, SUM(list_cost) AS list_cost FROM priced GROUP BY usage_date
),
with_baseline AS (
  SELECT
    d.usage_date,
    d.list_cost,
    SUM(b.list_cost) / 7 AS baseline,
    COUNT(b.usage_date) AS baseline_days
  FROM daily d
  LEFT JOIN daily b
    ON b.usage_date >= date_sub(d.usage_date, 7) AND b.usage_date < d.usage_date
  WHERE d.usage_date >= CAST(:start_date AS DATE)
  GROUP BY d.usage_date, d.list_cost
)
SELECT
  usage_date,
  ROUND(list_cost, 2) AS list_cost_usd,
  ROUND(baseline, 2) AS baseline_cost_usd,
  ROUND(list_cost / baseline, 2) AS ratio_to_baseline,
  ROUND(list_cost - baseline, 2) AS excess_cost_usd,
  baseline_days
FROM with_baseline
WHERE baseline > 0 AND list_cost >= CAST(:threshold AS DOUBLE) * baseline
ORDER BY usage_date DESC""",
    columns=("usage_date", "list_cost_usd", "baseline_cost_usd", "ratio_to_baseline", "excess_cost_usd",
             "baseline_days"),
    reads=_USAGE_READS[1:] + ("system.billing.usage(sku_name, cloud, usage_unit, usage_start_time, usage_date, "
                              "usage_quantity)",),
    order="usage_date descending (most recent anomaly first); baseline = the 7 days before, missing days as 0",
    totals=("excess_cost_usd",),
    keywords=("anomaly", "spike", "unusual", "jump", "baseline", "cost increase"),
)

_TAG_VALUE = "COALESCE(p.custom_tags[:tag_key], j.tags[:tag_key])"

SPEND_BY_TAG = Template(
    name="spend_by_tag",
    domain="cost",
    answers="How is list-price spend split by the values of one custom tag (untagged spend shown apart)?",
    params=(_TAG_KEY, _START, _END),
    sql=f"""WITH {_PRICED},
{LATEST_JOBS},
tagged AS (
  SELECT COALESCE({_TAG_VALUE}, '(untagged)') AS tag_value, p.usage_quantity, p.list_cost
  FROM priced p
  LEFT JOIN latest_jobs j ON j.workspace_id = p.workspace_id AND j.job_id = p.job_id
),
per_value AS (
  SELECT tag_value, SUM(usage_quantity) AS dbus, SUM(list_cost) AS list_cost FROM tagged GROUP BY tag_value
)
SELECT
  :tag_key AS tag_key,
  tag_value,
  ROUND(dbus, 2) AS dbus,
  ROUND(list_cost, 2) AS list_cost_usd,
  ROUND(100 * list_cost / NULLIF(SUM(list_cost) OVER (), 0), 2) AS pct_of_total
FROM per_value
ORDER BY list_cost_usd DESC, tag_value""",
    columns=("tag_key", "tag_value", "dbus", "list_cost_usd", "pct_of_total"),
    reads=_USAGE_READS + (_JOBS_READ,),
    order="list_cost_usd descending, then tag_value; the usage's custom_tags first, else the job's tags",
    totals=("dbus", "list_cost_usd"),
    keywords=("tag", "team", "cost center", "chargeback", "showback", "allocation"),
)

UNTAGGED_SPEND = Template(
    name="untagged_spend",
    domain="cost",
    answers="Which jobs and SKUs spent money without a given tag (or without any tag)?",
    params=(Param("tag_key", "STRING", "tag key that should be set (NULL = usage with no tags at all)",
                  default="team"), _START, _END),
    sql=f"""WITH {_PRICED},
{LATEST_JOBS},
untagged AS (
  SELECT p.*, j.name AS latest_job_name
  FROM priced p
  LEFT JOIN latest_jobs j ON j.workspace_id = p.workspace_id AND j.job_id = p.job_id
  WHERE CASE WHEN :tag_key IS NULL
             THEN COALESCE(cardinality(p.custom_tags), 0) = 0 AND COALESCE(cardinality(j.tags), 0) = 0
             ELSE {_TAG_VALUE} IS NULL END
)
SELECT
  workspace_id,
  job_id,
  COALESCE(MAX(latest_job_name), MAX(usage_job_name)) AS job_name,
  sku_name,
  ROUND(SUM(usage_quantity), 2) AS dbus,
  ROUND(SUM(list_cost), 2) AS list_cost_usd
FROM untagged
GROUP BY workspace_id, job_id, sku_name
ORDER BY list_cost_usd DESC, workspace_id, job_id, sku_name""",
    columns=("workspace_id", "job_id", "job_name", "sku_name", "dbus", "list_cost_usd"),
    reads=_USAGE_READS + (_JOBS_READ,),
    order="list_cost_usd descending, then workspace_id, job_id, sku_name (job_id NULL = non-job usage)",
    totals=("dbus", "list_cost_usd"),
    keywords=("untagged", "missing tag", "no tag", "unallocated", "tagging"),
)

_RUNS = """runs AS (
  SELECT workspace_id, job_id, run_id, MIN(period_start_time) AS run_start,
         max_by(result_state, period_end_time) AS result_state
  FROM system.lakeflow.job_run_timeline
  WHERE period_start_time >= date_sub(CAST(:start_date AS DATE), 2)
  GROUP BY workspace_id, job_id, run_id
)"""
_RUNS_READ = ("system.lakeflow.job_run_timeline(workspace_id, job_id, run_id, period_start_time, period_end_time, "
              "result_state)")

MOST_EXPENSIVE_RUNS = Template(
    name="most_expensive_runs",
    domain="cost",
    answers="Which individual job runs cost the most between two dates?",
    params=(_START, _END, _TOP_N),
    sql=f"""WITH {_PRICED},
{LATEST_JOBS},
{_RUNS},
per_run AS (
  SELECT p.workspace_id, p.job_id, p.job_run_id,
         MAX(p.usage_job_name) AS usage_job_name,
         SUM(p.usage_quantity) AS dbus, SUM(p.list_cost) AS list_cost
  FROM priced p
  WHERE p.job_run_id IS NOT NULL
  GROUP BY p.workspace_id, p.job_id, p.job_run_id
),
ranked AS (
  SELECT r.*, ROW_NUMBER() OVER (ORDER BY r.list_cost DESC, r.workspace_id, r.job_run_id) AS cost_rank
  FROM per_run r
)
SELECT
  k.cost_rank,
  k.workspace_id,
  k.job_id,
  COALESCE(j.name, k.usage_job_name) AS job_name,
  k.job_run_id AS run_id,
  t.run_start,
  t.result_state,
  ROUND(k.dbus, 2) AS dbus,
  ROUND(k.list_cost, 2) AS list_cost_usd
FROM ranked k
LEFT JOIN latest_jobs j ON j.workspace_id = k.workspace_id AND j.job_id = k.job_id
LEFT JOIN runs t ON t.workspace_id = k.workspace_id AND t.run_id = k.job_run_id
WHERE k.cost_rank <= :top_n
ORDER BY k.cost_rank""",
    columns=("cost_rank", "workspace_id", "job_id", "job_name", "run_id", "run_start", "result_state", "dbus",
             "list_cost_usd"),
    reads=_USAGE_READS + (_JOBS_READ, _RUNS_READ),
    order="list_cost_usd descending (cost_rank 1 = most expensive run), ties by workspace_id, run_id",
    totals=("dbus", "list_cost_usd"),
    keywords=("expensive runs", "costliest run", "run cost", "single run", "per run"),
)

FAILED_RUN_COST = Template(
    name="failed_run_cost",
    domain="cost",
    answers="How much did failed job runs cost, per job, between two dates?",
    params=(_START, _END),
    sql=f"""WITH {_PRICED},
{LATEST_JOBS},
{_RUNS},
per_run AS (
  SELECT p.workspace_id, p.job_id, p.job_run_id, MAX(p.usage_job_name) AS usage_job_name,
         SUM(p.usage_quantity) AS dbus, SUM(p.list_cost) AS list_cost
  FROM priced p
  WHERE p.job_run_id IS NOT NULL
  GROUP BY p.workspace_id, p.job_id, p.job_run_id
),
per_job AS (
  SELECT
    r.workspace_id,
    r.job_id,
    COALESCE(MAX(j.name), MAX(r.usage_job_name)) AS job_name,
    COUNT_IF(t.result_state IN {FAILED_RESULT_STATES}) AS failed_runs,
    SUM(CASE WHEN t.result_state IN {FAILED_RESULT_STATES} THEN r.dbus ELSE 0 END) AS failed_dbus,
    SUM(CASE WHEN t.result_state IN {FAILED_RESULT_STATES} THEN r.list_cost ELSE 0 END) AS failed_cost,
    SUM(r.list_cost) AS total_cost
  FROM per_run r
  JOIN runs t ON t.workspace_id = r.workspace_id AND t.run_id = r.job_run_id
  LEFT JOIN latest_jobs j ON j.workspace_id = r.workspace_id AND j.job_id = r.job_id
  GROUP BY r.workspace_id, r.job_id
)
SELECT
  workspace_id,
  job_id,
  job_name,
  failed_runs,
  ROUND(failed_dbus, 2) AS failed_dbus,
  ROUND(failed_cost, 2) AS failed_cost_usd,
  ROUND(total_cost, 2) AS total_cost_usd,
  ROUND(100 * failed_cost / NULLIF(total_cost, 0), 2) AS pct_of_job_cost
FROM per_job
WHERE failed_runs > 0
ORDER BY failed_cost_usd DESC, workspace_id, job_id""",
    columns=("workspace_id", "job_id", "job_name", "failed_runs", "failed_dbus", "failed_cost_usd", "total_cost_usd",
             "pct_of_job_cost"),
    reads=_USAGE_READS + (_JOBS_READ, _RUNS_READ),
    order="failed_cost_usd descending, then workspace_id, job_id (jobs with at least one failed run)",
    totals=("failed_runs", "failed_dbus", "failed_cost_usd", "total_cost_usd"),
    keywords=("failed runs cost", "wasted", "waste", "cost of failures", "failure cost"),
)

register(TOP_COST_CONTRIBUTORS, COST_TREND_BY_SKU, BUDGET_VARIANCE, SPEND_BY_DAY_AND_SKU, COST_ANOMALIES,
         SPEND_BY_TAG, UNTAGGED_SPEND, MOST_EXPENSIVE_RUNS, FAILED_RUN_COST)
