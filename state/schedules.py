"""When a recurring task's next occurrence is due.

A schedule is `{"every_seconds": N}` or `{"quartz_cron_expression": "0 */5 * * * ?",
"timezone_id": "Europe/Amsterdam"}` (the Jobs API's `CronSchedule` fields; Quartz syntax:
seconds, minutes, hours, day of month, month, day of week with 1 = Sunday, optional year).
Cron times are computed by `croniter` in the schedule's time zone.

The next occurrence never drifts: it is the first due time of the series after the previous
one's *due* time (not its end), and occurrences missed while nothing ran are skipped, not
replayed in a burst.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

MIN_EVERY_SECONDS = 1.0


class ScheduleError(ValueError):
    """A schedule that cannot be used (unknown shape, bad interval, cron or time zone)."""


def check_schedule(schedule: Mapping[str, Any]) -> None:
    """Raise `ScheduleError` unless `schedule` is usable (see the module docstring)."""
    next_due(schedule, previous_due=None, now=datetime.now(timezone.utc))


def _quartz_to_croniter(expression: str) -> tuple[str, bool]:
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise ScheduleError(f"Quartz cron needs 6 or 7 fields (seconds first), got {len(fields)}: {expression!r}")
    fields = [f.replace("?", "*") for f in fields]

    def dow(token: str) -> str:
        return re.sub(r"\d+", lambda m: str(int(m.group()) - 1) if 1 <= int(m.group()) <= 7 else m.group(), token)

    day_of_week = fields[5]
    if "#" in day_of_week:
        head, _, nth = day_of_week.partition("#")
        day_of_week = f"{dow(head)}#{nth}"
    else:
        day_of_week = dow(day_of_week)
    fields[5] = day_of_week
    return " ".join(fields), len(fields) == 7


def next_due(schedule: Mapping[str, Any], *, previous_due: datetime | None, now: datetime) -> datetime:
    """The due time (UTC) of the occurrence after the one due at `previous_due` (None: the
    first occurrence): the earliest due time after `previous_due` that is not before `now`.

    Raises:
        ScheduleError: the schedule is not usable.
    """
    if "every_seconds" in schedule:
        try:
            every = float(schedule["every_seconds"])
        except (TypeError, ValueError):
            raise ScheduleError(f"every_seconds must be a number, not {schedule['every_seconds']!r}") from None
        if not math.isfinite(every) or every < MIN_EVERY_SECONDS:
            raise ScheduleError(f"every_seconds must be at least {MIN_EVERY_SECONDS:g}, not {every!r}")
        if previous_due is None:
            return now
        step = timedelta(seconds=every)
        due = previous_due + step
        if due < now:
            due += step * math.ceil((now - due) / step)
        return due
    expression = schedule.get("quartz_cron_expression")
    if not isinstance(expression, str):
        raise ScheduleError("a schedule needs every_seconds or quartz_cron_expression")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    zone_name = schedule.get("timezone_id") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {zone_name!r}") from None
    text, _has_year = _quartz_to_croniter(expression)
    start = max(previous_due, now - timedelta(microseconds=1)) if previous_due else now - timedelta(microseconds=1)
    try:
        iterator = croniter(text, start.astimezone(zone), second_at_beginning=True)
        due = iterator.get_next(datetime)
    except (ValueError, KeyError) as error:
        raise ScheduleError(f"cannot use Quartz cron {expression!r}: {error}") from None
    return due.astimezone(timezone.utc)
