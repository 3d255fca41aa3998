"""The tables. Money is integer fen; times are stored in UTC."""

import json
from datetime import UTC, datetime

from .extensions import db


def utcnow():
    """Called per row (a callable default), never evaluated once at import."""
    return datetime.now(UTC)


def as_utc(value):
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    openid = db.Column(db.String(64), nullable=False, unique=True)
    unionid = db.Column(db.String(64))
    # Kept to decrypt open data (phone number etc.) later; never sent to the client.
    session_key = db.Column(db.String(64))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class AuthToken(db.Model):
    """Our own login token. Only its SHA-256 is stored, so a database leak reveals none."""

    __tablename__ = "auth_tokens"

    token_hash = db.Column(db.String(64), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    expires_at = db.Column(db.DateTime(timezone=True), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class Product(db.Model):
    __tablename__ = "products"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False)
    description = db.Column(db.String(500), nullable=False, default="")
    price = db.Column(db.Integer, nullable=False)  # fen
    active = db.Column(db.Boolean, nullable=False, default=True)

    __table_args__ = (db.CheckConstraint("price > 0", name="price_positive"),)

    def to_json(self):
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "price": self.price,
        }


class Order(db.Model):
    __tablename__ = "orders"

    NOTPAY, PAID, CLOSED = "NOTPAY", "PAID", "CLOSED"
    REFUNDED = "REFUNDED"  # PAID, then refunded in full (partial refunds leave it PAID)

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    out_trade_no = db.Column(db.String(32), nullable=False, unique=True)
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
        def iso(value):
            return as_utc(value).isoformat() if value else None

        return {
            "id": self.id,
            "out_trade_no": self.out_trade_no,
            "status": self.status,
            "total": self.total,
            "description": self.description,
            "items": [item.to_json() for item in self.items],
            "created_at": iso(self.created_at),
            "time_expire": iso(self.time_expire),
            "paid_at": iso(self.paid_at),
            "transaction_id": self.transaction_id,
            "shipping": self.shipment.to_json() if self.shipment else None,
            "refunded": self.refunded,
            "refunds": [refund.to_json() for refund in self.refunds],
            "refund_requests": [request.to_json() for request in self.refund_requests],
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


class AccessToken(db.Model):
    """The mini program's access token, one row per appid, shared by every worker and instance.

    ``refresh_claimed_until`` lets one caller at a time fetch a new token (a compare-and-set
    claim); the others wait for it instead of asking WeChat too.
    """

    __tablename__ = "wechat_access_tokens"

    appid = db.Column(db.String(32), primary_key=True)
    token = db.Column(db.String(512))
    expires_at = db.Column(db.DateTime(timezone=True))
    refresh_claimed_until = db.Column(db.DateTime(timezone=True))
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class Shipment(db.Model):
    """What the shop shipped for a paid order, and what WeChat's shipping service knows of it.

    WeChat accepts a first upload and one change (``upload_count`` counts the accepted ones);
    ``status`` is PENDING (to upload, or WeChat was unreachable), UPLOADING (claimed by one
    sender), SHIPPED (WeChat accepted the latest details) or FAILED (WeChat refused them;
    ``error_code`` says why).
    ``wechat_state`` is WeChat's order_state: 1 awaiting shipment, 2 shipped, 3 receipt
    confirmed, 4 completed (settled), 5 refunded, 6 awaiting settlement.
    """

    __tablename__ = "shipments"

    PENDING, UPLOADING, SHIPPED, FAILED = "PENDING", "UPLOADING", "SHIPPED", "FAILED"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, unique=True)
    logistics_type = db.Column(db.Integer, nullable=False)  # 1 express .. 4 self-pickup
    delivery_mode = db.Column(db.Integer, nullable=False)  # 1 unified, 2 split
    is_all_delivered = db.Column(db.Boolean, nullable=False, default=True)
    packages = db.Column(db.Text, nullable=False)  # JSON list, as sent to WeChat
    status = db.Column(db.String(16), nullable=False, default=PENDING)
    upload_count = db.Column(db.Integer, nullable=False, default=0)
    error_code = db.Column(db.String(32))
    error_message = db.Column(db.String(256))
    created_by = db.Column(db.String(128), nullable=False)
    uploaded_at = db.Column(db.DateTime(timezone=True))
    # When the current upload was claimed (status UPLOADING): one sender at a time.
    upload_started_at = db.Column(db.DateTime(timezone=True))
    wechat_state = db.Column(db.Integer)
    wechat_checked_at = db.Column(db.DateTime(timezone=True))
    received_at = db.Column(db.DateTime(timezone=True))
    settled_at = db.Column(db.DateTime(timezone=True))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    order = db.relationship("Order", back_populates="shipment")

    def to_json(self):
        return {
            "status": self.status,
            "logistics_type": self.logistics_type,
            "delivery_mode": self.delivery_mode,
            "is_all_delivered": self.is_all_delivered,
            # Tracking for the user; contacts (masked phones) stay with the shop.
            "packages": [
                {k: p[k] for k in ("tracking_no", "express_company", "item_desc") if k in p}
                for p in json.loads(self.packages)
            ],
            "uploaded_at": _iso(self.uploaded_at),
            "wechat_state": self.wechat_state,
            "received_at": _iso(self.received_at),
            "settled_at": _iso(self.settled_at),
        }


