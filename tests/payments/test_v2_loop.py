"""The whole payment loop on API v2 (XML, MD5 or HMAC-SHA256), backend + simulator over HTTP.

login -> order -> v2 pay params -> cashier -> signed XML notification -> PAID, in both sign
types; duplicates (sequential and 20 concurrent) change the order once; refused notifications
get an XML FAIL and change nothing; a lost notification is caught by querying.
"""

from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from server.extensions import db
from server.models import Order
from server.timeutil import utcnow
from server.wechatpay import crypto
from server.wechatpay.v2.messages import dict_to_xml, xml_to_dict
from tests.support import wait_for
from tests.support.v2 import (
    assert_refused,
    new_order,
    notification,
    post_notification,
    sign_type,
)

SUCCESS_REPLY = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)


@pytest.fixture(params=["MD5", "HMAC-SHA256"])
def v2_stack(request, make_stack):
    return make_stack(WECHATPAY_API_VERSION="v2", WECHATPAY_V2_SIGN_TYPE=request.param)


def sandbox_order(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}", timeout=5).json()["order"]


def deliveries(stack, out_trade_no):
    return requests.get(
        f"{stack.sandbox}/sandbox/notifications", params={"out_trade_no": out_trade_no}, timeout=5
    ).json()["notifications"]


def db_order(stack, out_trade_no):
    """The order row as stored (read straight from the database: no query to WeChat)."""
    rows = stack.query(
        "SELECT status, transaction_id, total FROM orders WHERE out_trade_no = :n", n=out_trade_no
    )
    return rows[0]


def notify_events(stack):
    return [
        tuple(r)
        for r in stack.query(
            "SELECT event_type, trade_state FROM payment_events WHERE source = 'notify'"
        )
    ]


# --- the loop ----------------------------------------------------------------------------------


def test_login_order_pay_notification_paid(v2_stack):
    stack = v2_stack
    auth, created = new_order(stack)
    out_trade_no = created["order"]["out_trade_no"]
    stored = sandbox_order(stack, out_trade_no)
    assert stored["api_version"] == "v2" and stored["sign_type"] == sign_type(stack)
    assert stored["spbill_create_ip"] == "127.0.0.1"
    assert stored["amount"]["total"] == created["order"]["total"]

    paid = stack.cashier(created["pay_params"]).json()
    log = wait_for(lambda: [d for d in deliveries(stack, out_trade_no) if d["acknowledged"]])
    assert len(log) == 1 and log[0]["status"] == 200
    assert db_order(stack, out_trade_no) == (
        "PAID",
        paid["transaction_id"],
        created["order"]["total"],
    )
    assert notify_events(stack) == [("TRANSACTION.SUCCESS", "SUCCESS")]

    order = stack.order(auth, created["order"]["id"]).json()["order"]
    assert order["status"] == "PAID" and order["transaction_id"] == paid["transaction_id"]
    assert order["paid_at"]


