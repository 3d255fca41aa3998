"""What the mini program's order JSON adds to Order.to_json (server/api/order_json.py): the
refund-request deadline and the merchant id for WeChat's confirm-receipt component."""

from datetime import datetime, timedelta

from tests.support.orders import paid_order
from tests.support.shipping import ship


def test_refund_request_until_is_paid_at_plus_the_window_and_null_when_unpaid(make_stack):
    stack = make_stack(REFUND_REQUEST_WINDOW_DAYS="3")
    auth, order = paid_order(stack)
    shown = stack.order(auth, order["id"]).json()["order"]
    until = datetime.fromisoformat(shown["refund_request_until"])
    assert until - datetime.fromisoformat(shown["paid_at"]) == timedelta(days=3)
    unpaid = stack.create_order(auth).json()["order"]
    assert unpaid["refund_request_until"] is None
    assert stack.order(auth, unpaid["id"]).json()["order"]["refund_request_until"] is None


def test_no_refund_request_until_when_the_shop_takes_no_requests(make_stack):
    stack = make_stack(REFUND_REQUESTS_ENABLED="false")
    auth, order = paid_order(stack)
    assert stack.order(auth, order["id"]).json()["order"]["refund_request_until"] is None


def test_shipping_carries_the_merchant_id_for_the_confirm_receipt_component(stack):
    auth, order = paid_order(stack)
    assert stack.order(auth, order["id"]).json()["order"]["shipping"] is None
    code, output = ship(stack, order["id"], "--logistics", "express", "--package", "ZT9:ZTO")
    assert code == 0, output
    shipping = stack.order(auth, order["id"]).json()["order"]["shipping"]
    assert shipping["merchant_id"] == stack.settings["WECHATPAY_MCHID"]
    assert shipping["packages"] == [
        {"tracking_no": "ZT9", "express_company": "ZTO", "item_desc": "手冲咖啡"}
    ]