class ShippingEvent(db.Model):
    """Every upload to WeChat's shipping service, every get_order and every push: the audit
    trail. ``dedupe_key`` (pushes) makes a repeated push record, and act, once."""

    __tablename__ = "shipping_events"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), index=True)
    source = db.Column(db.String(16), nullable=False)  # upload | query | push
    event_type = db.Column(db.String(64), nullable=False)
    dedupe_key = db.Column(db.String(128), unique=True)
    payload = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


def _iso(value):
    return as_utc(value).isoformat() if value else None


class Refund(db.Model):
    """One refund intent: one ``out_refund_no``, sent to WeChat again on every retry.

    PENDING is ours: saved before WeChat was asked, so an intent whose answer got lost is
    retried with the same number. FAILED: WeChat refused it definitively (error_code says why).
    PROCESSING, SUCCESS, CLOSED and ABNORMAL are WeChat's own states.
    """

    __tablename__ = "refunds"

    PENDING, PROCESSING, SUCCESS = "PENDING", "PROCESSING", "SUCCESS"
    CLOSED, ABNORMAL, FAILED = "CLOSED", "ABNORMAL", "FAILED"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    out_refund_no = db.Column(db.String(64), nullable=False, unique=True)
    amount = db.Column(db.Integer, nullable=False)  # fen
    reason = db.Column(db.String(80))
    requested_by = db.Column(db.String(64), nullable=False)
    approved_by = db.Column(db.String(64), nullable=False)
    status = db.Column(db.String(16), nullable=False, default=PENDING, index=True)
    refund_id = db.Column(db.String(64))  # WeChat's
    channel = db.Column(db.String(32))
    user_received_account = db.Column(db.String(128))
    error_code = db.Column(db.String(64))
    error_message = db.Column(db.String(255))
    attempts = db.Column(db.Integer, nullable=False, default=0)  # calls to WeChat's refund API
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    succeeded_at = db.Column(db.DateTime(timezone=True))
    last_queried_at = db.Column(db.DateTime(timezone=True))

    order = db.relationship("Order", viewonly=True)

    __table_args__ = (db.CheckConstraint("amount > 0", name="refund_amount_positive"),)

    def to_json(self):
        return {
            "id": self.id,
            "out_refund_no": self.out_refund_no,
            "amount": self.amount,
            "reason": self.reason,
            "status": self.status,
            "refund_id": self.refund_id,
            "channel": self.channel,
            "user_received_account": self.user_received_account,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "created_at": _iso(self.created_at),
            "succeeded_at": _iso(self.succeeded_at),
        }


