"""Orders built straight in the database, through the models, for domain tests without HTTP.

A paid order as the payment loop leaves it (a user, a product, its items, the notification
that paid it), refunded in part or in full (the refunds and the notifications that settled
them), or shipped (the shipment WeChat accepted, and the upload's event). Call them inside an
app context (the ``domain_app`` fixture pushes one); each commits and returns its rows.

The end-to-end tests make the same states over real HTTP, through the simulator; these are
for tests about what a domain function or a page does with such an order, where the way
there is not the point.
"""

import itertools
import json
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app

from server.extensions import db
from server.models import (
    Customer,
    Order,
    OrderItem,
    PaymentEvent,
    Product,
    Refund,
    RefundRequest,
    Shipment,
    ShippingEvent,
    User,
)

_numbers = itertools.count(1)


def _beijing_stamp(when):
    """Beijing time to the second, as the backend starts its out_trade_no and out_refund_no."""
    return (when.astimezone(UTC) + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")


def _now():
    return datetime.now(UTC)


def _json(payload):
    return json.dumps(payload, ensure_ascii=False)


def miniprogram():
    """The ids of the default channel (the mini program's JSAPI payments), from the app's
    settings: what checkout records on an order placed in the mini program."""
    config = current_app.config
    return {
        "channel": "miniprogram",
        "trade_type": "JSAPI",
        "appid": config["WECHAT_APPID"],
        "mchid": config["WECHATPAY_MCHID"],
        "api_version": config["WECHATPAY_API_VERSION"],
    }


def user(openid=None, *, appid=None, unionid=None, customer=None):
    """A WeChat user who has logged in (the mini program's, unless ``appid`` says otherwise),
    a customer of their own unless ``customer`` is given."""
    if customer is None:
        customer = Customer(unionid=unionid)
        db.session.add(customer)
        db.session.flush()
    row = User(
        customer_id=customer.id,
        appid=appid or current_app.config["WECHAT_APPID"],
        openid=openid or f"oFactory{secrets.token_hex(8)}",
        unionid=unionid,
    )
    db.session.add(row)
    db.session.commit()
    return row


def product(name="手冲咖啡", price=1800):
    """An active product of the catalogue; ``price`` in fen."""
    row = Product(name=name, description="", price=price, active=True)
    db.session.add(row)
    db.session.commit()
    return row


def paid_order(*, buyer=None, items=None, paid_at=None, channel=None):
    """A PAID order: ``items`` is a list of (product, quantity), one coffee by default.

    It was placed with WeChat (prepay_id) on ``channel`` (a dict of the channel ids an order
    records; the mini program's by default), and WeChat's payment notification was recorded and
    applied (transaction_id, paid_at, a TRANSACTION.SUCCESS event), as the loop leaves it.
    """
    buyer = buyer or user()
    items = items or [(product(), 1)]
    paid_at = paid_at or _now()
    created_at = paid_at - timedelta(minutes=1)
    lines = [
        OrderItem(
            product_id=item.id,
            name=item.name,
            unit_price=item.price,
            quantity=quantity,
            amount=item.price * quantity,
        )
        for item, quantity in items
    ]
    number = next(_numbers)
    order = Order(
        user_id=buyer.id,
        out_trade_no=_beijing_stamp(created_at) + secrets.token_hex(6),
        **(channel or miniprogram()),
        payer_openid=buyer.openid,
        description=lines[0].name + (f" and {len(lines) - 1} more" if len(lines) > 1 else ""),
        total=sum(line.amount for line in lines),
        status=Order.PAID,
        time_expire=created_at + timedelta(minutes=30),
        client_ip="127.0.0.1",
        prepay_id=f"wx{secrets.token_hex(16)}",
        prepay_created_at=created_at,
        transaction_id=f"42000{number:08d}{secrets.randbelow(10**15):015d}",  # 28 digits
        paid_at=paid_at,
        created_at=created_at,
        items=lines,
    )
    db.session.add(order)
    db.session.flush()
    db.session.add(
        PaymentEvent(
            order_id=order.id,
            source="notify",
            dedupe_key=f"factory-payment-{secrets.token_hex(8)}",
            event_type="TRANSACTION.SUCCESS",
            trade_state="SUCCESS",
            payload=_json(
                {
                    "out_trade_no": order.out_trade_no,
                    "transaction_id": order.transaction_id,
                    "trade_state": "SUCCESS",
                    "amount": {"total": order.total, "payer_total": order.total},
                }
            ),
        )
    )
    db.session.commit()
    return order


def refund(order, amount, *, status=Refund.SUCCESS, reason="factory refund", by="admin@shop.test"):
    """One refund of ``amount`` fen of ``order``, in ``status`` as WeChat last reported it.

    Every status but PENDING (ours: WeChat was not asked yet) and FAILED (a definite refusal)
    has its refund_id and the notification that reported it. A SUCCESS refund that completes
    the total makes the order REFUNDED, as the domain does.
    """
    now = _now()
    row = Refund(
        order_id=order.id,
        out_refund_no="R" + _beijing_stamp(now) + secrets.token_hex(8),
        amount=amount,
        reason=reason,
        requested_by=by,
        approved_by=by,
        status=status,
        attempts=0 if status == Refund.PENDING else 1,
        created_at=now,
        updated_at=now,
    )
    if status == Refund.FAILED:
        row.error_code, row.error_message = "NOT_ENOUGH", "the merchant's balance is too low"
    elif status != Refund.PENDING:
        row.refund_id = f"50300{secrets.randbelow(10**20):020d}"
        row.channel = "ORIGINAL"
        row.user_received_account = "支付用户零钱"
        if status == Refund.SUCCESS:
            row.succeeded_at = now
    db.session.add(row)
    db.session.flush()
    if row.refund_id:
        db.session.add(
            PaymentEvent(
                order_id=order.id,
                refund_id=row.id,
                source="notify",
                dedupe_key=f"factory-refund-{secrets.token_hex(8)}",
                event_type=f"REFUND.{status}",
                trade_state=status,
                payload=_json(
                    {
                        "out_trade_no": order.out_trade_no,
                        "out_refund_no": row.out_refund_no,
                        "refund_id": row.refund_id,
                        "refund_status": status,
                        "amount": {"refund": amount, "total": order.total},
                    }
                ),
            )
        )
    db.session.flush()
    refunded = db.session.scalar(
        db.select(db.func.coalesce(db.func.sum(Refund.amount), 0)).where(
            Refund.order_id == order.id, Refund.status == Refund.SUCCESS
        )
    )
    if order.status == Order.PAID and refunded == order.total:
        order.status = Order.REFUNDED
    db.session.commit()
    return row


def refunded_order(amounts=None, **paid):
    """A paid order refunded by WeChat (SUCCESS) in ``amounts`` (fen each); in full (one
    refund of the total, the order REFUNDED) by default, in part when they add up to less."""
    order = paid_order(**paid)
    for amount in amounts or [order.total]:
        refund(order, amount)
    return order


def shipped_order(
    *, tracking_no="SF1234567890", express_company="SF", uploads=1, wechat_state=2, **paid
):
    """A paid order whose express shipment WeChat accepted: ``uploads`` counts the accepted
    uploads (2: its one change is used), ``wechat_state`` is WeChat's order_state (2 shipped)."""
    order = paid_order(**paid)
    packages = [
        {
            "item_desc": order.description,
            "tracking_no": tracking_no,
            "express_company": express_company,
            "contact": {"receiver_contact": "189****1234"},
        }
    ]
    now = _now()
    shipment = Shipment(
        order_id=order.id,
        logistics_type=1,  # express
        delivery_mode=1,  # unified: one parcel
        is_all_delivered=True,
        packages=_json(packages),
        status=Shipment.SHIPPED,
        upload_count=uploads,
        created_by="operator@shop.test",
        uploaded_at=now,
        wechat_state=wechat_state,
        wechat_checked_at=now,
    )
    db.session.add(shipment)
    db.session.add(
        ShippingEvent(
            order_id=order.id,
            source="upload",
            event_type="UPLOAD.OK",
            payload=_json({"errcode": 0, "errmsg": "ok", "shipping_list": packages}),
        )
    )
    db.session.commit()
    return order


def refund_request(order, reason="不想要了"):
    """The payer's pending request for a refund of ``order``."""
    row = RefundRequest(order_id=order.id, user_id=order.user_id, reason=reason)
    db.session.add(row)
    db.session.commit()
    return row


def refused_payment(order, code="AMOUNT_MISMATCH"):
    """A payment notification the backend verified but refused (kept for a person to look at):
    what Needs attention lists until someone resolves it."""
    event = PaymentEvent(
        order_id=order.id,
        source="notify",
        dedupe_key=f"factory-refused-{secrets.token_hex(8)}:refused",
        event_type=f"REFUSED.{code}",
        trade_state="SUCCESS",
        payload=_json({"out_trade_no": order.out_trade_no, "amount": {"total": order.total - 1}}),
    )
    db.session.add(event)
    db.session.commit()
    return event
