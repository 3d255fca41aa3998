"""The mini program's side of shipping: after the user confirms receipt in WeChat's own
component (``wx.openBusinessView``, businessType ``weappOrderConfirm``), the page asks the
backend to look the order up with WeChat. The component's success is only a hint, like
``wx.requestPayment``'s: the order changes only on what get_order (or a push) says."""

from flask import Blueprint, jsonify

from ..clients import miniprogram_api
from ..domain import shipping
from ..errors import DomainError
from ..wechatpay.core.errors import ApiError, TransportError
from .auth import login_required
from .order_json import order_json
from .orders import _own_order

bp = Blueprint("shipping", __name__)


@bp.post("/api/orders/<id:order_id>/shipping/sync")
@login_required
def sync_shipping(order_id):
    order = _own_order(order_id)
    if order.shipment is None:
        raise DomainError("ORDER_NOT_SHIPPED", "the order has not been shipped yet")
    try:
        shipping.refresh(order, api=miniprogram_api())
    except (ApiError, TransportError) as exc:
        raise DomainError(
            "WECHAT_UNAVAILABLE",
            "WeChat did not answer; try again shortly",
            wechat_code=exc.code,
        ) from None
    return jsonify({"order": order_json(order)})
