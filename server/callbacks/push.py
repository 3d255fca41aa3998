"""The mini program's message push (消息推送): WeChat's GET handshake and its JSON pushes.

Set the URL ``https://<your domain>/api/wechat/push`` in the mini program's admin (开发管理 →
消息推送), data format JSON, with the Token (``WECHAT_PUSH_TOKEN``) and, in the secure mode,
the EncodingAESKey (``WECHAT_PUSH_AES_KEY``; required in production). A push is applied once
however often WeChat resends it (``shipping.apply_push`` records it under a unique key);
forged, stale, undecryptable or misaddressed pushes are refused and change nothing.
"""

import json
import logging
import time

from flask import Blueprint, current_app, request

from ..domain import shipping
from ..errors import DomainError
from ..wechat import push

bp = Blueprint("push", __name__)
log = logging.getLogger(__name__)

MAX_PUSH_BYTES = 16 * 1024
# A push older (or newer) than this is refused: a captured one cannot be replayed later.
MAX_AGE_SECONDS = 300


@bp.get("/api/wechat/push")
def handshake():
    """WeChat checks the URL: answer ``echostr`` when the signature is ours."""
    token = _token()
    timestamp, nonce = _fresh_timestamp(), request.args.get("nonce", "")
    _checked(push.check_signature, request.args.get("signature"), token, timestamp, nonce)
    return current_app.response_class(request.args.get("echostr", ""), mimetype="text/plain")


@bp.post("/api/wechat/push")
def receive():
    token, config = _token(), current_app.config
    timestamp, nonce = _fresh_timestamp(), request.args.get("nonce", "")
    body = _json_body()
    if config.get("WECHAT_PUSH_AES_KEY"):
        encrypted = body.get("Encrypt")
        if not isinstance(encrypted, str):
            raise DomainError("PUSH_NOT_ENCRYPTED", "the secure mode expects an Encrypt field")
        _checked(
            push.check_signature,
            request.args.get("msg_signature"),
            token,
            timestamp,
            nonce,
            encrypted,
        )
        plain = _checked(
            push.decrypt,
            push.aes_key(config["WECHAT_PUSH_AES_KEY"]),
            encrypted,
            config["WECHAT_APPID"],
        )
        body = _parse(plain)
    else:
        _checked(push.check_signature, request.args.get("signature"), token, timestamp, nonce)
    outcome = shipping.apply_push(body)
    log.info("message push %s: %s", body.get("Event"), outcome)
    return current_app.response_class("success", mimetype="text/plain")


def _token():
    token = current_app.config.get("WECHAT_PUSH_TOKEN")
    if not token:
        raise DomainError("PUSH_NOT_CONFIGURED", "the message push is not configured")
    return token


def _fresh_timestamp():
    value = request.args.get("timestamp", "")
    if (
        not value.isascii()
        or not value.isdigit()
        or len(value) > 12
        or abs(time.time() - int(value)) > MAX_AGE_SECONDS
    ):
        raise DomainError("PUSH_STALE", "the push timestamp is missing or too old")
    return value


def _checked(check, *args):
    try:
        return check(*args)
    except push.PushError as exc:
        log.warning("message push refused: %s", exc.code)
        raise DomainError(f"PUSH_{exc.code}", str(exc)) from None


def _json_body():
    if (request.content_length or 0) > MAX_PUSH_BYTES:
        raise DomainError("BODY_TOO_LARGE", "the push is too large")
    return _parse(request.get_data(cache=False)[: MAX_PUSH_BYTES + 1])


def _parse(raw):
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise DomainError(
            "INVALID_PUSH",
            "the push must be a JSON object (set the data "
            "format to JSON in the mini program's admin)",
        )
    return body
