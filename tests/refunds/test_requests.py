"""The user's side: POST /api/orders/<id>/refund-request, decided by the shop with the CLI."""

from datetime import timedelta

import pytest
import requests
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import Order, RefundRequest
from server.timeutil import utcnow
from tests.support import factories, wait_for
from tests.support.concurrency import at_once
from tests.support.orders import COFFEE, paid_order
from tests.support.refunds import cli_result, order_status


def ask(stack, auth, order_id, body=None):
    return requests.post(
        f"{stack.backend}/api/orders/{order_id}/refund-request",
        json={"reason": "送错了"} if body is None else body,
        headers=auth,
    )


def error(response):
    return response.status_code, response.json()["error"]["code"]


def test_request_approve_and_see_the_order_refunded(stack):
    auth, order = paid_order(stack)
    asked = ask(stack, auth, order["id"])
    assert asked.status_code == 201, asked.text
    request = asked.json()["refund_request"]
    assert (request["status"], request["reason"]) == ("PENDING", "送错了")
    assert asked.json()["order"]["refund_requests"] == [request]
    assert error(ask(stack, auth, order["id"])) == (409, "REQUEST_ALREADY_PENDING")

    listed = stack.cli("refund-requests", "list")
    assert f"request {request['id']} order {order['id']}" in listed and "1 pending" in listed
    approved = stack.cli(
        "refund-requests", "approve", str(request["id"]), "--by", "alice", "--note", "sorry"
    )
    assert f"approved request {request['id']}" in approved and f"{COFFEE} fen" in approved
    wait_for(lambda: order_status(stack, order["id"]) == "REFUNDED")

    shown = stack.order(auth, order["id"]).json()["order"]
    assert (shown["status"], shown["refunded"]) == ("REFUNDED", COFFEE)
    (refund,) = shown["refunds"]
    assert (
        shown["refund_requests"][0]["status"],
        shown["refund_requests"][0]["refund_id"],
        shown["refund_requests"][0]["note"],
    ) == ("APPROVED", refund["id"], "sorry")
    assert stack.query("SELECT requested_by, approved_by FROM refunds") == [
        (f"user:{stack.query('SELECT user_id FROM orders')[0][0]}", "alice")
    ]
    assert "0 pending" in stack.cli("refund-requests", "list")
    code, output = cli_result(stack, "refund-requests", "approve", request["id"])
    assert code != 0 and "ORDER_NOT_REFUNDABLE" in output
    assert error(ask(stack, auth, order["id"])) == (409, "ORDER_NOT_REFUNDABLE")


def test_reject_then_ask_again_and_approve_part(stack):
    auth, order = paid_order(stack)
    first = ask(stack, auth, order["id"]).json()["refund_request"]
    assert "rejected" in stack.cli(
        "refund-requests", "reject", str(first["id"]), "--note", "已发货，不能退"
    )
    shown = stack.order(auth, order["id"]).json()["order"]
    assert (shown["refund_requests"][0]["status"], shown["refund_requests"][0]["note"]) == (
        "REJECTED",
        "已发货，不能退",
    )
    code, output = cli_result(stack, "refund-requests", "approve", first["id"])
    assert code != 0 and "REQUEST_NOT_PENDING" in output
    code, output = cli_result(stack, "refund-requests", "reject", first["id"])
    assert code != 0 and "REQUEST_NOT_PENDING" in output

    second = ask(stack, auth, order["id"], {"reason": "少了一杯"}).json()["refund_request"]
    stack.cli("refund-requests", "approve", str(second["id"]), "--amount", "600")
    wait_for(lambda: stack.order(auth, order["id"]).json()["order"]["refunded"] == 600)
    assert order_status(stack, order["id"]) == "PAID"
    assert ask(stack, auth, order["id"]).status_code == 201  # 1200 fen are left to ask for
    everything = stack.cli("refund-requests", "list", "--all")
    assert "3 refund requests" in everything and "REJECTED" in everything


def test_requests_only_for_own_paid_orders_within_the_window(stack):
    auth, order = paid_order(stack)
    unpaid = stack.create_order(auth).json()["order"]
    assert error(ask(stack, auth, unpaid["id"])) == (409, "ORDER_NOT_REFUNDABLE")
    assert error(ask(stack, stack.login(), order["id"])) == (404, "ORDER_NOT_FOUND")
    assert error(ask(stack, auth, order["id"], {"reason": ""})) == (400, "INVALID_REQUEST")
    assert error(ask(stack, auth, order["id"], {"reason": "x" * 201})) == (400, "INVALID_REQUEST")
    assert error(ask(stack, auth, order["id"], [])) == (400, "INVALID_REQUEST")
    assert (
        requests.post(
            f"{stack.backend}/api/orders/{order['id']}/refund-request", json={"reason": "x"}
        ).status_code
        == 401
    )
    with stack.app.app_context():  # paid 8 days ago; the default window is 7 days
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(paid_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
    assert error(ask(stack, auth, order["id"])) == (409, "REFUND_WINDOW_PASSED")
    assert stack.query("SELECT COUNT(*) FROM refund_requests") == [(0,)]


def test_requests_can_be_turned_off(make_stack):
    stack = make_stack(REFUND_REQUESTS_ENABLED="false")
    auth, order = paid_order(stack)
    assert error(ask(stack, auth, order["id"])) == (403, "REFUNDS_DISABLED")
    # The shop can still refund.
    stack.cli("refund", str(order["id"]), "--amount", "100", "--reason", "goodwill")
    wait_for(lambda: stack.order(auth, order["id"]).json()["order"]["refunded"] == 100)


def test_a_longer_window_is_a_setting(make_stack):
    stack = make_stack(REFUND_REQUEST_WINDOW_DAYS="30")
    auth, order = paid_order(stack)
    with stack.app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(paid_at=utcnow() - timedelta(days=20))
        )
        db.session.commit()
    assert ask(stack, auth, order["id"]).status_code == 201


def test_concurrent_requests_make_one_pending_request(stack):
    auth, order = paid_order(stack)
    statuses = at_once([lambda: ask(stack, auth, order["id"]).status_code] * 8)
    assert sorted(statuses) == [201] + [409] * 7
    assert stack.query("SELECT status FROM refund_requests") == [("PENDING",)]


def test_text_no_column_can_store_is_refused(stack):
    """NUL is valid JSON and UTF-8, but PostgreSQL's text refuses it: a 400, nothing stored."""
    auth, order = paid_order(stack)
    for reason in ("a\u0000b", "\u0000"):
        answer = requests.post(
            f"{stack.backend}/api/orders/{order['id']}/refund-request",
            json={"reason": reason},
            headers=auth,
        )
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "INVALID_REQUEST"
    assert stack.query("SELECT count(*) FROM refund_requests") == [(0,)]


def test_the_database_holds_one_pending_request_per_order(domain_app):
    # What a double click meets when both requests pass the checks: the second insert fails.
    order = factories.paid_order()
    first = factories.refund_request(order)
    with pytest.raises(IntegrityError):
        factories.refund_request(order)
    db.session.rollback()
    first = db.session.get(RefundRequest, first.id)
    first.status = RefundRequest.REJECTED  # decided: the order may be asked for again
    db.session.commit()
    again = factories.refund_request(order)
    assert again.status == RefundRequest.PENDING
