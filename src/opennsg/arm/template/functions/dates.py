"""Date functions: ``dateTimeAdd`` (ISO 8601 durations), ``dateTimeFromEpoch``, ``dateTimeToEpoch`` and
``utcNow`` (a placeholder, allowed only as a parameter default, in strings.py). Formats are .NET's."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opennsg.arm.template.functions import function, want_int, want_str
from opennsg.arm.template.values import TemplateError

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_DOTNET = [
    ("yyyy", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("dddd", "%A"), ("ddd", "%a"),
    ("dd", "%d"), ("HH", "%H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("tt", "%p"),
    ("fffffff", "%f0"), ("ffffff", "%f"), ("K", "Z"),
]  # fmt: skip


def parse_time(name: str, text: str) -> datetime:
    cleaned = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    cleaned = cleaned.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise TemplateError(f"The template language function '{name}': '{text}' is not a date and time.") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime, fmt: str | None) -> str:
    """``value`` in a .NET format string (default ISO 8601 ``yyyy-MM-ddTHH:mm:ssZ``)."""
    if not fmt:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt in ("u",):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    if fmt in ("o", "O"):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    if fmt == "d":
        return value.strftime("%m/%d/%Y")
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "'":
            end = fmt.find("'", i + 1)
            end = len(fmt) if end < 0 else end
            out.append(fmt[i + 1 : end])
            i = end + 1
            continue
        for token, code in _DOTNET:
            if fmt.startswith(token, i):
                out.append(value.strftime(code))
                i += len(token)
                break
        else:
            single = {"M": str(value.month), "d": str(value.day), "H": str(value.hour), "m": str(value.minute),
                      "s": str(value.second)}  # fmt: skip
            out.append(single.get(fmt[i], fmt[i]))
            i += 1
    return "".join(out)


def _add_months(value: datetime, months: int) -> datetime:
    total = value.month - 1 + months
    year, month = value.year + total // 12, total % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


@function("dateTimeAdd", 2, 3, returns="string")
def _date_time_add(scope: Scope, args: list[Any]) -> str:
    base = parse_time("dateTimeAdd", want_str("dateTimeAdd", args, 0))
    duration = want_str("dateTimeAdd", args, 1)
    match = _DURATION.match(duration)
    if match is None or duration in ("P", "-P") or duration.endswith("T"):
        raise TemplateError(f"The template language function 'dateTimeAdd': '{duration}' is not an ISO 8601 duration.")
    sign = -1 if match["sign"] else 1
    part = {k: float(v) if v else 0.0 for k, v in match.groupdict().items() if k != "sign"}
    value = _add_months(base, sign * int(part["years"] * 12 + part["months"]))
    value += sign * timedelta(
        weeks=part["weeks"], days=part["days"], hours=part["hours"], minutes=part["minutes"], seconds=part["seconds"]
    )
    return format_time(value, want_str("dateTimeAdd", args, 2) if len(args) == 3 else None)


@function("dateTimeFromEpoch", 1, returns="string")
def _date_time_from_epoch(scope: Scope, args: list[Any]) -> str:
    seconds = want_int("dateTimeFromEpoch", args, 0)
    return format_time(datetime.fromtimestamp(seconds, UTC), None)


@function("dateTimeToEpoch", 1, returns="int")
def _date_time_to_epoch(scope: Scope, args: list[Any]) -> int:
    return int(parse_time("dateTimeToEpoch", want_str("dateTimeToEpoch", args, 0)).timestamp())
