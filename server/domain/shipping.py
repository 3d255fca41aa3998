"""Shipping info for mini-program orders (小程序发货信息管理服务). No Flask here.

In many categories WeChat keeps a mini-program order's money frozen until the shop uploads
what it shipped and the user confirms receipt (or the confirmation period ends). This module
records the shop's shipment, uploads it, and keeps WeChat's view of the order.

    record_shipment(order, ...)   first upload, or WeChat's one allowed change
    upload_pending()              the job: uploads WeChat could not take yet (it knows a
                                  payment only some seconds after it), auto-ships virtual goods
    refresh(order)                get_order: WeChat's state of the order
    apply_push(message)           trade_manage_order_settlement and friends, each applied once

Every state change is one conditional UPDATE on the shipment row, like the order's.
An upload whose answer was lost is never simply resent: WeChat counts a second upload of a
shipped order as the one change it allows, so the job asks get_order first.
"""

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..models import Order, Shipment, ShippingEvent
from ..timeutil import CHINA, utcnow
from ..wechatpay.core.errors import ApiError, TransportError
from . import access_tokens

log = logging.getLogger(__name__)

EXPRESS, LOCAL_DELIVERY, VIRTUAL, SELF_PICKUP = 1, 2, 3, 4
LOGISTICS_TYPES = {
    "express": EXPRESS,
    "local": LOCAL_DELIVERY,
    "virtual": VIRTUAL,
    "pickup": SELF_PICKUP,
}
UNIFIED, SPLIT = 1, 2
MAX_PACKAGES = 15  # a split delivery has at most 15 packages
MAX_ITEM_DESC = 120  # characters
MAX_TRACKING = 128
MAX_UPLOADS = 2  # the first upload and one change
# WeChat's order_state (get_order): what the shop and the user see.
WECHAT_STATES = {
    1: "awaiting shipment",
    2: "shipped",
    3: "receipt confirmed",
    4: "completed",
    5: "refunded",
    6: "awaiting settlement",
}
RECEIVED, COMPLETED = 3, 4
# Answers that may succeed later with the same details: WeChat does not know the payment yet
# (it takes some seconds to reach the shipping service), or it is busy.
RETRY_LATER = frozenset({"10060001", "-1", "10060012", "10060019"})
# Answers that mean WeChat already has this order shipped (or past it).
ALREADY_SHIPPED = frozenset({"10060002", "10060003", "10060004"})

# error_code of an upload whose answer was lost: did WeChat take it? get_order says.
UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"
# An upload claimed longer ago than this was interrupted (the call's own timeout is seconds).
UPLOAD_CLAIM = timedelta(minutes=5)

UPLOAD_PATH = "/wxa/sec/order/upload_shipping_info"
GET_ORDER_PATH = "/wxa/sec/order/get_order"
TRADE_MANAGED_PATH = "/wxa/sec/order/is_trade_managed"


def record_shipment(order, *, api, logistics, packages, by, all_delivered=True):
    """Record what was shipped for a paid order and upload it to WeChat.

    ``packages``: one dict per parcel with ``item_desc`` and, for express, ``tracking_no`` and
    ``express_company`` (plus ``contact`` for SF Express); one parcel is a unified delivery,
    several a split one. A second call is WeChat's one allowed change. Returns the shipment;
    its status says whether WeChat took it (SHIPPED), will be retried (PENDING) or refused it.
    """
    logistics_type, delivery_mode, packages = validate(logistics, packages, all_delivered)
    _check_miniprogram(order, api)
    if order.status != Order.PAID or not order.transaction_id:
        raise DomainError("ORDER_NOT_SHIPPABLE", f"the order is {order.status}, not PAID")
    values = {
        "logistics_type": logistics_type,
        "delivery_mode": delivery_mode,
        "is_all_delivered": bool(all_delivered),
        "packages": json.dumps(packages, ensure_ascii=False),
        "created_by": by,
    }
    shipment = order.shipment
    if shipment is None:
        # The order's row lock, as addresses.change takes it: an address changed at the same
        # moment is either in before this shipment or refused after it (ADDRESS_NOT_CHANGEABLE).
        db.session.execute(db.select(Order.id).where(Order.id == order.id).with_for_update())
        shipment = Shipment(order_id=order.id, **values)
        db.session.add(shipment)
        try:
            db.session.commit()
        except IntegrityError:  # recorded concurrently by someone else
            db.session.rollback()
            raise DomainError(
                "ALREADY_RECORDED",
                "this order's shipping was just recorded; reload it before changing it",
            ) from None
    else:
        # The change WeChat allows: only of details it accepted, and only once. A refused
        # first upload (FAILED) may be corrected freely: WeChat never took it.
        changed = _transition(
            shipment.id,
            Shipment.upload_count < MAX_UPLOADS,
            Shipment.status.in_((Shipment.SHIPPED, Shipment.FAILED)),
            status=Shipment.PENDING,
            error_code=None,
            error_message=None,
            **values,
        )
        db.session.commit()
        if not changed:
            raise DomainError(
                "CHANGE_NOT_ALLOWED",
                "WeChat allows one change of an order's "
                "shipping, and it is used (or an upload is in progress)",
            )
        db.session.refresh(shipment)
    upload(shipment, api=api)
    return shipment


