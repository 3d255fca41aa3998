"""Shipping: what the shop shipped for an order, and what WeChat's shipping service knows."""

import json

from ..extensions import db
from ..timeutil import isoformat, utcnow


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
            "uploaded_at": isoformat(self.uploaded_at),
            "wechat_state": self.wechat_state,
            "received_at": isoformat(self.received_at),
            "settled_at": isoformat(self.settled_at),
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
