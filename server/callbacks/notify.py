"""WeChat Pay's payment notifications (v3 JSON or v2 XML, whichever the deployment runs).

The gateway verifies and decrypts; ``payments.apply_transaction`` records the event and moves
the order once. Every refusal changes nothing and answers so that WeChat retries; an event
already applied is acknowledged, so WeChat stops.
"""

import logging

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..clients import gateway
from ..domain import payments
from ..wechatpay.core.errors import NotificationError

bp = Blueprint("notify", __name__)
log = logging.getLogger(__name__)

# Real notifications are a few KiB; anything larger is refused before it is parsed.
MAX_NOTIFICATION_BYTES = 16 * 1024


@bp.post("/api/pay/notify")
def payment_notification():
    gw = gateway()
    try:
        body = _read_body()
        notification = gw.parse_payment_notification(request.headers, body)
        outcome = payments.apply_transaction(
            notification.transaction,
            appid=current_app.config["WECHAT_APPID"],
            mchid=current_app.config["WECHATPAY_MCHID"],
            source="notify",
            dedupe_key=f"notify:{gw.api_version}:{notification.event_id}",
            event_type=notification.event_type,
            payload=notification.payload,
        )
    except (NotificationError, payments.PaymentMismatch) as exc:
        # Logged without the body: it may carry the payer's openid.
        log.warning("payment notification refused: %s (%s)", exc.code, exc)
        return _reply(gw.notification_reply(False, exc.code))
    # "paid" is logged where the order changes; the rest changes nothing.
    log.debug(
        "payment notification %s for %s: %s",
        notification.event_id,
        notification.transaction.out_trade_no,
        outcome,
    )
    return _reply(gw.notification_reply(True))


def _read_body():
    """The raw bytes, exactly as received (signatures cover them), within the size bound."""
    too_large = NotificationError("notification body too large", "BODY_TOO_LARGE")
    if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
        raise too_large
    try:
        body = request.stream.read(MAX_NOTIFICATION_BYTES + 1)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise too_large
    return body


def _reply(reply):
    return current_app.response_class(
        reply.body, status=reply.status, content_type=reply.content_type
    )
