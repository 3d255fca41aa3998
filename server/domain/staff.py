"""Staff accounts for the console: separate from mini-program users, with roles and lockout.

Passwords are hashed with Argon2id (argon2-cffi; docs/console.md says why). Every change of an
account's login state is one conditional UPDATE, so two failed logins at the same moment both
count and an account is locked exactly when its failures reach the threshold.
"""

import functools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update

from ..errors import DomainError
from ..extensions import db
from ..models import StaffUser
from ..models.staff import CHINESE, LANGUAGES, ROLES
from ..timeutil import as_utc, utcnow
from . import staff_sessions

MIN_PASSWORD_LENGTH = 12
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


@functools.cache
def _dummy_hash():
    """Verified against when the email is unknown, so a wrong email costs as long as a wrong
    password. Made on first use: not at import, where every gunicorn worker would pay it."""
    return _hasher.hash(secrets.token_urlsafe(16))


def normalise_email(email):
    email = (email or "").strip().lower()
    if not EMAIL.fullmatch(email):
        raise DomainError("INVALID_EMAIL", "not an email address")
    return email


def check_password_rules(password):
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            "WEAK_PASSWORD", f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )


def check_language(language):
    if language not in LANGUAGES:
        raise DomainError("INVALID_LANGUAGE", f"language must be one of {', '.join(LANGUAGES)}")


def set_language(user, language):
    """The console's language for ``user`` from now on. Commits."""
    check_language(language)
    db.session.execute(update(StaffUser).where(StaffUser.id == user.id).values(language=language))
    db.session.commit()
    user.language = language


def new_password():
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def create(email, role, password, language=CHINESE, store=None):
    email = normalise_email(email)
    if role not in ROLES:
        raise DomainError("INVALID_ROLE", f"role must be one of {', '.join(ROLES)}")
    check_language(language)
    check_password_rules(password)
    if find(email) is not None:
        raise DomainError("STAFF_EXISTS", f"{email} already has an account")
    user = StaffUser(
        email=email,
        role=role,
        password_hash=_hasher.hash(password),
        session_token=secrets.token_hex(16),
        language=language,
        store=store,  # a service provider's store this account is limited to
    )
    db.session.add(user)
    db.session.commit()
    return user


def find(email):
    return db.session.execute(
        db.select(StaffUser).where(StaffUser.email == email.strip().lower())
    ).scalar_one_or_none()


def existing(email):
    user = find(email)
    if user is None:
        raise DomainError("STAFF_NOT_FOUND", f"no staff account {email}")
    return user


def disable(email):
    user = existing(email)
    _update(user.id, active=False, session_token=secrets.token_hex(16))
    staff_sessions.end_all(user.id, staff_sessions.DISABLED)
    db.session.commit()
    return user


def reset_password(email, password):
    """New password, sessions ended, lockout lifted; the account is enabled again."""
    user = existing(email)
    check_password_rules(password)
    _update(
        user.id,
        password_hash=_hasher.hash(password),
        session_token=secrets.token_hex(16),
        failed_logins=0,
        locked_until=None,
        active=True,
    )
    staff_sessions.end_all(user.id, staff_sessions.PASSWORD)
    db.session.commit()
    return user


def _update(user_id, condition=True, **values):
    result = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def authenticate(email, password, *, max_failures, lockout):
    """The StaffUser for a correct email and password; DomainError otherwise.

    ``max_failures`` wrong passwords in a row lock the account for ``lockout`` (a timedelta);
    while locked even the right password is refused. Commits.
    """
    user = find(email or "")
    if user is None:
        _verify(_dummy_hash(), password)
        raise DomainError("BAD_CREDENTIALS", "wrong email or password")
    now = utcnow()
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        raise DomainError("LOCKED", "too many failed logins; try again later")
    if not _verify(user.password_hash, password):
        count_failure(user, max_failures=max_failures, lockout=lockout)
        raise DomainError("BAD_CREDENTIALS", "wrong email or password")
    if not user.active:
        raise DomainError("DISABLED", "this account is disabled")
    if user.totp_secret:
        # Half way: the failures count on until the code is right too (second_factor.verify),
        # so the right password cannot wipe out a run of wrong codes.
        _update(user.id, last_login_at=now)
    else:
        _update(user.id, failed_logins=0, locked_until=None, last_login_at=now)
    if _hasher.check_needs_rehash(user.password_hash):
        _update(user.id, password_hash=_hasher.hash(password))
    db.session.commit()
    db.session.refresh(user)
    return user


def check_not_locked(user):
    if user.locked_until is not None and as_utc(user.locked_until) > utcnow():
        raise DomainError("LOCKED", "too many failed logins; try again later")


def count_failure(user, *, max_failures, lockout):
    """One more wrong password or code; raises LOCKED when it reaches ``max_failures`` (the
    account is then locked for ``lockout``, and the count starts again). Commits."""
    _update(user.id, failed_logins=StaffUser.failed_logins + 1)
    if _update(
        user.id,
        StaffUser.failed_logins >= max_failures,
        failed_logins=0,
        locked_until=utcnow() + lockout,
    ):
        db.session.commit()
        raise DomainError("LOCKED", "too many failed logins; try again later")
    db.session.commit()


def _verify(password_hash, password):
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False