def _check_miniprogram(order, api):
    """Shipping info is a mini program's (WeChat's rule): only for orders paid in the mini
    program ``api`` serves, the order's appid. (No ``api``: nothing will be sent.)"""
    # A service provider's order paid in a sub-merchant's own mini program names it as
    # sub_appid (docs/provider.md).
    if api is not None and api.appid not in (order.appid, order.sub_appid):
        raise DomainError(
            "ORDER_NOT_SHIPPABLE",
            f"shipping info is for the mini program's orders; this one was paid by "
            f"{order.trade_type} on channel {order.channel}",
        )


def validate(logistics, packages, all_delivered=True):
    """``(logistics_type, delivery_mode, packages as sent)``; DomainError names the field."""
    logistics_type = LOGISTICS_TYPES.get(logistics)
    if logistics_type is None:
        raise DomainError(
            "INVALID_SHIPPING", "logistics must be one of " + ", ".join(LOGISTICS_TYPES)
        )
    if not isinstance(packages, list) or not 1 <= len(packages) <= MAX_PACKAGES:
        raise DomainError("INVALID_SHIPPING", f"give 1 to {MAX_PACKAGES} packages")
    if len(packages) > 1 and logistics_type != EXPRESS:
        raise DomainError("INVALID_SHIPPING", "only express deliveries can be split")
    if not isinstance(all_delivered, bool):
        raise DomainError("INVALID_SHIPPING", "all_delivered must be true or false")
    return (
        logistics_type,
        UNIFIED if len(packages) == 1 else SPLIT,
        [_package(package, logistics_type) for package in packages],
    )


def _package(package, logistics_type):
    if not isinstance(package, dict):
        raise DomainError("INVALID_SHIPPING", "each package must be an object")
    sent = {"item_desc": _text(package, "item_desc", MAX_ITEM_DESC)}
    if logistics_type == EXPRESS:
        sent["tracking_no"] = _text(package, "tracking_no", MAX_TRACKING)
        sent["express_company"] = _text(package, "express_company", MAX_TRACKING)
        contact = {
            k: _text(package, k, 1024)
            for k in ("consignor_contact", "receiver_contact")
            if package.get(k)
        }
        if sent["express_company"] == "SF" and not contact:
            # SF Express tracking needs a phone number (masked, e.g. 189****1234).
            raise DomainError(
                "INVALID_SHIPPING", "SF Express needs receiver_contact or consignor_contact"
            )
        if contact:
            sent["contact"] = contact
    return sent


def _text(package, name, limit):
    value = package.get(name)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise DomainError("INVALID_SHIPPING", f"'{name}' must be text of 1 to {limit} characters")
    return value.strip()


def upload(shipment, *, api):
    """Send a PENDING shipment to WeChat and record the answer. Returns the new status.

    The upload is claimed first (PENDING -> UPLOADING, one compare-and-set), so the job and a
    person cannot both send it: a second upload would spend WeChat's one change.
    """
    if not _transition(
        shipment.id,
        Shipment.status == Shipment.PENDING,
        status=Shipment.UPLOADING,
        upload_started_at=utcnow(),
    ):
        db.session.rollback()
        db.session.refresh(shipment)
        return shipment.status  # someone else is uploading it, or it moved on
    db.session.commit()
    order = db.session.get(Order, shipment.order_id)
    body = {
        "order_key": {"order_number_type": 2, "transaction_id": order.transaction_id},
        "logistics_type": shipment.logistics_type,
        "delivery_mode": shipment.delivery_mode,
        "shipping_list": json.loads(shipment.packages),
        # Later than any earlier upload of this order: WeChat orders updates by it.
        "upload_time": datetime.now(CHINA).isoformat(timespec="milliseconds"),
        "payer": {"openid": order.payer_openid},
    }
    if shipment.delivery_mode == SPLIT:
        body["is_all_delivered"] = shipment.is_all_delivered
    try:
        access_tokens.call(api, UPLOAD_PATH, body)
    except ApiError as exc:
        _record_event(
            order.id,
            "upload",
            f"UPLOAD.{exc.code}",
            {"request": body, "errcode": exc.code, "errmsg": exc.message},
        )
        if exc.code in RETRY_LATER:
            log.info(
                "shipping of %s: WeChat answered %s; the job retries", order.out_trade_no, exc.code
            )
            return _set_error(shipment, Shipment.PENDING, exc)
        log.warning("shipping of %s refused: %s %s", order.out_trade_no, exc.code, exc.message)
        return _set_error(shipment, Shipment.FAILED, exc)
    except TransportError as exc:
        # Unknown outcome: the job asks get_order before anything is sent again.
        _record_event(order.id, "upload", "UPLOAD.UNKNOWN", {"request": body, "error": exc.message})
        return _set_error(shipment, Shipment.PENDING, exc, code=UNKNOWN_OUTCOME)
    _record_event(order.id, "upload", "UPLOAD.OK", {"request": body})
    _mark_shipped(shipment.id)
    db.session.commit()
    db.session.refresh(shipment)  # the UPDATE bypassed the loaded object
    return shipment.status


