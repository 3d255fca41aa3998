"""Staff sessions kept on the server (docs/security.md, "The staff console").

A login makes a row; the browser's cookie carries only a random token, and the row only its
SHA-256. Every console request looks the row up and checks it: not ended, younger than the
longest a session may last, used within the idle limit, and from the browser it was made in (the
same user agent, an address in the same network). A check that fails ends the row, once: every
end is one compare-and-set, so of two requests racing to end a session one does it (and is
audited), the other finds it ended. ``last_seen_at`` is written at most once a minute, so
reading pages does not write on every request.
"""

import hashlib
import ipaddress
import secrets
from datetime import timedelta

from sqlalchemy import update

from ..extensions import db
from ..models import StaffSession, StaffUser
from ..timeutil import as_utc, utcnow

TOUCH_EVERY = timedelta(minutes=1)
USER_AGENT_LENGTH = 512

# Why a session ended (end_reason): shown on the sessions pages and in the audit log.
LOGOUT, EXPIRED, IDLE, USER_AGENT, ADDRESS = "logout", "expired", "idle", "user_agent", "address"
ENDED_BY_STAFF, PASSWORD, DISABLED = "ended_by_staff", "password_reset", "disabled"
SECOND_FACTOR = "second_factor_reset"


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def start(user, user_agent, address):
    """A new session for ``user`` (who just typed their password, and code): its token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        StaffSession(
            staff_id=user.id,
            token_hash=digest(token),
            user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
            address=address or "",
            created_at=now,
            last_seen_at=now,
            fresh_at=now,
        )
    )
    db.session.commit()
    return token


def find(token):
    if not token or len(token) > 100:
        return None
    return db.session.execute(
        db.select(StaffSession).where(StaffSession.token_hash == digest(token))
    ).scalar_one_or_none()


def same_network(first, second, ipv4_prefix, ipv6_prefix):
    """Whether two addresses are in one network: the first ``ipv4_prefix`` (or
    ``ipv6_prefix``) bits equal. A prefix of 0 matches any two addresses of one family."""
    try:
        a, b = ipaddress.ip_address(first), ipaddress.ip_address(second)
    except ValueError:
        return first == second
    if a.version != b.version:
        return False
    prefix = ipv4_prefix if a.version == 4 else ipv6_prefix
    return b in ipaddress.ip_network(f"{a}/{prefix}", strict=False)


def problem(row, user_agent, address, *, max_age, idle, ipv4_prefix, ipv6_prefix, now=None):
    """Why ``row`` may not be used for this request (an end reason), or None."""
    now = now or utcnow()
    if row.ended_at is not None:
        return row.end_reason or LOGOUT
    if now - as_utc(row.created_at) > max_age:
        return EXPIRED
    if now - as_utc(row.last_seen_at) > idle:
        return IDLE
    if not secrets.compare_digest(
        row.user_agent.encode(), (user_agent or "")[:USER_AGENT_LENGTH].encode()
    ):
        return USER_AGENT
    if not same_network(row.address, address or "", ipv4_prefix, ipv6_prefix):
        return ADDRESS
    return None


def touch(row, now=None):
    """Mark the session used, at most once a minute (one conditional UPDATE). Commits."""
    now = now or utcnow()
    if now - as_utc(row.last_seen_at) < TOUCH_EVERY:
        return
    db.session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == row.id,
            StaffSession.ended_at.is_(None),
            StaffSession.last_seen_at < now - TOUCH_EVERY,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def mark_fresh(row):
    """The password or a code was just typed in this session. Commits."""
    now = utcnow()
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.id == row.id, StaffSession.ended_at.is_(None))
        .values(fresh_at=now, last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    row.fresh_at = now


def is_fresh(row, window):
    return utcnow() - as_utc(row.fresh_at) <= window


def end(session_id, reason, staff_id=None):
    """End one session, if it is still open (and belongs to ``staff_id`` when given): whether
    this call ended it. Commits."""
    condition = [StaffSession.id == session_id, StaffSession.ended_at.is_(None)]
    if staff_id is not None:
        condition.append(StaffSession.staff_id == staff_id)
    result = db.session.execute(
        update(StaffSession)
        .where(*condition)
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def end_all(staff_id, reason):
    """End every open session of one staff member (a new password, a disabled account): how
    many. Does not commit: part of the caller's change."""
    result = db.session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def open_sessions(staff_id=None):
    """Open sessions, newest first; one staff member's when given (with their account)."""
    query = (
        db.select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.staff_id)
        .where(StaffSession.ended_at.is_(None))
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    )
    if staff_id is not None:
        query = query.where(StaffSession.staff_id == staff_id)
    return db.session.execute(query).all()


def masked_address(address):
    """An address with its host part hidden: 203.0.113.x, 2001:db8:1:2::/64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "?"
    if ip.version == 4:
        return ".".join(str(ip).split(".")[:3] + ["x"])
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))
