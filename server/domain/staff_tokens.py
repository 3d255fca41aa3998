"""A POS terminal's API token (docs/counter.md, "The POS terminal's endpoint").

An admin makes one in the console for a cashier account; it is shown once. A terminal sends it
as ``Authorization: Bearer pos_<key>.<secret>`` and acts for that account, as a cashier, at the
counter's JSON endpoints only (the console checks which, ``server/console/pos_tokens.py``).
The row keeps ``key`` (random, public: it finds the row) and an Argon2id hash of ``secret``
(256 random bits). Such a secret cannot be guessed however fast the hash, so the hash's cost is
the smallest Argon2 allows (a terminal polls every second; a password keeps the library's
parameters, ``domain/staff.py``): a copy of the table still gives no usable token.

A token is refused once revoked (one compare-and-set: revoked once, by one admin), once its
account is disabled, no longer a cashier, or moved to another store.
"""

import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update

from ..errors import DomainError
from ..extensions import db
from ..models import StaffToken, StaffUser
from ..models.staff import CASHIER
from ..timeutil import as_utc, utcnow

PREFIX = "pos_"
TOKEN = re.compile(r"pos_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})")
NAME_LENGTH = 64
TOUCH_EVERY = timedelta(minutes=1)
# Refusals (each a stable code, 401): the token is unknown or malformed, or it was revoked.
INVALID, REVOKED = "TOKEN_INVALID", "TOKEN_REVOKED"

_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def create(staff_id, name, created_by):
    """A new token for the cashier account ``staff_id``, named ``name``: (row, token). The
    token is returned here only; it is not stored. Commits."""
    name = (name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise DomainError("INVALID_INPUT", f"name the terminal (at most {NAME_LENGTH} characters)")
    user = db.session.get(StaffUser, staff_id)
    if user is None:
        raise DomainError("STAFF_NOT_FOUND", "no such staff account")
    if user.role != CASHIER or not user.active:
        raise DomainError("INVALID_ROLE", "a terminal's token is for an active cashier account")
    key, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = StaffToken(
        staff_id=user.id,
        name=name,
        key=key,
        secret_hash=_hasher.hash(secret),
        store=user.store,
        created_by=created_by,
    )
    db.session.add(row)
    db.session.commit()
    return row, f"{PREFIX}{key}.{secret}"


def authenticate(token):
    """(row, staff account) of a usable ``token``; DomainError TOKEN_INVALID or TOKEN_REVOKED
    otherwise (the row, when there is one, as ``extra["token"]``)."""
    match = TOKEN.fullmatch(token or "")
    row = None
    if match:
        row = db.session.execute(
            db.select(StaffToken).where(StaffToken.key == match.group(1))
        ).scalar_one_or_none()
    if row is None or not _verifies(row.secret_hash, match.group(2)):
        raise DomainError(INVALID, "this token is not valid")
    if row.revoked_at is not None:
        raise DomainError(REVOKED, "this token was revoked", token=row)
    user = db.session.get(StaffUser, row.staff_id)
    if not user.active or user.role != CASHIER or user.store != row.store:
        raise DomainError(INVALID, "this token's account can no longer take payments", token=row)
    _touch(row)
    return row, user


def _verifies(secret_hash, secret):
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def _touch(row, now=None):
    """Mark the token used, at most once a minute (one conditional UPDATE). Commits."""
    now = now or utcnow()
    if row.last_used_at is not None and now - as_utc(row.last_used_at) < TOUCH_EVERY:
        return
    db.session.execute(
        update(StaffToken)
        .where(
            StaffToken.id == row.id,
            (StaffToken.last_used_at.is_(None)) | (StaffToken.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )
    db.session.commit()


def revoke(token_id, revoked_by):
    """Revoke a token: True for the one call that did it. Commits."""
    result = db.session.execute(
        update(StaffToken)
        .where(StaffToken.id == token_id, StaffToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=revoked_by)
    )
    db.session.commit()
    return result.rowcount == 1


def listed():
    """[(token, staff account)], the newest first."""
    return db.session.execute(
        db.select(StaffToken, StaffUser)
        .join(StaffUser, StaffUser.id == StaffToken.staff_id)
        .order_by(StaffToken.id.desc())
    ).all()
