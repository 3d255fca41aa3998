"""The tables, one module per area. Money is integer fen; times are stored in UTC.

Every model is importable from here (``from server.models import Order``); the modules say
which area a table belongs to.
"""

from .bills import BillDifference, ReconciliationRun
from .catalogue import Product
from .counter import CounterPayment
from .orders import Order, OrderItem, PaymentEvent
from .refunds import Refund, RefundRequest
from .shipping import Shipment, ShippingEvent
from .staff import AuditLog, RecoveryCode, Resolution, StaffSession, StaffToken, StaffUser
from .users import AuthToken, Customer, User
from .wechat import AccessToken

__all__ = [
    "AccessToken",
    "AuditLog",
    "AuthToken",
    "BillDifference",
    "CounterPayment",
    "Customer",
    "Order",
    "OrderItem",
    "PaymentEvent",
    "Product",
    "ReconciliationRun",
    "RecoveryCode",
    "Refund",
    "RefundRequest",
    "Resolution",
    "Shipment",
    "ShippingEvent",
    "StaffSession",
    "StaffToken",
    "StaffUser",
    "User",
]
