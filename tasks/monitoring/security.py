"""Security templates over ``system.access.audit``: access anomalies, one user's activity, permission
changes, failed logins and new source IPs.

A failed event is one with ``response.status_code >= 400``; a failed login is a login action
(``action_name`` containing "login", or ``passwordVerifyAuthentication``) answered 401 or 403.
"""

from __future__ import annotations

from tasks.monitoring.catalogue import Param, Template, register

_AUDIT = "system.access.audit"
_LOGIN = "(lower(action_name) LIKE '%login%' OR action_name = 'passwordVerifyAuthentication')"
_PERMISSION_ACTIONS = (
    "updatePermissions", "changeJobAcl", "changeClusterAcl", "changeClusterPolicyAcl", "changeWarehouseAcls",
    "changeDbsqlAcl", "changePermissions", "changeInstancePoolAcl", "changeRepoAcl", "changeNotebookAcl",
    "changeDirectoryAcl", "changeExperimentAcl", "changeRegisteredModelAcl", "changeServingEndpointAcl",
    "addPrincipalToGroup", "removePrincipalFromGroup", "setAdmin", "removeAdmin", "updateSharePermissions",
    "changeSecretAcl", "putAcl", "deleteAcl",
)

START = Param("start_date", "DATE", "First day (inclusive) of the window, by event_date.", default="today-30")
END = Param("end_date", "DATE", "Last day (inclusive) of the window, by event_date.", default="today")
USER_OPTIONAL = Param("user_email", "STRING", "Only this user (e-mail, case-insensitive); all users when empty.")


def _days(default: int, maximum: int = 365, name: str = "days_back", what: str = "Days back from today") -> Param:
    return Param(name, "INT", f"{what} (event_date >= today - N).", default=default, minimum=1, maximum=maximum)


ACCESS_ANOMALIES = Template(
    name="access_anomalies",
    domain="security",
    answers="Which users had at least `threshold` failed (4xx/5xx) audit events between two dates?",
    params=(START, END, Param("threshold", "INT", "Minimum failed events for a user to be listed.", default=3,
                              minimum=1, maximum=1_000_000)),
    sql=f"""SELECT
  user_identity.email AS user_email,
  COUNT(*) AS events,
  COUNT_IF(response.status_code >= 400) AS failed_events,
  COUNT_IF(response.status_code IN (401, 403) AND {_LOGIN}) AS failed_logins,
  COUNT(DISTINCT source_ip_address) AS distinct_source_ips,
  MIN(event_time) AS first_event,
  MAX(event_time) AS last_event
FROM {_AUDIT}
WHERE event_date BETWEEN :start_date AND :end_date
  AND user_identity.email IS NOT NULL
GROUP BY user_identity.email
HAVING COUNT_IF(response.status_code >= 400) >= :threshold
ORDER BY failed_events DESC, user_email""",
    columns=("user_email", "events", "failed_events", "failed_logins", "distinct_source_ips", "first_event",
             "last_event"),
    reads=(f"{_AUDIT}(event_date, event_time, user_identity.email, response.status_code, action_name, "
           "source_ip_address)",),
    order="failed_events descending, then user_email",
    totals=("events", "failed_events", "failed_logins"),
    keywords=("anomaly", "anomalies", "suspicious", "failed", "denied", "unauthorized", "403", "401", "security",
              "access", "audit"),
)

USER_ACTIVITY_SUMMARY = Template(
    name="user_activity_summary",
    domain="security",
    answers="What did one user do in the workspace over the last N days, per service and action?",
    params=(Param("user_email", "STRING", "The user's e-mail (case-insensitive).", required=True), _days(30)),
    sql=f"""SELECT
  service_name,
  action_name,
  COUNT(*) AS events,
  COUNT_IF(response.status_code >= 400) AS failed_events,
  COUNT(DISTINCT source_ip_address) AS distinct_source_ips,
  MIN(event_time) AS first_event,
  MAX(event_time) AS last_event
FROM {_AUDIT}
WHERE lower(user_identity.email) = lower(:user_email)
  AND event_date >= date_sub(current_date(), :days_back)
GROUP BY service_name, action_name
ORDER BY events DESC, service_name, action_name""",
    columns=("service_name", "action_name", "events", "failed_events", "distinct_source_ips", "first_event",
             "last_event"),
    reads=(f"{_AUDIT}(event_date, event_time, user_identity.email, service_name, action_name, "
           "response.status_code, source_ip_address)",),
    order="events descending, then service_name, action_name",
    totals=("events", "failed_events"),
    keywords=("user", "activity", "actions", "did", "who", "audit", "history", "summary"),
)

