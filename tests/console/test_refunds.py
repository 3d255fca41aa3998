"""The console's refund pages against the simulator, through Flask's test client (SQLite and
PostgreSQL): refund with a confirmation step, form errors, roles, users' refund requests,
ABNORMAL refunds under Needs attention. The browser test is in test_browser.py."""

import requests

from tests.support import wait_for
from tests.support.console import ADMIN, OUT_REFUND_NO, staffed
from tests.support.orders import paid_order
from tests.support.refunds import wait_refund


def refunds_of(stack, order_id):
    return stack.query(
        "SELECT amount, reason, status, approved_by FROM refunds WHERE order_id = :id ORDER BY id",
        id=order_id,
    )


def test_a_partial_refund_asks_for_confirmation_then_succeeds(stack):
    admin, _ = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}/refund"
    form = admin.get(path)
    assert form.status_code == 200 and 'value="18.00"' in form.text  # what is left
    confirm = admin.post(path, {"amount": "5.50", "reason": "One cup was cold"})
    assert confirm.status_code == 200 and "Refund ¥5.50?" in confirm.text
    assert "¥12.50 will be left to refund" in confirm.text
    assert refunds_of(stack, order["id"]) == []  # nothing happens before the confirmation
    done = admin.refund(order["id"], "5.50", "One cup was cold", follow_redirects=True)
    assert "WeChat Pay accepted the refund" in done.text or "Refunded" in done.text
    [(amount, reason, _, by)] = refunds_of(stack, order["id"])
    assert (amount, reason, by) == (550, "One cup was cold", ADMIN)
    out_refund_no = stack.query("SELECT out_refund_no FROM refunds")[0][0]
    wait_refund(stack, out_refund_no, "SUCCESS")  # WeChat's REFUND.SUCCESS notification
    page = admin.get(f"/console/orders/{order['id']}").text
    assert "¥5.50" in page and "SUCCESS" in page and "REFUND.SUCCESS" in page
    assert "¥12.50 left to refund" in page
    assert stack.query("SELECT actor, action FROM audit_log WHERE action = 'order.refund'") == [
        (ADMIN, "order.refund")
    ]
    # What is left is prefilled next time; more than that is a form error, nothing written.
    assert 'value="12.50"' in admin.get(path).text
    over = admin.post(path, {"amount": "12.51", "reason": "again", "confirmed": "y"})
    assert over.status_code == 400 and "At most 12.50 yuan is left" in over.text
    assert len(refunds_of(stack, order["id"])) == 1


def test_one_confirmed_decision_is_one_refund_however_often_it_is_sent(stack):
    """A double click or a resubmitted confirmation page sends the refund's number again: the
    backend finds that refund instead of making a second one."""
    admin, _ = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}/refund"
    data = {"amount": "5.50", "reason": "One cup was cold"}
    confirm = admin.post(path, data)
    number = OUT_REFUND_NO.search(confirm.text).group(1)
    for _ in range(3):
        admin.post(path, {**data, "confirmed": "y", "out_refund_no": number})
    assert [row[0] for row in refunds_of(stack, order["id"])] == [550]
    assert stack.query("SELECT out_refund_no FROM refunds") == [(number,)]
    # Without the confirmation page's number, "confirmed" only shows the confirmation again.
    again = admin.post(path, {**data, "confirmed": "y"})
    assert again.status_code == 200 and "Refund ¥5.50?" in again.text
    assert len(refunds_of(stack, order["id"])) == 1


