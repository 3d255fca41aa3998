"""What WeChat Pay posts to us, v3 JSON or v2 XML, through one path for every kind of event:

    verify   the gateway of the channel the URL names (its merchant's keys, its API version)
             checks the signature over the raw bytes and decrypts;
    record   the domain records the message (a PaymentEvent, unique per message) before it acts;
    apply    one compare-and-set moves the order or the refund, after checking that WeChat's
             appid, mchid and sub_mchid are the ones the order was placed with;
    reply    success when applied or applied before (WeChat stops); a refusal otherwise (WeChat
             retries). A verified message that contradicts our records (another merchant,
             another amount, an unknown order) is kept as a REFUSED.<code> event for a person
             and changes nothing.

Each channel has its notify URLs (``server/channels.py``): the default channel keeps
``/api/pay/notify`` and ``/api/refund/notify`` (deployed merchants have them registered, and
every order placed before channels existed names them); every other channel gets
``/api/pay/notify/<channel>`` and ``/api/refund/notify/<channel>``, so the handler knows whose
keys verify a message before it reads it. A kind of event (payments and refunds today;
transfers and a service provider's events next) is one entry of ``EVENTS``: its URL, the
gateway call that verifies it, and the domain function that applies it.
"""

import logging
from dataclasses import dataclass

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..channels import DEFAULT, notification_gateway
from ..domain import payments, refunds
from ..wechatpay.core.errors import NotificationError

bp = Blueprint("notify", __name__)
log = logging.getLogger(__name__)

# Real notifications are a few KiB; anything larger is refused before it is parsed.
MAX_NOTIFICATION_BYTES = 16 * 1024


@dataclass(frozen=True)
class Event:
    """One kind of message WeChat Pay sends."""

    name: str  # endpoint name, and what the log calls it
    path: str  # the default channel's URL; other channels' add /<channel>
    parse: str  # the Gateway call that verifies and decrypts it
    apply: object  # (notification, gateway) -> outcome; raises what ``refusals`` lists
    refusals: tuple  # the domain's exceptions for a verified message it will not apply
    subject: object  # notification -> the number the log names


def apply_payment(notification, gateway):
    return payments.apply_transaction(
        notification.transaction,
        source="notify",
        dedupe_key=f"notify:{gateway.api_version}:{notification.event_id}",
        event_type=notification.event_type,
        payload=notification.payload,
    )


def apply_refund(notification, gateway):
    return refunds.apply_refund_result(
        notification.refund,
        source="notify",
        dedupe_key=f"refund-notify:{gateway.api_version}:{notification.event_id}",
        event_type=notification.event_type,
        payload=notification.payload,
    )


EVENTS = (
    Event(
        "payment",
        "/api/pay/notify",
        "parse_payment_notification",
        apply_payment,
        (payments.PaymentMismatch,),
        lambda n: n.transaction.out_trade_no,
    ),
    Event(
        "refund",
        "/api/refund/notify",
        "parse_refund_notification",
        apply_refund,
        (refunds.RefundMismatch,),
        lambda n: n.refund.out_refund_no,
    ),
)


def receive(event, channel):
    """verify -> record -> apply -> reply, for ``event`` posted to ``channel``'s URL."""
    gateway = notification_gateway(channel)  # CHANNEL_NOT_FOUND, PAYMENTS_NOT_CONFIGURED
    try:
        notification = getattr(gateway, event.parse)(request.headers, _read_body())
        outcome = event.apply(notification, gateway)
    except (NotificationError, *event.refusals) as exc:
        # Logged without the body: it may carry the payer's openid or account.
        log.warning("%s notification refused (%s): %s (%s)", event.name, channel, exc.code, exc)
        return _reply(gateway.notification_reply(False, exc.code))
    # A change is logged where it is made; the rest changes nothing.
    log.debug(
        "%s notification %s for %s (%s): %s",
        event.name,
        notification.event_id,
        event.subject(notification),
        channel,
        outcome,
    )
    return _reply(gateway.notification_reply(True))


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


def _register(event):
    def default_channel():
        return receive(event, DEFAULT)

    def named_channel(channel):
        return receive(event, channel)

    bp.add_url_rule(event.path, event.name, default_channel, methods=["POST"])
    bp.add_url_rule(
        f"{event.path}/<channel>", f"{event.name}_channel", named_channel, methods=["POST"]
    )


for _event in EVENTS:
    _register(_event)
