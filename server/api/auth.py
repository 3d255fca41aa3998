"""Mini-program login and our own expiring, revocable API tokens (a native app's sign-in,
``app_orders.py``, gets the same tokens)."""

import hashlib
import secrets
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request

from ..clients import login_client
from ..domain import customers
from ..errors import DomainError
from ..extensions import db
from ..models import AuthToken, User
from ..timeutil import as_utc, utcnow
from ..wechatpay.core.errors import ApiError, TransportError
from .validation import json_object, string_field

bp = Blueprint("auth", __name__)

# jscode2session errcodes -> (our code, message for the client).
LOGIN_ERRORS = {
    "40029": ("INVALID_CODE", "the login code is invalid or expired; call wx.login again"),
    "40163": ("INVALID_CODE", "the login code was already used; call wx.login again"),
    "45011": ("RATE_LIMITED", "too many logins; try again in a minute"),
    "40226": ("LOGIN_BLOCKED", "WeChat blocked this login"),
    "-1": ("WECHAT_UNAVAILABLE", "WeChat is busy; try again shortly"),
}


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


@bp.post("/api/login")
def login():
    code = string_field(json_object(), "code", max_length=128)
    with wechat_login_errors("jscode2session"):
        session = login_client().code2session(code)
    return signed_in(_upsert_user(session, login_client().appid))


@contextmanager
def wechat_login_errors(call):
    """WeChat's refusal of a login code (``ApiError``) or its silence (``TransportError``) as
    the API's DomainError; the log names the call and the errcode, never the URL."""
    try:
        yield
    except ApiError as exc:
        error_code, message = LOGIN_ERRORS.get(
            exc.code, ("WECHAT_ERROR", "WeChat refused the login")
        )
        current_app.logger.warning("%s failed: errcode %s", call, exc.code)
        raise DomainError(error_code, message, wechat_errcode=exc.code) from None
    except TransportError as exc:
        current_app.logger.warning("%s failed: %s", call, exc.message)
        raise DomainError("WECHAT_UNAVAILABLE", "WeChat did not answer; try again") from None


def signed_in(user):
    """The answer to a login: a new API token for ``user`` (its expired ones go)."""
    token = secrets.token_urlsafe(32)
    ttl = int(current_app.config["TOKEN_TTL_SECONDS"])
    # The user's expired tokens go as a new one comes, so the table stays small.
    db.session.execute(
        db.delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at <= utcnow())
    )
    db.session.add(
        AuthToken(
            token_hash=_hash(token), user_id=user.id, expires_at=utcnow() + timedelta(seconds=ttl)
        )
    )
    db.session.commit()
    return jsonify({"token": token, "expires_in": ttl, "user": {"id": user.id}})


def _upsert_user(session, appid):
    """The user of this openid under the mini program's appid, created on first login (in the
    customer its unionid names); session_key refreshed every time."""
    return customers.sign_in(
        appid,
        session.openid,
        unionid=session.unionid,
        session_key=session.session_key,
    )


@bp.post("/api/logout")
def logout():
    user_token = _bearer_token()
    if user_token:
        db.session.execute(db.delete(AuthToken).filter_by(token_hash=_hash(user_token)))
        db.session.commit()
    return "", 204


def _bearer_token():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def login_required(view):
    """Sets ``g.user`` from a valid, unexpired bearer token, or answers 401 UNAUTHORIZED."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = _bearer_token()
        # The token and its user in one query.
        record = (
            db.session.execute(
                db.select(User, AuthToken.expires_at)
                .join(AuthToken, AuthToken.user_id == User.id)
                .where(AuthToken.token_hash == _hash(token))
            ).first()
            if token
            else None
        )
        if record is None or as_utc(record.expires_at) <= utcnow():
            raise DomainError("UNAUTHORIZED", "log in again")
        g.user = record.User
        return view(*args, **kwargs)

    return wrapper