def refresh(order, *, api):
    """Ask WeChat (get_order) how far the order is, and keep it. Returns WeChat's order dict."""
    _check_miniprogram(order, api)
    answer = access_tokens.call(api, GET_ORDER_PATH, {"transaction_id": order.transaction_id})
    wechat = answer.get("order") if isinstance(answer.get("order"), dict) else {}
    state = wechat.get("order_state")
    _record_event(order.id, "query", f"QUERY.{state}", answer)
    shipment = order.shipment
    if isinstance(state, int) and shipment is not None:
        _advance(shipment.id, state)
        if (
            shipment.status == Shipment.PENDING
            and shipment.error_code == UNKNOWN_OUTCOME
            and state >= 2
            and _wechat_has(shipment, wechat)
        ):
            # An upload whose answer was lost did go through: WeChat shows these details.
            _mark_shipped(shipment.id)
    db.session.commit()
    if order.shipment is not None:
        db.session.refresh(order.shipment)
    return wechat


def is_trade_managed(api):
    """Whether WeChat manages this mini program's shipping (and so freezes its money)."""
    answer = access_tokens.call(api, TRADE_MANAGED_PATH, {"appid": api.appid})
    return answer.get("is_trade_managed") is True


def run_job(*, api, auto_virtual=False, limit=100):
    """The periodic job. Returns {outcome: count}:

    - with ``auto_virtual``, the mini program's paid orders without a shipment are shipped as
      virtual goods;
    - PENDING shipments are uploaded; one whose last answer was lost is first looked up with
      get_order, since a second upload would spend WeChat's one change;
    - shipped orders WeChat has not settled yet are refreshed (receipt, settlement).
    """
    counts = {}

    def count(outcome):
        counts[outcome] = counts.get(outcome, 0) + 1

    if auto_virtual:
        for order in (
            db.session.execute(
                db.select(Order)
                .outerjoin(Shipment)
                .where(
                    Order.status == Order.PAID,
                    or_(Order.appid == api.appid, Order.sub_appid == api.appid),
                    Shipment.id.is_(None),
                )
                .limit(limit)
            )
            .scalars()
            .all()
        ):
            try:
                count(
                    record_shipment(
                        order,
                        api=api,
                        logistics="virtual",
                        packages=[{"item_desc": order.description}],
                        by="auto:virtual",
                    ).status
                )
            except DomainError as exc:
                count(exc.code)
    _abandoned_uploads(limit)
    for shipment in _shipments(Shipment.status == Shipment.PENDING, limit=limit):
        count(_guarded(lambda: _retry_upload(shipment, api)))
    for shipment in _shipments(
        Shipment.status == Shipment.SHIPPED,
        (Shipment.wechat_state.is_(None)) | (Shipment.wechat_state < COMPLETED),
        limit=limit,
    ):
        count(_guarded(lambda: _refreshed(shipment, api)))
    return counts


def _retry_upload(shipment, api):
    if shipment.error_code == UNKNOWN_OUTCOME:
        refresh(shipment.order, api=api)
        if shipment.status != Shipment.PENDING:
            return "found-shipped"
    return upload(shipment, api=api)


def _wechat_has(shipment, wechat):
    """Whether get_order's shipping shows this shipment's details (an upload went through)."""
    shown = (wechat.get("shipping") or {}).get("shipping_list") or []
    ours = json.loads(shipment.packages)
    return len(shown) == len(ours) and all(
        isinstance(theirs, dict)
        and theirs.get("goods_desc") == mine["item_desc"]
        and (theirs.get("tracking_no") or None) == mine.get("tracking_no")
        for theirs, mine in zip(shown, ours, strict=True)
    )


