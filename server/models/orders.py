"""Orders, their lines, and every message from WeChat about them."""

from ..extensions import db
from ..timeutil import isoformat, utcnow
from .refunds import Refund


class Order(db.Model):
    """One order, and the way it is paid: its channel (``server/channels.py``) as it was at
    checkout. Everything after checkout (notifications, query, close, refunds, bills,
    shipping) uses these ids, never the settings of the moment: a channel whose settings
    change later (another API version, say) still serves the orders it placed as they were
    placed.
    """

    __tablename__ = "orders"

    NOTPAY, PAID, CLOSED = "NOTPAY", "PAID", "CLOSED"
    REFUNDED = "REFUNDED"  # PAID, then refunded in full (partial refunds leave it PAID)
    REVOKED = "REVOKED"  # a payment-code order reversed (撤销): closed, or paid and given back

    id = db.Column(db.Integer, primary_key=True)
    # Who placed it, if anyone logged in: a counter sale or a web guest has no user.
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    out_trade_no = db.Column(db.String(32), nullable=False, unique=True)
    # The channel it was placed with, and WeChat Pay's ids for it as sent then.
    channel = db.Column(db.String(32), nullable=False, index=True)
    trade_type = db.Column(db.String(16), nullable=False)  # JSAPI, NATIVE, MWEB, APP, MICROPAY
    appid = db.Column(db.String(32), nullable=False)
    mchid = db.Column(db.String(32), nullable=False)
    sub_mchid = db.Column(db.String(32))  # a service provider's sub-merchant
    sub_appid = db.Column(db.String(32))
    api_version = db.Column(db.String(4), nullable=False)  # v3 | v2
    # The payer: their openid under ``appid`` (the sub-merchant's appid when ``sub_appid``),
    # known at checkout for JSAPI, from WeChat's notification otherwise.
    payer_openid = db.Column(db.String(64))
    description = db.Column(db.String(127), nullable=False)
    total = db.Column(db.Integer, nullable=False)  # fen
    status = db.Column(db.String(16), nullable=False, default=NOTPAY, index=True)
    time_expire = db.Column(db.DateTime(timezone=True), nullable=False)
    # Sent to WeChat with the order; kept so a re-placed order carries identical parameters.
    client_ip = db.Column(db.String(45))
    # The client's Idempotency-Key: the same checkout sent twice (a retry after a network
    # error) gets this order back instead of a second one.
    idempotency_key = db.Column(db.String(64))
    prepay_id = db.Column(db.String(64))
    prepay_created_at = db.Column(db.DateTime(timezone=True))
    transaction_id = db.Column(db.String(32), unique=True)
    paid_at = db.Column(db.DateTime(timezone=True))
    closed_at = db.Column(db.DateTime(timezone=True))
    last_queried_at = db.Column(db.DateTime(timezone=True))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    # Whether something in it is sent to the customer (a product that ships, at checkout), and
    # where: a copy of the address the user gave (server/domain/addresses.py), not a reference
    # to an address book, so the order keeps it whatever the user changes elsewhere. The user
    # may change it while the order is unpaid or paid and not shipped (addresses.change).
    ships = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    recipient_name = db.Column(db.String(32))
    recipient_phone = db.Column(db.String(20))  # digits only
    recipient_province = db.Column(db.String(32))
    recipient_city = db.Column(db.String(32))
    recipient_district = db.Column(db.String(32))
    recipient_detail = db.Column(db.String(200))

    items = db.relationship(
        "OrderItem", back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan"
    )
    refunds = db.relationship("Refund", order_by="Refund.id", viewonly=True)
    refund_requests = db.relationship("RefundRequest", order_by="RefundRequest.id", viewonly=True)
    shipment = db.relationship("Shipment", uselist=False, back_populates="order")

    __table_args__ = (
        db.CheckConstraint("total > 0", name="total_positive"),
        db.UniqueConstraint("user_id", "idempotency_key"),
    )

    def to_json(self):
        return {
            "id": self.id,
            "out_trade_no": self.out_trade_no,
            "channel": self.channel,
            "trade_type": self.trade_type,
            "status": self.status,
            "total": self.total,
            "description": self.description,
            "items": [item.to_json() for item in self.items],
            "created_at": isoformat(self.created_at),
            "time_expire": isoformat(self.time_expire),
            "paid_at": isoformat(self.paid_at),
            "transaction_id": self.transaction_id,
            "shipping": self.shipment.to_json() if self.shipment else None,
            "refunded": self.refunded,
            "refunds": [refund.to_json() for refund in self.refunds],
            "refund_requests": [request.to_json() for request in self.refund_requests],
            "ships": self.ships,
            "address": self.address_json(),
        }

    def address_json(self):
        """The delivery address as given (``addresses.parse``'s fields), or None."""
        if not self.recipient_phone:
            return None
        return {
            "name": self.recipient_name,
            "phone": self.recipient_phone,
            "province": self.recipient_province,
            "city": self.recipient_city,
            "district": self.recipient_district or "",
            "detail": self.recipient_detail,
        }

    @property
    def refunded(self):
        """Fen given back: the refunds WeChat reports SUCCESS."""
        return sum(r.amount for r in self.refunds if r.status == Refund.SUCCESS)


class OrderItem(db.Model):
    __tablename__ = "order_items"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    name = db.Column(db.String(100), nullable=False)
    unit_price = db.Column(db.Integer, nullable=False)  # fen, as priced when ordered
    quantity = db.Column(db.Integer, nullable=False)
    amount = db.Column(db.Integer, nullable=False)  # fen

    order = db.relationship("Order", back_populates="items")

    def to_json(self):
        return {
            "product_id": self.product_id,
            "name": self.name,
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "amount": self.amount,
        }


class PaymentEvent(db.Model):
    """Every message from WeChat that changed (or confirmed) an order: the audit trail.

    ``dedupe_key`` is unique: a notification's id, so a duplicate, even a concurrent one,
    cannot be recorded (and acted on) twice.
    """

    __tablename__ = "payment_events"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), index=True)
    # Set for what WeChat said about a refund (apply answer, query, notification).
    refund_id = db.Column(db.Integer, db.ForeignKey("refunds.id"), index=True)
    source = db.Column(db.String(16), nullable=False)  # notify | query | apply
    dedupe_key = db.Column(db.String(128), unique=True)
    event_type = db.Column(db.String(64), nullable=False)
    trade_state = db.Column(db.String(16))
    payload = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