def test_a_paid_order_is_not_payable_again(v2_stack):
    stack = v2_stack
    auth, created = new_order(stack)
    stack.cashier(created["pay_params"])
    wait_for(lambda: db_order(stack, created["order"]["out_trade_no"])[0] == "PAID")
    again = requests.post(
        f"{stack.backend}/api/orders/{created['order']['id']}/pay", headers=auth, timeout=10
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "ORDER_NOT_PAYABLE"


def test_the_backend_acknowledges_with_the_documented_xml(v2_stack):
    stack = v2_stack
    _, created = new_order(stack)
    response = post_notification(stack, notification(stack, created["order"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    assert response.content == SUCCESS_REPLY
    assert db_order(stack, created["order"]["out_trade_no"])[0] == "PAID"


def test_a_duplicate_notification_is_acknowledged_and_changes_nothing(v2_stack):
    stack = v2_stack
    _, created = new_order(stack)
    out_trade_no = created["order"]["out_trade_no"]
    stack.cashier(created["pay_params"])
    wait_for(lambda: any(d["acknowledged"] for d in deliveries(stack, out_trade_no)))
    stack.control(f"notify/{out_trade_no}")  # WeChat sends the same notification again
    wait_for(lambda: sum(d["acknowledged"] for d in deliveries(stack, out_trade_no)) == 2)
    assert db_order(stack, out_trade_no)[0] == "PAID"
    assert notify_events(stack) == [("TRANSACTION.SUCCESS", "SUCCESS")]


def test_twenty_concurrent_copies_change_the_order_once(v2_stack):
    stack = v2_stack
    _, created = new_order(stack)
    out_trade_no = created["order"]["out_trade_no"]
    stack.control("faults", kind="notify", action="duplicate", copies=20, out_trade_no=out_trade_no)
    paid = stack.cashier(created["pay_params"]).json()
    # Every copy is eventually acknowledged (a copy that lost a database race is retried).
    wait_for(
        lambda: (
            {d["copy"] for d in deliveries(stack, out_trade_no) if d["acknowledged"]}
            == set(range(1, 21))
        ),
        timeout=30,
    )
    assert db_order(stack, out_trade_no)[:2] == ("PAID", paid["transaction_id"])
    assert notify_events(stack) == [("TRANSACTION.SUCCESS", "SUCCESS")]


# --- refusals: XML FAIL, nothing changes ---------------------------------------------------------


def test_an_amount_mismatch_is_refused(v2_stack):
    stack = v2_stack
    _, created = new_order(stack)
    order = created["order"]
    body = notification(stack, order, total_fee=order["total"] - 1, cash_fee=order["total"] - 1)
    assert assert_refused(post_notification(stack, body)) == "AMOUNT_MISMATCH"
    assert db_order(stack, order["out_trade_no"])[0] == "NOTPAY"
    # Signed by WeChat, so kept for a person to look at; nothing was applied.
    assert notify_events(stack) == [("REFUSED.AMOUNT_MISMATCH", "SUCCESS")]


@pytest.mark.parametrize(
    "case",
    ["bad-key", "wrong-sign-type", "other-appid", "unknown-order", "json", "xml-bomb", "oversized"],
)
def test_bad_notifications_are_refused(v2_stack, case):
    stack = v2_stack
    _, created = new_order(stack)
    order = created["order"]
    other_type = "MD5" if sign_type(stack) == "HMAC-SHA256" else "HMAC-SHA256"
    if case == "bad-key":
        body = notification(stack, order).replace(b"<sign>", b"<sign>0")
    elif case == "wrong-sign-type":
        # Signed with one type while the (signed) sign_type field declares the other.
        fields = xml_to_dict(notification(stack, order), 65536)
        fields["sign_type"] = sign_type(stack)
        fields["sign"] = crypto.v2_sign(fields, stack.settings["WECHATPAY_API_KEY"], other_type)
        body = dict_to_xml(fields)
    elif case == "other-appid":
        body = notification(stack, order, appid="wx0000000000000000")
    elif case == "unknown-order":
        body = notification(stack, order, out_trade_no="NOSUCHORDER0001")
    elif case == "json":
        body = b'{"id": "x", "event_type": "TRANSACTION.SUCCESS", "resource": {}}'
    elif case == "xml-bomb":
        body = (
            b'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><xml><return_code>&c;</return_code></xml>'
        )
    else:
        body = notification(stack, order, attach="x" * (70 * 1024))
    assert_refused(post_notification(stack, body))
    assert db_order(stack, order["out_trade_no"])[0] == "NOTPAY"
    # Only a genuine (signed) message that contradicts our orders is kept, for audit: one for
    # another order, or for this order but another appid than its channel's.
    kept = {
        "unknown-order": [("REFUSED.ORDER_NOT_FOUND", "SUCCESS")],
        "other-appid": [("REFUSED.MERCHANT_MISMATCH", "SUCCESS")],
    }.get(case, [])
    assert notify_events(stack) == kept


def test_a_tampered_copy_is_refused_then_the_real_one_accepted(v2_stack):
    stack = v2_stack
    _, created = new_order(stack)
    out_trade_no = created["order"]["out_trade_no"]
    stack.control("faults", kind="notify", action="tamper", out_trade_no=out_trade_no)
    stack.cashier(created["pay_params"])
    log = wait_for(
        lambda: (
            [d for d in deliveries(stack, out_trade_no) if d["acknowledged"]]
            and deliveries(stack, out_trade_no)
        )
    )
    assert (log[0]["fault"], log[0]["status"], log[0]["acknowledged"]) == ("tamper", 400, False)
    assert db_order(stack, out_trade_no)[0] == "PAID"
    assert notify_events(stack) == [("TRANSACTION.SUCCESS", "SUCCESS")]


# --- no notification: querying WeChat (orderquery) --------------------------------------------


def test_a_lost_notification_is_found_by_polling_the_order(v2_stack):
    stack = v2_stack
    auth, created = new_order(stack)
    out_trade_no = created["order"]["out_trade_no"]
    stack.control("faults", kind="notify", action="drop", out_trade_no=out_trade_no)
    paid = stack.cashier(created["pay_params"]).json()
    order = wait_for(
        lambda: (
            (o := stack.order(auth, created["order"]["id"]).json()["order"])["status"] == "PAID"
            and o
        )
    )
    assert order["transaction_id"] == paid["transaction_id"]
    assert notify_events(stack) == []
    assert stack.query("SELECT event_type FROM payment_events WHERE source = 'query'") == [
        ("QUERY.SUCCESS",)
    ]


def test_reconcile_and_close_expired_jobs_use_the_v2_gateway(v2_stack):
    stack = v2_stack
    _, paid_order = new_order(stack)
    _, unpaid_order = new_order(stack)
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(paid_order["pay_params"])
    run = stack.cli
    assert "reconciled" in run("reconcile", "--older-than", "0")
    assert db_order(stack, paid_order["order"]["out_trade_no"])[0] == "PAID"

    # Make the unpaid order old and expired, then close it (with WeChat first).
    with stack.app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.out_trade_no == unpaid_order["order"]["out_trade_no"])
            .values(
                created_at=utcnow() - timedelta(hours=1),
                time_expire=utcnow() - timedelta(minutes=1),
            )
        )
        db.session.commit()
    assert "closed 1 of 1" in run("close-expired")
    unpaid_no = unpaid_order["order"]["out_trade_no"]
    assert db_order(stack, unpaid_no)[0] == "CLOSED"
    assert sandbox_order(stack, unpaid_no)["trade_state"] == "CLOSED"
