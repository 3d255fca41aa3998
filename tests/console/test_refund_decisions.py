"""Two refund decisions in the console, against the simulator (SQLite and PostgreSQL): sending
an ABNORMAL refund again to a bank card (API v3), and approving a user's refund request for
part of the order."""

import logging

import requests

from server.models import AuditLog, PaymentEvent
from tests.support.console import staffed
from tests.support.orders import paid_order
from tests.support.refunds import place_refund, wait_refund

CARD, NAME = "6222020200112233", "张小三"


def abnormal_refund(stack, amount=500):
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="ABNORMAL")
    refund = place_refund(stack, order["id"], amount)
    wait_refund(stack, refund["out_refund_no"], "ABNORMAL")
    [(refund_id,)] = stack.query(
        "SELECT id FROM refunds WHERE out_refund_no = :no", no=refund["out_refund_no"]
    )
    return order, refund, refund_id


def test_an_abnormal_refund_is_sent_again_to_the_payers_card_never_kept(stack, caplog):
    caplog.set_level(logging.DEBUG)
    admin, operator = staffed(stack)
    order, refund, refund_id = abnormal_refund(stack)
    path = f"/console/refunds/{refund_id}/apply-abnormal"
    assert operator.get(path).status_code == 403
    assert "Send again to a bank card" in admin.get("/console/attention").text
    form = admin.get(path)
    assert form.status_code == 200 and "To the payer" in form.text

    # The payer's card needs all three details, checked with the payer: nothing is sent.
    missing = admin.post(path, {"type": "USER_BANK_CARD", "bank_account": CARD, "checked": "y"})
    assert missing.status_code == 400
    assert "Give the bank" in missing.text and "card holder" in missing.text
    assert CARD not in missing.text  # never shown back
    unchecked = admin.post(
        path,
        {"type": "USER_BANK_CARD", "bank_type": "ICBC_DEBIT", "bank_account": CARD,
         "real_name": NAME},
    )  # fmt: skip
    assert unchecked.status_code == 400 and "Confirm that the details were checked" in (
        unchecked.text
    )
    assert stack.query("SELECT status FROM refunds") == [("ABNORMAL",)]

    sent = admin.post(
        path,
        {"type": "USER_BANK_CARD", "bank_type": "icbc_debit", "bank_account": CARD,
         "real_name": NAME, "checked": "y"},
        follow_redirects=True,
    )  # fmt: skip
    assert sent.status_code == 200 and "Sent again to the payer&#39;s bank card" in sent.text
    wait_refund(stack, refund["out_refund_no"], "SUCCESS")
    assert stack.query("SELECT status FROM orders WHERE id = :id", id=order["id"]) == [("PAID",)]
    with stack.app.app_context():
        from server.extensions import db

        entries = db.session.execute(
            db.select(AuditLog).where(AuditLog.action == "refund.apply_abnormal")
        ).scalars()
        [entry] = list(entries)
        details = entry.details_dict()
        assert details.pop("outcome") in ("PROCESSING", "SUCCESS")  # the notification may win
        assert details == {"out_refund_no": refund["out_refund_no"], "type": "USER_BANK_CARD"}
        payloads = " ".join(
            e.payload for e in db.session.execute(db.select(PaymentEvent)).scalars()
        )
        everything = " ".join(str(v) for row in stack.query("SELECT * FROM audit_log") for v in row)
    for kept in (payloads, everything, caplog.text):
        assert CARD not in kept and NAME not in kept
    assert ("ABNORMAL_APPLIED.USER_BANK_CARD",) in stack.query(
        "SELECT event_type FROM payment_events"
    )
    # Once sent again it is no longer ABNORMAL: the form refuses.
    again = admin.get(path, follow_redirects=True)
    assert "can be sent again; this one is Refunded" in again.text


def test_an_abnormal_refund_is_sent_again_to_the_merchants_card(stack):
    admin, _ = staffed(stack)
    _, refund, refund_id = abnormal_refund(stack, 1800)
    sent = admin.post(
        f"/console/refunds/{refund_id}/apply-abnormal",
        {"type": "MERCHANT_BANK_CARD", "checked": "y"},
        follow_redirects=True,
    )
    assert "Sent again to the merchant&#39;s bank card" in sent.text
    wait_refund(stack, refund["out_refund_no"], "SUCCESS")
    assert stack.query("SELECT status FROM orders") == [("REFUNDED",)]


def test_a_v2_merchant_is_told_to_use_the_merchant_platform(make_stack):
    stack = make_stack(WECHATPAY_API_VERSION="v2")
    admin, _ = staffed(stack)
    _, refund, refund_id = abnormal_refund(stack)
    answer = admin.post(
        f"/console/refunds/{refund_id}/apply-abnormal",
        {"type": "MERCHANT_BANK_CARD", "checked": "y"},
        follow_redirects=True,
    )
    assert "merchant platform" in answer.text
    assert stack.query("SELECT status FROM refunds") == [("ABNORMAL",)]


def ask_refund(stack, auth, order, reason="Half of it was cold"):
    asked = requests.post(
        f"{stack.backend}/api/orders/{order['id']}/refund-request",
        json={"reason": reason},
        headers=auth,
    )
    assert asked.status_code == 201, asked.text
    [(request_id,)] = stack.query(
        "SELECT id FROM refund_requests WHERE order_id = :id", id=order["id"]
    )
    return request_id


def test_approving_a_request_can_refund_part_of_the_order(stack):
    admin, _ = staffed(stack)
    auth, order = paid_order(stack, quantity=2)  # 36.00
    request_id = ask_refund(stack, auth, order)
    page = admin.get("/console/refund-requests").text
    assert f'id="amount-{request_id}" name="amount" value="36.00"' in page  # default: the rest

    path = f"/console/refund-requests/{request_id}/approve"
    for bad, says in (
        ("12.345", "at most two decimals"),
        ("0", "more than 0"),
        ("40", "more than is left to refund"),
    ):
        answer = admin.post(path, {"amount": bad, "note": "x"}, follow_redirects=True)
        assert says in answer.text, bad
        assert stack.query("SELECT count(*) FROM refunds") == [(0,)]
        assert stack.query("SELECT status FROM refund_requests") == [("PENDING",)]

    done = admin.post(path, {"amount": "18", "note": "One cup back"}, follow_redirects=True)
    assert done.status_code == 200
    assert stack.query("SELECT status, note FROM refund_requests") == [("APPROVED", "One cup back")]
    [(out_refund_no, amount)] = stack.query("SELECT out_refund_no, amount FROM refunds")
    assert amount == 1800
    wait_refund(stack, out_refund_no, "SUCCESS")
    assert stack.query("SELECT status FROM orders") == [("PAID",)]  # 18.00 is left
    order_page = admin.get(f"/console/orders/{order['id']}").text
    assert "¥18.00 left to refund" in order_page


def test_approving_with_the_amount_left_blank_refunds_the_rest(stack):
    admin, _ = staffed(stack)
    auth, order = paid_order(stack, quantity=2)
    place_refund(stack, order["id"], 1000)  # 26.00 left
    request_id = ask_refund(stack, auth, order)
    assert 'value="26.00"' in admin.get("/console/refund-requests").text
    admin.post(f"/console/refund-requests/{request_id}/approve", {"amount": " ", "note": ""})
    amounts = [a for (a,) in stack.query("SELECT amount FROM refunds ORDER BY id")]
    assert amounts == [1000, 2600]
