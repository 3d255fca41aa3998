"""The order as the mini program gets it: ``Order.to_json()`` plus two things it needs beside
the order's own fields.

- ``refund_request_until``: until when the user may ask for a refund (``paid_at`` plus
  REFUND_REQUEST_WINDOW_DAYS), or null when the order is not paid or the shop takes no
  requests (REFUND_REQUESTS_ENABLED=false). The page offers "Request a refund" only until
  then; the backend still decides (POST .../refund-request).
- ``shipping.merchant_id``: WeChat's confirm-receipt component (``wx.openBusinessView``,
  ``weappOrderConfirm``) needs the merchant id (the order's) next to out_trade_no and
  transaction_id.
"""

from datetime import timedelta

from flask import current_app

from ..models import Order
from ..timeutil import as_utc


def order_json(order):
    config = current_app.config
    body = order.to_json()
    until = None
    if order.status == Order.PAID and order.paid_at and config["REFUND_REQUESTS_ENABLED"] == "true":
        window = timedelta(days=int(config["REFUND_REQUEST_WINDOW_DAYS"]))
        until = (as_utc(order.paid_at) + window).isoformat()
    body["refund_request_until"] = until
    if body["shipping"] is not None:
        body["shipping"]["merchant_id"] = order.mchid
    return body
