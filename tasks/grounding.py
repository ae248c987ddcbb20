"""Checking that numbers a model wrote come from the facts it was given.

Model prose (the summary above a ``lead ask`` answer, the explanation paragraph of a
remediation e-mail) is kept only when every number it states can be found in the source
values. :func:`stated_numbers` reads the numbers of a text (integers, decimals, percentages,
with ``,`` thousands separators: ``1,234.5``, ``12%``, ``0.75``); :func:`source_numbers`
collects the numbers of JSON-like values (numbers, and numbers written inside strings such as
dates or job names); :func:`ungrounded` lists the stated numbers that match none of them.

A stated number matches a source value when the value, rounded to the stated number's
decimals, gives it (``1234.6`` is stated as ``1,235`` or ``1234.6``; ``0.4567`` as ``0.46``):
how tables and people round. A percentage also matches a ratio (``45%`` matches ``0.45``).
Signs are ignored (a dash is as often a separator, as in ``2026-11-30``, as a minus).

Pure Python, standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s?%)?")
"""An integer with optional thousands separators, optional decimals, optional percent sign."""

_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
"""Numbers inside source strings (no thousands separators: ``1,2`` in a list is two numbers)."""


@dataclass(frozen=True)
class Stated:
    """One number as a text states it: ``text`` (as written), ``value`` (without separators and
    sign), ``decimals`` (digits after the point), ``percent`` (followed by ``%``)."""

    text: str
    value: float
    decimals: int
    percent: bool


def stated_numbers(text: str) -> list[Stated]:
    """The numbers `text` states, in order (see the module docstring). Digits after a letter or
    a point (``p95``, ``S3``, ``r5.4xlarge``) are part of a name, not numbers the text states;
    a unit after a number (``3.2s``, ``12 GB``) does not hide it."""
    out = []
    for match in _NUMBER.finditer(text or ""):
        whole, fraction, percent = match.group(1), match.group(2) or "", match.group(3)
        value = float(whole.replace(",", "") + fraction)
        out.append(Stated(match.group(0).strip(), value, max(0, len(fraction) - 1), bool(percent)))
    return out


def source_numbers(values: Any) -> set[float]:
    """Every number in `values` (nested dicts, lists and tuples; numbers; numbers written in
    strings), as absolute floats. Booleans and non-finite numbers are skipped."""
    found: set[float] = set()
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, (int, float)):
            if math.isfinite(float(item)):
                found.add(abs(float(item)))
        elif isinstance(item, str):
            found.update(float(m) for m in _PLAIN_NUMBER.findall(item.replace(",", "")))
            found.update(float(m) for m in _PLAIN_NUMBER.findall(item))
        elif isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(k for k in item if isinstance(k, str))
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
        else:
            stack.append(str(item))
    return found


def _matches(stated: Stated, value: float) -> bool:
    tolerance = 0.5 * 10 ** (-stated.decimals) + 1e-9
    if abs(value - stated.value) <= tolerance:
        return True
    return stated.percent and abs(value * 100 - stated.value) <= tolerance


def ungrounded(text: str, sources: Iterable[float] | Any) -> list[str]:
    """The numbers `text` states that no source value gives (as written, in order; empty when
    every number is grounded). `sources` is a set from :func:`source_numbers` or any JSON-like
    value (then read with it)."""
    values = sources if isinstance(sources, (set, frozenset)) else source_numbers(sources)
    return [s.text for s in stated_numbers(text) if not any(_matches(s, v) for v in values)]
