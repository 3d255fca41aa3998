"""The mini program's access token, kept in the database so every worker and instance shares
one, and the one way to call WeChat's server APIs with it.

WeChat's stable_token returns the same token while it is valid, so the danger is not two
tokens but a crowd: a thousand requests noticing at once that the token expired. One caller
claims the refresh (a compare-and-set on the row), the others wait for its result. A call
answered "invalid or expired token" (the token was refreshed elsewhere, say with force_refresh)
drops that token, gets the current one and retries once.
"""

import logging
import time
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import AccessToken
from ..timeutil import as_utc, utcnow
from ..wechat.api import TOKEN_ERRORS
from ..wechatpay.core.errors import ApiError, TransportError

log = logging.getLogger(__name__)

# Refresh this long before WeChat's expiry; WeChat renews a stable token in its last 5 minutes.
EARLY = timedelta(minutes=5)
# How long one caller may hold the refresh claim, and how long the others wait for it.
CLAIM = timedelta(seconds=15)
WAIT_STEP = 0.05


def current_token(api):
    """A valid access token for ``api.appid``: the stored one, or a fresh one (one fetch for
    all concurrent callers)."""
    deadline = time.monotonic() + CLAIM.total_seconds()
    while True:
        row = _row(api.appid)
        if row.token and as_utc(row.expires_at) - EARLY > utcnow():
            return row.token
        if _claim_refresh(api.appid):
            return _refresh(api)
        if time.monotonic() > deadline:
            raise TransportError("timed out waiting for another worker to refresh the token")
        time.sleep(WAIT_STEP)


def call(api, path, body):
    """``api.post(path, body)`` with the current token; an invalid-token answer refreshes the
    token once and retries the call once."""
    token = current_token(api)
    try:
        return api.post(path, body, token)
    except ApiError as exc:
        if exc.code not in TOKEN_ERRORS:
            raise
        log.warning("%s: access token rejected (%s); refreshing once", path, exc.code)
        forget(api.appid, token)
    return api.post(path, body, current_token(api))


def forget(appid, token):
    """Drop ``token`` if it is still the stored one (another worker may have replaced it)."""
    db.session.execute(
        update(AccessToken)
        .where(AccessToken.appid == appid, AccessToken.token == token)
        .values(token=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _row(appid):
    db.session.expire_all()
    row = db.session.get(AccessToken, appid)
    if row is None:
        db.session.add(AccessToken(appid=appid))
        try:
            db.session.commit()
        except IntegrityError:  # another worker created it first
            db.session.rollback()
        row = db.session.get(AccessToken, appid)
    db.session.commit()  # end the read transaction: the next look must see other workers' writes
    return row


def _claim_refresh(appid):
    now = utcnow()
    # Claim only a token that is still missing or stale: a caller that read the row before
    # another one refreshed it must not refresh again.
    claimed = db.session.execute(
        update(AccessToken)
        .where(
            AccessToken.appid == appid,
            or_(AccessToken.token.is_(None), AccessToken.expires_at <= now + EARLY),
            or_(
                AccessToken.refresh_claimed_until.is_(None), AccessToken.refresh_claimed_until < now
            ),
        )
        .values(refresh_claimed_until=now + CLAIM)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claimed.rowcount == 1


def _refresh(api):
    try:
        token, expires_in = api.stable_token()
    except Exception:
        _release(api.appid, {})
        raise
    _release(api.appid, {"token": token, "expires_at": utcnow() + timedelta(seconds=expires_in)})
    log.info("access token refreshed for %s (expires in %s s)", api.appid, expires_in)
    return token


def _release(appid, values):
    db.session.execute(
        update(AccessToken)
        .where(AccessToken.appid == appid)
        .values(refresh_claimed_until=None, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
