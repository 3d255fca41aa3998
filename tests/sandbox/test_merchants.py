"""Orders and refunds are keyed by (merchant, number), as at WeChat.

An out_trade_no is unique within one merchant only, so a service provider's sub-merchants (and
any two merchants) may use the same one. The simulator is configured with one merchant today;
a second merchant's order is put straight into its state here, as the later merchant settings
will put it there through the endpoints.
"""

from datetime import datetime

import pytest
import requests

from sandbox import create_app
from sandbox.state import Ambiguous
from sandbox.wire import BEIJING

OTHER_MCHID = "1900000002"


def place_for_another_merchant(state, order, total=555):
    """A copy of ``order`` as another merchant's (same out_trade_no), paid."""
    other = {
        key: value
        for key, value in order.items()
        if key not in ("prepay_id", "prepay_expires_at", "transaction_id")
    }
    other.update(mchid=OTHER_MCHID, amount={"total": total, "currency": "CNY"})
    state.add_order(other)
    state.mark_paid(other)
    return other


@pytest.fixture
def state(sandbox_settings):
    return create_app(sandbox_settings).extensions["sandbox"]


def test_two_merchants_may_use_one_out_trade_no(state):
    mine = {
        "mchid": state.config.mchid,
        "out_trade_no": "SAME000001",
        "api_version": "v3",
        "trade_state": "NOTPAY",
        "notify_url": "http://127.0.0.1:9/notify",
        "created_at": 0,
        "expire_at": 0,
    }
    state.add_order(mine)
    other = place_for_another_merchant(state, mine)

    assert state.order(state.config.mchid, "SAME000001") is mine
    assert state.order(OTHER_MCHID, "SAME000001") is other
    assert state.order_by_transaction(other["transaction_id"]) is other
    assert state.order_by_transaction(other["transaction_id"], state.config.mchid) is None
    assert state.order_by_prepay(other["prepay_id"]) is other
    assert state.find_order("SAME000001", mchid=OTHER_MCHID) is other
    with pytest.raises(Ambiguous, match="give its mchid"):
        state.find_order("SAME000001")
    assert state.find_order("NOSUCH0001") is None

    state.reset()
    assert state.find_order("SAME000001") is None and state.orders == {}


def test_refunds_are_keyed_by_merchant_too(state):
    for mchid in (state.config.mchid, OTHER_MCHID):
        state.add_refund({"mchid": mchid, "out_refund_no": "RF-SAME", "out_trade_no": "X"})
    assert state.refund(OTHER_MCHID, "RF-SAME")["mchid"] == OTHER_MCHID
    assert state.find_refund("RF-SAME", mchid=state.config.mchid)["mchid"] == state.config.mchid
    with pytest.raises(Ambiguous):
        state.find_refund("RF-SAME")


def test_wechat_endpoints_see_only_the_requesting_merchants_orders(sandbox, merchant):
    placed = merchant.place("SAME000002", "http://127.0.0.1:9/notify")
    assert placed.status_code == 200, placed.text
    state = sandbox.app.extensions["sandbox"]
    other = place_for_another_merchant(state, state.order(merchant.mchid, "SAME000002"))

    queried = merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/SAME000002?mchid={merchant.mchid}"
    )
    assert queried.json()["trade_state"] == "NOTPAY"
    assert queried.json()["amount"]["total"] == 100
    by_id = merchant.request(
        "GET", f"/v3/pay/transactions/id/{other['transaction_id']}?mchid={merchant.mchid}"
    )
    assert by_id.status_code == 404 and by_id.json()["code"] == "ORDER_NOT_EXIST"

    # Only the other merchant's order is paid: refunding "SAME000002" is refunding mine.
    refund = merchant.request(
        "POST",
        "/v3/refund/domestic/refunds",
        {
            "out_trade_no": "SAME000002",
            "out_refund_no": "RF-SAME-0002",
            "amount": {"refund": 1, "total": 100, "currency": "CNY"},
        },
    )
    assert refund.status_code == 400 and refund.json()["message"] == "订单未支付，不能退款"

    # Nor is the other merchant's payment in my bill.
    day = datetime.now(BEIJING).date().isoformat()
    bill = merchant.request("GET", f"/v3/bill/tradebill?bill_date={day}")
    assert bill.status_code == 400 and bill.json()["code"] == "NO_STATEMENT_EXIST"

    closed = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/SAME000002/close", {"mchid": merchant.mchid}
    )
    assert closed.status_code == 204
    assert state.order(merchant.mchid, "SAME000002")["trade_state"] == "CLOSED"
    assert other["trade_state"] == "SUCCESS"


