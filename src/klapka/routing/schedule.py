"""Business hours at a moment, and the effective presence of an extension.

Time-conditional presence switching is edge-triggered: the schedule sets the status at each
transition; a manual change made after the last transition stands until the next one. All
arithmetic on instants is done in UTC and every local reading goes through the explicit
time zone, so DST changes move the edges with the wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from klapka.routing.model import BusinessHoursView, Directory, ExtensionView, Schedule

HOLIDAY = "holiday"
BREAK = "break"
BUSINESS = "business"
OUTSIDE = "outside"

_MINUTE = timedelta(minutes=1)
_MAX_LOOKBACK_DAYS = 370


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def hours_zone(d: Directory, schedule: Schedule | None = None) -> ZoneInfo:
    name = (
        (schedule.timezone if schedule else None) or d.business_hours.timezone or d.system.timezone
    )
    return zone(name)


def _holiday(bh: BusinessHoursView, day: date) -> str | None:
    for first, last, name in bh.holidays:
        if first <= day <= last:
            return name
    return None


def _within(ranges: tuple[tuple[int, int], ...], minute: int) -> bool:
    return any(start <= minute < end for start, end in ranges)


def hours_state(bh: BusinessHoursView, tz: ZoneInfo, at: datetime) -> tuple[str, str]:
    """(state, detail): holiday > break > business > outside, at the instant ``at``."""
    local = at.astimezone(tz)
    name = _holiday(bh, local.date())
    if name is not None:
        return HOLIDAY, name
    wd = local.weekday()
    minute = local.hour * 60 + local.minute
    if _within(bh.breaks.get(wd, ()), minute):
        return BREAK, ""
    if _within(bh.weekly.get(wd, ()), minute):
        return BUSINESS, ""
    return OUTSIDE, ""


def is_open(d: Directory, at: datetime) -> bool:
    """Open = business hours outside breaks and holidays."""
    return hours_state(d.business_hours, hours_zone(d), at)[0] == BUSINESS


def describe_state(state: str, detail: str) -> str:
    if state == HOLIDAY:
        return f"holiday '{detail}'" if detail else "holiday"
    return {BREAK: "break hours", BUSINESS: "business hours", OUTSIDE: "outside business hours"}[
        state
    ]


def scheduled_status(schedule: Schedule, state: str) -> str:
    return {
        HOLIDAY: schedule.holidays,
        BREAK: schedule.break_hours,
        BUSINESS: schedule.business_hours,
        OUTSIDE: schedule.outside_business_hours,
    }[state]


def _edges(bh: BusinessHoursView, day: date) -> list[int]:
    wd = day.weekday()
    minutes = {0}
    for ranges in (bh.weekly.get(wd, ()), bh.breaks.get(wd, ())):
        for start, end in ranges:
            minutes.add(start)
            if end < 1440:
                minutes.add(end)
    return sorted(minutes, reverse=True)


def last_transition(
    schedule: Schedule, bh: BusinessHoursView, tz: ZoneInfo, at: datetime, since: datetime
) -> datetime | None:
    """The latest instant in (since, at] where the scheduled status changes, if any."""

    def status(instant: datetime) -> str:
        return scheduled_status(schedule, hours_state(bh, tz, instant)[0])

    day = at.astimezone(tz).date()
    stop = max(since.astimezone(tz).date(), day - timedelta(days=_MAX_LOOKBACK_DAYS))
    while day >= stop:
        for minute in _edges(bh, day):
            local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
            edge = local.astimezone(UTC)
            if edge > at or edge <= since:
                continue
            if status(edge) != status(edge - _MINUTE):
                return edge
        day -= timedelta(days=1)
    return None


def effective_presence(ext: ExtensionView, d: Directory, at: datetime) -> tuple[str, str]:
    """(status, why) of the extension at ``at``; ``why`` is for the trace."""
    schedule = ext.schedule
    if schedule is None:
        return ext.presence, "set manually"
    tz = hours_zone(d, schedule)
    state, detail = hours_state(d.business_hours, tz, at)
    scheduled = scheduled_status(schedule, state)
    changed = ext.presence_changed_at
    manual_stands = (
        changed is not None
        and changed <= at
        and ext.presence != scheduled
        and last_transition(schedule, d.business_hours, tz, at, changed) is None
    )
    if manual_stands:
        return ext.presence, "set manually after the last schedule change"
    return scheduled, f"{describe_state(state, detail)} (time-conditional switching)"
