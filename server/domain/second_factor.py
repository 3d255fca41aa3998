"""The console's second factor: TOTP (RFC 6238, pyotp) and single-use recovery codes.

Enrolment keeps a new secret as pending until the staff member types a code from it; then it is
the account's secret and ten recovery codes are made, shown once. A code is accepted within one
30-second step either side of now, and each step once (``totp_last_step`` only moves forward, a
compare-and-set), so a code seen over a shoulder cannot be used again. Recovery codes carry
80 random bits each, so their SHA-256 is stored, not an Argon2 hash: a slow hash protects
guessable passwords, and nobody can search 2**80 codes however fast the hash. Using one is a
compare-and-set too: of two logins racing with one code, one gets in.

The secret itself is kept as it is (the server needs it to check codes): the database is as
sensitive as the merchant's keys (docs/security.md).
"""

import hashlib
import secrets
import time

import pyotp
from sqlalchemy import delete, update

from ..errors import DomainError
from ..extensions import db
from ..models import RecoveryCode, StaffUser
from ..timeutil import utcnow
from . import staff, staff_sessions

ISSUER = "Shop console"
RECOVERY_CODES = 10
TOTP, RECOVERY = "totp", "recovery"


def _digest(code):
    return hashlib.sha256(code.encode()).hexdigest()


def _normal(code):
    return "".join((code or "").split()).replace("-", "").upper()


def begin(user):
    """A new pending secret for ``user``: returned, and kept until confirmed. Commits."""
    secret = pyotp.random_base32()  # 160 bits
    db.session.execute(update(StaffUser).where(StaffUser.id == user.id).values(totp_pending=secret))
    db.session.commit()
    user.totp_pending = secret
    return secret


def provisioning_uri(user, secret):
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _step(secret, code):
    """The time step ``code`` belongs to (now's, or one step either side), or None."""
    totp = pyotp.TOTP(secret)
    if len(code) != totp.digits or not code.isdigit():
        return None
    now = totp.timecode(time.time())
    for step in (now, now - 1, now + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm(user, code):
    """Make the pending secret the account's once ``code`` is right: the recovery codes, in
    clear, to show once. DomainError BAD_CODE otherwise. Commits."""
    pending = user.totp_pending
    step = _step(pending, _normal(code)) if pending else None
    if step is None:
        raise DomainError("BAD_CODE", "that code is not right")
    changed = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.totp_pending == pending)
        .values(totp_secret=pending, totp_pending=None, totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise DomainError("BAD_CODE", "that code is not right")
    codes = _new_recovery_codes(user.id)
    db.session.commit()
    db.session.refresh(user)
    return codes


def _new_recovery_codes(staff_id):
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(10).upper()  # 80 bits
        codes.append("-".join(raw[i : i + 5] for i in range(0, 20, 5)))
        db.session.add(RecoveryCode(staff_id=staff_id, code_hash=_digest(raw)))
    return codes


def recovery_codes_left(user):
    return db.session.scalar(
        db.select(db.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.staff_id == user.id, RecoveryCode.used_at.is_(None))
    )


def verify(user, code, *, max_failures, lockout):
    """Whether ``code`` (an authenticator's code or a recovery code) is right for ``user``:
    TOTP or RECOVERY, each usable once. Wrong codes count towards the account's lockout
    (DomainError BAD_CODE, or LOCKED). Commits."""
    staff.check_not_locked(user)
    code = _normal(code)
    how = None
    step = _step(user.totp_secret, code) if user.totp_secret else None
    if step is not None:
        used = db.session.execute(
            update(StaffUser)
            .where(StaffUser.id == user.id, StaffUser.totp_last_step < step)
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        how = TOTP if used.rowcount == 1 else None
    elif user.totp_secret and len(code) == 20:
        used = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.staff_id == user.id,
                RecoveryCode.code_hash == _digest(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        how = RECOVERY if used.rowcount == 1 else None
    if how is not None:
        db.session.execute(
            update(StaffUser)
            .where(StaffUser.id == user.id)
            .values(failed_logins=0)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if how is None:
        staff.count_failure(user, max_failures=max_failures, lockout=lockout)
        raise DomainError("BAD_CODE", "that code is not right (or was already used)")
    return how


def reset(user):
    """Remove ``user``'s second factor (a lost phone) and end their sessions. Commits."""
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(totp_secret=None, totp_pending=None, totp_last_step=0)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
    staff_sessions.end_all(user.id, staff_sessions.SECOND_FACTOR)
    db.session.commit()
    db.session.refresh(user)