def test_refund_form_errors_and_refusals_change_nothing(stack):
    admin, operator = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}/refund"
    for data, message in [
        ({"amount": "5", "reason": ""}, "A reason is required"),
        ({"amount": "5.555", "reason": "x"}, "at most two decimals"),
        ({"amount": "0", "reason": "x"}, "more than 0"),
        ({"amount": "18.01", "reason": "x", "confirmed": "y"}, "At most 18.00"),
    ]:
        answer = admin.post(path, data)
        assert answer.status_code == 400 and message in answer.text, data
    assert operator.get(path).status_code == 403
    assert operator.post(path, {"amount": "1", "reason": "x", "confirmed": "y"}).status_code == 403
    assert (
        admin.post(
            path, {"amount": "1", "reason": "x", "confirmed": "y"}, token="forged"
        ).status_code
        == 400
    )
    assert refunds_of(stack, order["id"]) == []
    unpaid = stack.create_order(stack.login()).json()["order"]
    answer = admin.get(f"/console/orders/{unpaid['id']}/refund", follow_redirects=True)
    assert "Nothing is left to refund" in answer.text


def test_an_admin_approves_one_request_and_rejects_another(stack):
    admin, operator = staffed(stack)
    auth, order = paid_order(stack)
    _, other = paid_order(stack, auth)
    for paid in (order, other):
        asked = requests.post(
            f"{stack.backend}/api/orders/{paid['id']}/refund-request",
            json={"reason": "Changed my mind"},
            headers=auth,
        )
        assert asked.status_code == 201, asked.text
    page = operator.get("/console/refund-requests").text
    assert page.count("Changed my mind") == 2 and "Approve and refund" not in page
    [(first,), (second,)] = stack.query("SELECT id FROM refund_requests ORDER BY id")
    assert operator.post(f"/console/refund-requests/{first}/approve").status_code == 403
    assert (
        admin.post(
            f"/console/refund-requests/{second}/reject", {"note": ""}, follow_redirects=True
        ).text.count("Say why")
        == 1
    )
    answer = admin.post(
        f"/console/refund-requests/{first}/approve", {"note": "Sorry!"}, follow_redirects=True
    )
    assert "WeChat Pay accepted the refund" in answer.text or "Refunded" in answer.text
    rejected = admin.post(
        f"/console/refund-requests/{second}/reject",
        {"note": "Already drunk"},
        follow_redirects=True,
    )
    assert "Rejected; the user sees your note" in rejected.text
    again = admin.post(f"/console/refund-requests/{second}/approve", follow_redirects=True)
    assert "Not done" in again.text
    assert stack.query("SELECT status, decided_by, note FROM refund_requests ORDER BY id") == [
        ("APPROVED", ADMIN, "Sorry!"),
        ("REJECTED", ADMIN, "Already drunk"),
    ]
    out_refund_no = stack.query("SELECT out_refund_no FROM refunds")[0][0]
    wait_refund(stack, out_refund_no, "SUCCESS")
    wait_for(
        lambda: (
            stack.query("SELECT status FROM orders WHERE id = :id", id=order["id"])
            == [("REFUNDED",)]
        )
    )
    assert (
        stack.order(auth, other["id"]).json()["order"]["refund_requests"][0]["note"]
        == "Already drunk"
    )  # what the user sees


def test_an_abnormal_refund_needs_attention_until_resolved(stack):
    admin, operator = staffed(stack)
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="ABNORMAL")
    admin.refund(order["id"], "18", "Broken cup")
    [(refund_id, out_refund_no)] = stack.query("SELECT id, out_refund_no FROM refunds")
    wait_refund(stack, out_refund_no, "ABNORMAL")
    overview = operator.get("/console/").text
    assert "1</strong> ABNORMAL refund" in overview
    page = operator.get("/console/attention").text
    assert out_refund_no in page and "Mark resolved" not in page  # operators only look
    synced = operator.post(
        f"/console/refunds/{refund_id}/sync", {"back": "attention"}, follow_redirects=True
    )
    assert "the refund is" in synced.text
    resolved = admin.post(
        f"/console/attention/refund/{refund_id}/resolve",
        {"note": "Paid back in cash at the counter"},
        follow_redirects=True,
    )
    assert "Resolved." in resolved.text and "Paid back in cash" in resolved.text
    assert "ABNORMAL refund" not in admin.get("/console/").text
