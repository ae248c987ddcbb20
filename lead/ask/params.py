"""Parameter extraction for `lead ask`: time phrases, job names, e-mails, thresholds, top N.

Everything here is plain text scanning with regular expressions: no value is ever evaluated,
and every extracted value is typed (dates as ``YYYY-MM-DD``, numbers as ``int``/``float``,
names as ``str``) before it reaches a template, where it travels as a statement parameter.

:func:`extract` returns every candidate found in a question; :func:`for_template` keeps
only those the chosen template takes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

_WEEKDAYS = {name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
    "hundred": 100,
}
_NUM = r"(\d{1,6}(?:[.,]\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}
_MAX_NAME = 200

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+\b")


def _number(text: str) -> float:
    text = text.lower().replace(",", "")
    if text in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[text])
    return float(text)


def _iso(day: dt.date) -> str:
    return day.isoformat()


def _month_range(year: int, month: int, today: dt.date) -> tuple[dt.date, dt.date]:
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, month, 1), min(last, today) if (year, month) == (today.year, today.month) else last


def time_range(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The ``(start, end)`` dates (inclusive) a time phrase in `text` names, or None.

    Understands: today, yesterday, last night, this morning, past/last N hours|days|weeks|
    months|years (and "last 24 hours"), this/last week|month|quarter|year, last <weekday>,
    on <weekday>, (this|last) weekend, since <month> <day>[, <year>] / since <ISO date>,
    in <month> [<year>], from/between <ISO date> and/to <ISO date>, week over week.
    """
    t = text.lower()
    iso = r"(\d{4}-\d{2}-\d{2})"
    m = re.search(rf"(?:from|between)\s+{iso}\s+(?:and|to|until|through)\s+{iso}", t)
    if m:
        try:
            a, b = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
            return (min(a, b), max(a, b))
        except ValueError:
            pass
    m = re.search(rf"\bsince\s+{iso}", t)
    if m:
        try:
            return (dt.date.fromisoformat(m.group(1)), today)
        except ValueError:
            pass
    months = "|".join(sorted(_MONTHS, key=len, reverse=True))
    m = re.search(rf"\bsince\s+(?:the\s+)?(?:({months})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({months})\.?)(?:,?\s+(\d{{4}}))?\b", t)
    if m:
        month = _MONTHS[m.group(1) or m.group(4)]
        day = int(m.group(2) or m.group(3))
        year = int(m.group(5)) if m.group(5) else today.year
        try:
            start = dt.date(year, month, day)
            if not m.group(5) and start > today:
                start = dt.date(year - 1, month, day)
            return (start, today)
        except ValueError:
            pass
    m = re.search(rf"\bsince\s+({months})\b(?:\s+(\d{{4}}))?", t)
    if m:
        month = _MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else (today.year if month <= today.month else today.year - 1)
        return (dt.date(year, month, 1), today)
    m = re.search(rf"\b(?:in|for|during)\s+({months})\b(?:\s+(?:of\s+)?(\d{{4}}))?", t)
    if m and not (m.group(1) in ("may", "mar") and not m.group(2)):
        month = _MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else (today.year if month <= today.month else today.year - 1)
        return _month_range(year, month, today)
    m = re.search(rf"\b(?:(?:last|past|previous|over|in)\s+(?:the\s+)?(?:last\s+|past\s+)?|within\s+the\s+(?:last\s+|past\s+))({_NUM[1:-1]})\s+(hour|day|week|month|quarter|year)s?\b", t)
    if not m:
        m = re.search(r"\b(?:over|within|in|during)\s+the\s+(?:last|past)\s+()(day|week|month|quarter|year)\b", t)
    if m:
        n = _number(m.group(1)) if m.group(1) else 1.0
        unit = m.group(2)
        if unit == "hour":
            days = max(1, -(-int(n) // 24))
        else:
            days = int(n * _UNIT_DAYS[unit])
        return (today - dt.timedelta(days=days), today)
    if re.search(r"\b(?:last|past|previous)\s+(?:24|twenty[- ]four)\s*h(?:ou)?rs?\b|\blast\s+night\b|\bovernight\b", t):
        return (today - dt.timedelta(days=1), today)
    m = re.search(r"\b(last|this|previous|past|current)\s+(week|month|quarter|year|weekend)\b", t)
    if m:
        this = m.group(1) in ("this", "current")
        unit = m.group(2)
        if unit == "week":
            monday = today - dt.timedelta(days=today.weekday())
            return (monday, today) if this else (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
        if unit == "weekend":
            saturday = today - dt.timedelta(days=(today.weekday() - 5) % 7)
            if this and today.weekday() >= 5:
                return (saturday, today)
            if today.weekday() >= 5:
                saturday -= dt.timedelta(days=7)
            return (saturday, saturday + dt.timedelta(days=1))
        if unit == "month":
            if this:
                return (today.replace(day=1), today)
            last = today.replace(day=1) - dt.timedelta(days=1)
            return (last.replace(day=1), last)
        if unit == "quarter":
            q_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
            if this:
                return (q_start, today)
            prev_end = q_start - dt.timedelta(days=1)
            return (dt.date(prev_end.year, 3 * ((prev_end.month - 1) // 3) + 1, 1), prev_end)
        if this:
            return (dt.date(today.year, 1, 1), today)
        return (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31))
    m = re.search(r"\b(last|on|this past|past)\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", t)
    if m:
        back = (today.weekday() - _WEEKDAYS[m.group(2)]) % 7 or 7
        day = today - dt.timedelta(days=back)
        return (day, day)
    if re.search(r"\byesterday\b", t):
        day = today - dt.timedelta(days=1)
        return (day, day)
    if re.search(r"\b(?:today|this morning|tonight|right now|so far today)\b", t):
        return (today, today)
    if re.search(r"\bweek[- ]over[- ]week\b", t):
        return (today - dt.timedelta(days=14), today)
    if re.search(r"\bmonth[- ]over[- ]month\b", t):
        return (today - dt.timedelta(days=61), today)
    return None


def _job_name(question: str) -> str | None:
    for pattern in (r"\"([^\"\n]{1,200})\"", r"“([^”\n]{1,200})”", r"`([^`\n]{1,200})`", r"(?<![A-Za-z])'([^'\n]{1,200})'(?![A-Za-z])"):
        m = re.search(pattern, question)
        if m and m.group(1).strip():
            return m.group(1).strip()[:_MAX_NAME]
    ident = r"([A-Za-z][\w.-]*[_\-.][\w.-]*\w|[a-z]+[A-Z]\w*)"
    m = re.search(rf"\b(?:job|pipeline|workflow)\s+(?:named\s+|called\s+)?{ident}", question)
    if m:
        return m.group(1)
    m = re.search(rf"\b(?:the\s+|my\s+|our\s+){ident}\s+(?:job|pipeline|workflow)\b", question)
    if m:
        return m.group(1)
    m = re.search(r"\b(?:job|pipeline|workflow)\s+(?:named|called)\s+([\w.-]{1,200})", question)
    if m:
        return m.group(1)
    return None


def _minutes(value: float, unit: str) -> float:
    unit = unit.lower()
    if unit.startswith(("ms", "milli")):
        return value / 60000
    if unit.startswith(("s", "sec")):
        return value / 60
    if unit.startswith("h"):
        return value * 60
    if unit.startswith("d"):
        return value * 1440
    return value


def extract(question: str, today: dt.date) -> dict[str, Any]:
    """Every parameter candidate found in `question` (typed values).

    Keys: start_date, end_date (ISO strings), days_back (int), top_n (int), job_name,
    user_email, sku_name (str), workspace_id (str of digits), budget (float),
    duration_minutes (float: "over 10 minutes", "longer than 2 hours"), threshold (float:
    "more than 5", "above 95%").
    """
    found: dict[str, Any] = {}
    rng = time_range(question, today)
    if rng:
        found["start_date"], found["end_date"] = _iso(rng[0]), _iso(rng[1])
        found["days_back"] = max(1, (today - rng[0]).days)
    t = question.lower()
    m = re.search(rf"\btop[- ]{_NUM}\b", t) or re.search(rf"\b{_NUM}\s+(?:most|biggest|largest|highest|costliest|slowest|priciest)\b", t)
    if m:
        n = int(_number(m.group(1)))
        if n >= 1:
            found["top_n"] = n
    m = EMAIL.search(question)
    if m:
        found["user_email"] = m.group(0)
    name = _job_name(question)
    if name:
        found["job_name"] = name
    m = re.search(r"\bworkspace(?:[ _]id)?\s*[:#=]?\s*(\d{3,20})\b", t)
    if m:
        found["workspace_id"] = m.group(1)
    m = re.search(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+){1,8})\b", question)
    if m and not m.group(1).startswith(("ALL_PURPOSE", "INTERNAL_ERROR")):
        found["sku_name"] = m.group(1)
    m = re.search(r"(?:budget\s+(?:of\s+)?\$?|\$)\s*(\d[\d,]*(?:\.\d+)?)\s*(k|m)?\b", t)
    if m:
        value = float(m.group(1).replace(",", ""))
        value *= {"k": 1e3, "m": 1e6}.get(m.group(2) or "", 1)
        found["budget"] = value
    comparator = r"(?:over|more than|longer than|greater than|above|exceed(?:s|ing|ed)?|at least|>=?|beyond|slower than|below|under|less than|fewer than)"
    m = re.search(rf"\b{comparator}\s+{_NUM}\s*(ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?)\b", t)
    if m:
        found["duration_minutes"] = _minutes(_number(m.group(1)), m.group(2))
    else:
        units = r"(ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?)"
        m = re.search(rf"\b{_NUM}[- ]?{units}[- ](?:sla|deadline|threshold|limit|timeout)\b", t) or \
            re.search(rf"\b(?:sla|deadline|threshold|limit|timeout|within)\s+(?:of\s+)?{_NUM}\s*{units}\b", t)
        if m:
            found["duration_minutes"] = _minutes(_number(m.group(1)), m.group(2))
    m = re.search(rf"(?:\b{comparator}|[<>]=?)\s*{_NUM}(?!\s*(?:ms|milli|s\b|sec|min|h\b|hr|hour|day|week|month|year))", t)
    if m:
        found["threshold"] = _number(m.group(1))
    return found


def _duration_unit(description: str, name: str) -> str:
    text = f"{name} {description}".lower()
    if "millisecond" in text or re.search(r"\bms\b", text):
        return "ms"
    if "minute" in text:
        return "min"
    if "hour" in text:
        return "h"
    return "s"


def for_template(found: dict[str, Any], spec: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The values of `found` the template with parameters `spec` ({name: (type, description)})
    takes, renamed to its parameter names and typed for them (ints for INT, ISO strings for
    DATE). Unknown or untyped parameters are left out: the template's defaults apply."""
    out: dict[str, Any] = {}
    for name, (ptype, description) in spec.items():
        value: Any = None
        if name in found and name not in ("threshold",):
            value = found[name]
        elif name in ("min_duration", "sla_minutes", "duration_threshold", "max_duration") and "duration_minutes" in found:
            minutes = found["duration_minutes"]
            unit = "min" if name == "sla_minutes" else _duration_unit(description, name)
            value = {"ms": minutes * 60000, "s": minutes * 60, "min": minutes, "h": minutes / 60}[unit]
        elif name in ("threshold", "min_count", "min_events") and "threshold" in found:
            value = found["threshold"]
        elif name in ("limit", "n", "top") and "top_n" in found:
            value = found["top_n"]
        elif name in ("user", "email", "principal") and "user_email" in found:
            value = found["user_email"]
        elif name in ("job", "pipeline_name") and "job_name" in found:
            value = found["job_name"]
        if value is None:
            continue
        if ptype == "INT":
            value = int(round(float(value)))
        elif ptype == "DOUBLE":
            value = float(value)
        elif ptype in ("STRING", "DATE"):
            value = str(value)
        out[name] = value
    return out