PERMISSION_CHANGES = Template(
    name="permission_changes",
    domain="security",
    answers="Who changed permissions, ACLs or group membership between two dates, and on what?",
    params=(START, END, USER_OPTIONAL),
    sql=f"""SELECT
  event_time,
  user_identity.email AS user_email,
  service_name,
  action_name,
  coalesce(request_params['securable_full_name'], request_params['targetGroupName'], request_params['jobId'],
           request_params['job_id'], request_params['clusterId'], request_params['cluster_id'],
           request_params['warehouseId'], request_params['endpointId'], request_params['objectId'],
           request_params['path'], request_params['scope']) AS target,
  coalesce(request_params['changes'], request_params['aclPermissionSet'], request_params['targetUserName'],
           request_params['access_control_list']) AS details,
  response.status_code AS status_code
FROM {_AUDIT}
WHERE event_date BETWEEN :start_date AND :end_date
  AND (action_name IN ({", ".join(f"'{a}'" for a in _PERMISSION_ACTIONS)})
       OR lower(action_name) LIKE '%acl%' OR lower(action_name) LIKE '%permission%')
  AND (:user_email IS NULL OR lower(user_identity.email) = lower(:user_email))
ORDER BY event_time DESC, user_email""",
    columns=("event_time", "user_email", "service_name", "action_name", "target", "details", "status_code"),
    reads=(f"{_AUDIT}(event_date, event_time, user_identity.email, service_name, action_name, request_params, "
           "response.status_code)",),
    order="event_time descending (newest first), then user_email",
    keywords=("permission", "permissions", "acl", "grant", "revoke", "privilege", "group", "admin", "access",
              "changed"),
)

FAILED_LOGINS = Template(
    name="failed_logins",
    domain="security",
    answers="Which login attempts failed (401/403) in the last N days, per day, user and source IP?",
    params=(_days(30), USER_OPTIONAL),
    sql=f"""SELECT
  event_date,
  user_identity.email AS user_email,
  source_ip_address,
  action_name,
  response.status_code AS status_code,
  COUNT(*) AS failures
FROM {_AUDIT}
WHERE event_date >= date_sub(current_date(), :days_back)
  AND response.status_code IN (401, 403)
  AND {_LOGIN}
  AND (:user_email IS NULL OR lower(user_identity.email) = lower(:user_email))
GROUP BY event_date, user_identity.email, source_ip_address, action_name, response.status_code
ORDER BY event_date DESC, failures DESC, user_email, source_ip_address""",
    columns=("event_date", "user_email", "source_ip_address", "action_name", "status_code", "failures"),
    reads=(f"{_AUDIT}(event_date, user_identity.email, source_ip_address, action_name, response.status_code)",),
    order="event_date descending, then failures descending, user_email, source_ip_address",
    chart={"x": "event_date", "y": "failures"},
    totals=("failures",),
    keywords=("login", "logins", "failed", "sign-in", "signin", "authentication", "401", "403", "brute",
              "password", "credentials"),
)

NEW_SOURCE_IPS = Template(
    name="new_source_ips",
    domain="security",
    answers="Which source IPs did a user use for the first time in the last N days (unseen in the baseline before)?",
    params=(_days(7, 90, what="Recent window in days"),
            _days(30, 365, name="baseline_days", what="Baseline days before the recent window")),
    sql=f"""SELECT
  user_identity.email AS user_email,
  source_ip_address,
  MIN(event_time) AS first_seen,
  MAX(event_time) AS last_seen,
  COUNT(*) AS events,
  COUNT_IF(response.status_code >= 400) AS failed_events
FROM {_AUDIT}
WHERE event_date >= date_sub(current_date(), :days_back + :baseline_days)
  AND user_identity.email IS NOT NULL
  AND source_ip_address IS NOT NULL AND source_ip_address <> ''
GROUP BY user_identity.email, source_ip_address
HAVING MIN(event_date) >= date_sub(current_date(), :days_back)
ORDER BY first_seen DESC, user_email, source_ip_address""",
    columns=("user_email", "source_ip_address", "first_seen", "last_seen", "events", "failed_events"),
    reads=(f"{_AUDIT}(event_date, event_time, user_identity.email, source_ip_address, response.status_code)",),
    order="first_seen descending (newest first), then user_email, source_ip_address",
    totals=("events", "failed_events"),
    keywords=("ip", "ips", "address", "new", "unusual", "location", "source", "network", "first time"),
)

register(ACCESS_ANOMALIES, USER_ACTIVITY_SUMMARY, PERMISSION_CHANGES, FAILED_LOGINS, NEW_SOURCE_IPS)