def _abandoned_uploads(limit):
    """UPLOADING shipments whose worker died mid-call: their outcome is unknown."""
    stale = utcnow() - UPLOAD_CLAIM
    for shipment in _shipments(
        Shipment.status == Shipment.UPLOADING, Shipment.upload_started_at < stale, limit=limit
    ):
        _transition(
            shipment.id,
            Shipment.status == Shipment.UPLOADING,
            Shipment.upload_started_at < stale,
            status=Shipment.PENDING,
            error_code=UNKNOWN_OUTCOME,
            error_message="the upload was interrupted",
        )
    db.session.commit()


def _refreshed(shipment, api):
    refresh(shipment.order, api=api)
    return "refreshed"


def _shipments(*conditions, limit):
    return (
        db.session.execute(
            db.select(Shipment).where(*conditions).order_by(Shipment.id).limit(limit)
        )
        .scalars()
        .all()
    )


def _guarded(step):
    try:
        return step()
    except (ApiError, TransportError) as exc:
        db.session.rollback()
        return f"error:{exc.code}"


def apply_push(message):
    """Apply a verified message push. Returns "applied", "duplicate" or "ignored"."""
    event = message.get("Event")
    if event not in (
        "trade_manage_order_settlement",
        "trade_manage_remind_shipping",
        "trade_manage_remind_access_api",
    ):
        return "ignored"
    transaction_id = message.get("transaction_id")
    order = (
        db.session.execute(
            db.select(Order).filter_by(transaction_id=transaction_id)
        ).scalar_one_or_none()
        if transaction_id
        else None
    )
    # WeChat resends a push unchanged; two different pushes may share a second (shipped, then
    # settled at once), so the key is the message's content, not its time.
    key = "push:" + hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()
    if not _record_event(
        order.id if order else None, "push", f"PUSH.{event}", message, dedupe_key=key
    ):
        return "duplicate"
    if event == "trade_manage_order_settlement" and order is not None and order.shipment:
        if message.get("settlement_time"):
            _advance(
                order.shipment.id,
                COMPLETED,
                settled_at=_time(message["settlement_time"]),
                received_at=_time(message.get("confirm_receive_time")),
            )
        elif message.get("confirm_receive_time"):
            _advance(
                order.shipment.id, RECEIVED, received_at=_time(message["confirm_receive_time"])
            )
        elif message.get("shipped_time"):
            _advance(order.shipment.id, 2)
    elif event == "trade_manage_remind_shipping":
        log.warning(
            "WeChat reminds: order %s is paid but not shipped (%s)",
            transaction_id,
            message.get("msg"),
        )
    db.session.commit()
    return "applied"


def _advance(shipment_id, state, **times):
    """WeChat's state only moves forward (a late push must not undo a newer get_order). The
    times only pushes carry (received, settled) are kept even when get_order saw their state
    first: the push is then late, not stale, and nothing else would ever record them."""
    _transition(
        shipment_id,
        (Shipment.wechat_state.is_(None)) | (Shipment.wechat_state < state),
        wechat_state=state,
        wechat_checked_at=utcnow(),
    )
    values = {
        name: func.coalesce(getattr(Shipment, name), value)
        for name, value in times.items()
        if value is not None
    }
    if values:
        _transition(shipment_id, **values)


def _mark_shipped(shipment_id):
    return _transition(
        shipment_id,
        Shipment.status.in_((Shipment.PENDING, Shipment.UPLOADING)),
        status=Shipment.SHIPPED,
        upload_count=Shipment.upload_count + 1,
        uploaded_at=utcnow(),
        error_code=None,
        error_message=None,
    )


def _set_error(shipment, status, exc, code=None):
    _transition(
        shipment.id,
        Shipment.status == Shipment.UPLOADING,
        status=status,
        error_code=(code or exc.code)[:32],
        error_message=exc.message[:256],
    )
    db.session.commit()
    db.session.refresh(shipment)
    return shipment.status


def _transition(shipment_id, *conditions, **values):
    result = db.session.execute(
        update(Shipment)
        .where(Shipment.id == shipment_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _record_event(order_id, source, event_type, payload, dedupe_key=None):
    db.session.add(
        ShippingEvent(
            order_id=order_id,
            source=source,
            event_type=event_type[:64],
            dedupe_key=dedupe_key,
            payload=json.dumps(payload, ensure_ascii=False, default=str),
        )
    )
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _time(value):
    if isinstance(value, int) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None
