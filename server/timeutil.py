"""Time: stored in UTC, shown to the shop and sent to WeChat in Beijing time."""

from datetime import UTC, datetime, timedelta, timezone

# Beijing time (no daylight saving): WeChat's times, its bills' days and the shop's day.
CHINA = timezone(timedelta(hours=8))


def utcnow():
    """Called per row (a callable default), never evaluated once at import."""
    return datetime.now(UTC)


def as_utc(value):
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def isoformat(value):
    """A stored time as ISO 8601 in UTC, as the API shows times; None stays None."""
    return as_utc(value).isoformat() if value else None
