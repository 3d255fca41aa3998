"""WeChat Pay's refund notifications (v3 JSON or v2 XML, whichever the deployment runs).

As with payments: the gateway verifies and decrypts, ``refunds.apply_refund_result`` records
the event and moves the refund once. A refusal changes nothing and answers so that WeChat
retries; a message applied before is acknowledged, so WeChat stops.
"""

import logging

from flask import Blueprint, request

from ..clients import gateway
from ..domain import refunds
from ..wechatpay.core.errors import NotificationError
from .notify import _read_body, _reply

bp = Blueprint("refund_notify", __name__)
log = logging.getLogger(__name__)


@bp.post("/api/refund/notify")
def refund_notification():
    gw = gateway()
    try:
        notification = gw.parse_refund_notification(request.headers, _read_body())
        outcome = refunds.apply_refund_result(
            notification.refund,
            source="notify",
            dedupe_key=f"refund-notify:{gw.api_version}:{notification.event_id}",
            event_type=notification.event_type,
            payload=notification.payload,
        )
    except (NotificationError, refunds.RefundMismatch) as exc:
        # Logged without the body: it may carry the payer's account.
        log.warning("refund notification refused: %s (%s)", exc.code, exc)
        return _reply(gw.notification_reply(False, exc.code))
    log.info(
        "refund notification %s for %s: %s",
        notification.event_id,
        notification.refund.out_refund_no,
        outcome,
    )
    return _reply(gw.notification_reply(True))