def test_controls_name_the_merchant_when_a_number_is_shared(sandbox, merchant):
    assert merchant.place("SAME000003", "http://127.0.0.1:9/notify").status_code == 200
    state = sandbox.app.extensions["sandbox"]
    place_for_another_merchant(state, state.order(merchant.mchid, "SAME000003"))

    ambiguous = requests.get(sandbox.url + "/sandbox/orders/SAME000003", timeout=5)
    assert ambiguous.status_code == 409
    assert ambiguous.json()["error"] == {
        "code": "MCHID_REQUIRED",
        "message": "several merchants have the out_trade_no SAME000003: give its mchid",
    }
    for mchid, total in ((merchant.mchid, 100), (OTHER_MCHID, 555)):
        shown = requests.get(
            sandbox.url + "/sandbox/orders/SAME000003", params={"mchid": mchid}, timeout=5
        )
        assert shown.json()["order"]["amount"]["total"] == total
    unknown = requests.get(
        sandbox.url + "/sandbox/orders/SAME000003", params={"mchid": "1"}, timeout=5
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ORDER_NOT_FOUND"

    pay = {"out_trade_no": "SAME000003", "action": "cancel"}
    assert requests.post(sandbox.url + "/sandbox/pay", json=pay, timeout=5).status_code == 409
    bad = requests.post(sandbox.url + "/sandbox/pay", json={**pay, "mchid": 1}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST"
    cancelled = requests.post(
        sandbox.url + "/sandbox/pay", json={**pay, "mchid": merchant.mchid}, timeout=5
    )
    assert cancelled.json() == {"out_trade_no": "SAME000003", "trade_state": "NOTPAY"}

    expire = sandbox.url + "/sandbox/orders/SAME000003/expire"
    assert requests.post(expire, timeout=5).status_code == 409
    expired = requests.post(expire, params={"mchid": merchant.mchid}, timeout=5)
    assert expired.json()["order"]["mchid"] == merchant.mchid

    notify = sandbox.url + "/sandbox/notify/SAME000003"
    assert requests.post(notify, timeout=5).status_code == 409
    unpaid = requests.post(notify, params={"mchid": merchant.mchid}, timeout=5)
    assert unpaid.json()["error"]["code"] == "ORDER_NOT_PAID"

    confirm = sandbox.url + "/sandbox/shipping/confirm"
    assert requests.post(confirm, json={"out_trade_no": "SAME000003"}, timeout=5).status_code == 409
    not_shipped = requests.post(
        confirm, json={"out_trade_no": "SAME000003", "mchid": OTHER_MCHID}, timeout=5
    )
    assert not_shipped.json()["error"]["code"] == "NOT_SHIPPED"


def test_a_refund_number_shared_by_merchants_needs_the_mchid(sandbox):
    state = sandbox.app.extensions["sandbox"]
    for mchid in (state.config.mchid, OTHER_MCHID):
        state.add_refund({"mchid": mchid, "out_refund_no": "RF-SAME-0004", "status": "SUCCESS"})
    settle = sandbox.url + "/sandbox/refunds/RF-SAME-0004"
    ambiguous = requests.post(settle, json={"status": "SUCCESS"}, timeout=5)
    assert ambiguous.status_code == 409
    assert ambiguous.json()["error"]["code"] == "MCHID_REQUIRED"
    named = requests.post(
        settle, params={"mchid": OTHER_MCHID}, json={"status": "SUCCESS"}, timeout=5
    )
    assert named.json()["error"]["code"] == "REFUND_NOT_PROCESSING"
