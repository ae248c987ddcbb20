"""Validation of Quartz cron expressions, the syntax of a Databricks job schedule.

Source of the rules: the Jobs API field `schedule.quartz_cron_expression`
(`jobs.CronSchedule.quartz_cron_expression`, "A Cron expression using Quartz syntax that
describes the schedule for a job", linking to the Quartz `CronTrigger` tutorial) and the Quartz
`CronExpression` parser, whose rules this module follows:

- 6 or 7 whitespace-separated fields: seconds (0-59), minutes (0-59), hours (0-23),
  day-of-month (1-31), month (1-12 or JAN-DEC), day-of-week (1-7 or SUN-SAT, 1 = SUN),
  optional year (1970-2099);
- every field takes `*`, a value, a range `a-b`, an increment `a/n` or `*/n` or `a-b/n`, and
  comma-separated lists of those; names are case-insensitive;
- `?` ("no specific value") is allowed only in day-of-month and day-of-week, and exactly one
  of those two fields must be `?` (Quartz does not implement giving both);
- day-of-month also takes `L` (last day), `L-n` (n days before the last), `nW` (nearest
  weekday to day n) and `LW`; day-of-week takes `L` (Saturday), `nL` (last day n of the
  month) and `n#k` (the k-th day n of the month, k 1-5). Quartz does not allow these special
  forms inside a list or a range.

Only syntax is checked; the next fire time is not computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["quartz_cron_errors", "is_valid_quartz_cron"]

_MONTHS = {name: i + 1 for i, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {name: i + 1 for i, name in enumerate("SUN MON TUE WED THU FRI SAT".split())}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Field("seconds", 0, 59),
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _DAYS),
    _Field("year", 1970, 2099),
)
_DOM, _DOW = 3, 5
# an ordinary item: `*`, a number or a three-letter name, an optional range end and increment
_PLAIN = re.compile(r"(\*|[A-Z]{3}|\d+)(-([A-Z]{3}|\d+))?(/\d+)?")


def _value(text: str, spec: _Field) -> int:
    """One number or name of a field; raises ValueError with the reason."""
    upper = text.upper()
    if spec.names and upper in spec.names:
        return spec.names[upper]
    if not text.isdigit():
        if spec.names:
            raise ValueError(f"{text!r} is not a number or a name ({', '.join(spec.names)}) of {spec.name}")
        raise ValueError(f"{text!r} is not a number")
    number = int(text)
    if not spec.low <= number <= spec.high:
        raise ValueError(f"{number} is outside {spec.low}-{spec.high}")
    return number


def _item(item: str, spec: _Field) -> None:
    """Check one list item (`*`, `a`, `a-b`, with an optional `/n`); raises ValueError."""
    base, slash, step = item.partition("/")
    if slash:
        if not step.isdigit() or int(step) == 0:
            raise ValueError(f"increment {step!r} in {item!r} must be a positive number")
        if int(step) > spec.high and spec.name != "year":
            raise ValueError(f"increment {step} in {item!r} is larger than the range of {spec.name}")
    if base == "*":
        return
    if base == "":
        raise ValueError(f"{item!r} has no start value")
    start, dash, end = base.partition("-")
    if not start:
        raise ValueError(f"{item!r} has no start value")
    _value(start, spec)
    if dash:
        _value(end, spec)


def _special(part: str, index: int) -> str | None:
    """The error of a day-of-month / day-of-week special form (`L`, `W`, `#`), '' when valid,
    None when `part` is not a special form."""
    upper = part.upper()
    if index == _DOM:
        if upper in ("L", "LW"):
            return ""
        if m := re.fullmatch(r"L-(\d+)", upper):
            return "" if 1 <= int(m.group(1)) <= 30 else f"offset in {part!r} must be 1-30"
        if m := re.fullmatch(r"(\d+)W", upper):
            return "" if 1 <= int(m.group(1)) <= 31 else f"day in {part!r} must be 1-31"
        if "L" in upper or "W" in upper or "#" in upper:
            return f"{part!r} is not a valid day-of-month (L, L-n, nW and LW are the special forms)"
        return None
    if index == _DOW:
        if upper == "L":
            return ""
        if m := re.fullmatch(r"([A-Z]{3}|\d+)L", upper):
            try:
                _value(m.group(1), _FIELDS[_DOW])
            except ValueError as exc:
                return f"{part!r}: {exc}"
            return ""
        if m := re.fullmatch(r"([A-Z]{3}|\d+)#(\d+)", upper):
            try:
                _value(m.group(1), _FIELDS[_DOW])
            except ValueError as exc:
                return f"{part!r}: {exc}"
            return "" if 1 <= int(m.group(2)) <= 5 else f"the week number in {part!r} must be 1-5"
        if ("L" in upper or "#" in upper) and not _PLAIN.fullmatch(upper):
            return f"{part!r} is not a valid day-of-week (L, nL and n#k are the special forms)"
        return None
    if any(c in upper for c in "LW#") and not _PLAIN.fullmatch(upper):
        return f"{part!r}: L, W and # are only allowed in day-of-month and day-of-week"
    return None


def quartz_cron_errors(expression: str) -> list[str]:
    """Every syntax error of a Quartz cron expression (an empty list when it is valid).

    Args:
        expression: e.g. `"0 30 2 * * ?"` (02:30:00 every day) or `"0 0 8 ? * MON-FRI"`.

    Returns:
        Human-readable messages naming the field, e.g.
        `"hours: 24 is outside 0-23"`; several when several fields are wrong.
    """
    if not isinstance(expression, str) or not expression.strip():
        return ["the expression is empty"]
    parts = expression.split()
    if len(parts) not in (6, 7):
        return [f"expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), got {len(parts)}"]
    errors: list[str] = []
    for index, text in enumerate(parts):
        spec = _FIELDS[index]
        if text == "?":
            if index not in (_DOM, _DOW):
                errors.append(f"{spec.name}: '?' is only allowed in day-of-month and day-of-week")
            continue
        items = text.split(",")
        for item in items:
            special = _special(item, index)
            if special is not None:
                if special:
                    errors.append(f"{spec.name}: {special}")
                elif len(items) > 1:
                    errors.append(f"{spec.name}: {item!r} cannot be combined with other values in a list")
                continue
            if item == "?":
                errors.append(f"{spec.name}: '?' must stand alone")
                continue
            try:
                _item(item, spec)
            except ValueError as exc:
                errors.append(f"{spec.name}: {exc}")
    dom_q, dow_q = parts[_DOM] == "?", parts[_DOW] == "?"
    if dom_q and dow_q:
        errors.append("'?' may be given in only one of day-of-month and day-of-week")
    elif not dom_q and not dow_q:
        errors.append("one of day-of-month and day-of-week must be '?' (Quartz does not support specifying both)")
    return errors


def is_valid_quartz_cron(expression: str) -> bool:
    """True when `quartz_cron_errors(expression)` finds nothing."""
    return not quartz_cron_errors(expression)