class RefundRequest(db.Model):
    """A user's request for a refund, approved (a Refund is placed) or rejected by the shop."""

    __tablename__ = "refund_requests"

    PENDING, APPROVED, REJECTED = "PENDING", "APPROVED", "REJECTED"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    reason = db.Column(db.String(200), nullable=False)
    status = db.Column(db.String(16), nullable=False, default=PENDING, index=True)
    decided_by = db.Column(db.String(64))
    decided_at = db.Column(db.DateTime(timezone=True))
    note = db.Column(db.String(200))
    refund_id = db.Column(db.Integer, db.ForeignKey("refunds.id"))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    def to_json(self):
        return {
            "id": self.id,
            "reason": self.reason,
            "status": self.status,
            "note": self.note,
            "refund_id": self.refund_id,
            "created_at": _iso(self.created_at),
            "decided_at": _iso(self.decided_at),
        }


class ReconciliationRun(db.Model):
    """One comparison of a Beijing day's bills with our records (``server/bills.py``).

    One row per day: running the day again updates it, so the page shows the latest result.
    Totals are fen; ``*_wechat`` from the bill, ``*_ours`` from our orders and refunds.
    """

    __tablename__ = "reconciliation_runs"

    CLEAN, DIFFERENCES, NO_BILL, FAILED = "CLEAN", "DIFFERENCES", "NO_BILL", "FAILED"

    id = db.Column(db.Integer, primary_key=True)
    day = db.Column(db.Date, nullable=False, unique=True)
    status = db.Column(db.String(16), nullable=False)
    trade_bill_sha1 = db.Column(db.String(40))
    fund_flow_bill_sha1 = db.Column(db.String(40))
    bill_rows = db.Column(db.Integer, nullable=False, default=0)
    payments_wechat = db.Column(db.Integer, nullable=False, default=0)  # count
    payments_ours = db.Column(db.Integer, nullable=False, default=0)
    paid_total_wechat = db.Column(db.Integer, nullable=False, default=0)  # fen
    paid_total_ours = db.Column(db.Integer, nullable=False, default=0)
    refunds_wechat = db.Column(db.Integer, nullable=False, default=0)
    refunds_ours = db.Column(db.Integer, nullable=False, default=0)
    refunded_total_wechat = db.Column(db.Integer, nullable=False, default=0)
    refunded_total_ours = db.Column(db.Integer, nullable=False, default=0)
    # Yuan exactly as the bill sums them (fees have 5 decimals, so they are not whole fen).
    fees_wechat = db.Column(db.String(24), nullable=False, default="0")
    # The trade bill as downloaded (hash checked), for the console's CSV and for a person.
    trade_bill = db.Column(db.Text)
    message = db.Column(db.String(500))
    started_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime(timezone=True))

    differences = db.relationship(
        "BillDifference", back_populates="run", order_by="BillDifference.id"
    )


class BillDifference(db.Model):
    """One thing WeChat's bill and our records disagree on, for a person to look at.

    ``key`` (kind + reference) is unique per day, so running a day again finds the same row
    instead of adding another, and a resolved difference stays resolved.
    """

    __tablename__ = "bill_differences"

    id = db.Column(db.Integer, primary_key=True)
    run_id = db.Column(
        db.Integer, db.ForeignKey("reconciliation_runs.id"), nullable=False, index=True
    )
    key = db.Column(db.String(128), nullable=False)
    kind = db.Column(db.String(32), nullable=False)
    out_trade_no = db.Column(db.String(32))
    out_refund_no = db.Column(db.String(64))
    ours = db.Column(db.String(200))
    wechat = db.Column(db.String(200))
    detail = db.Column(db.String(500))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    resolved_by = db.Column(db.String(64))
    resolved_at = db.Column(db.DateTime(timezone=True))
    note = db.Column(db.String(1000))

    run = db.relationship("ReconciliationRun", back_populates="differences")

    __table_args__ = (db.UniqueConstraint("run_id", "key"),)
