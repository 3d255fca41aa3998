"""The cashier through the console (Flask's test client against a live simulator, SQLite and
PostgreSQL): a sale with products, the state polled to the end, the receipt, the order in the
console, its refund and reverse, the roles, and a day's bill with MICROPAY rows reconciled."""

import re
import time

import pytest

from tests.support import counter as c
from tests.support import wait_for
from tests.support.console import PASSWORD, ConsoleClient, make_staff
from tests.support.refunds import wait_refund

CASHIER, ADMIN, OPERATOR = "cashier@shop.test", "admin@shop.test", "operator@shop.test"


@pytest.fixture
def shop(make_stack):
    stack = make_stack(**c.FAST)
    clients = {}
    for email, role in ((CASHIER, "cashier"), (ADMIN, "admin"), (OPERATOR, "operator")):
        make_staff(stack.app, email, role)
        clients[role] = ConsoleClient(stack.app)
        assert clients[role].login(email, PASSWORD).status_code == 302
    stack.staff = clients
    return stack


def sell(client, body):
    token = client.token("/console/counter")
    return client.client.post(
        "/console/api/counter/sales", json=body, headers={"X-CSRFToken": token}
    )


def until_final(client, order_id):
    def final():
        sale = client.get(f"/console/api/counter/sales/{order_id}").json["sale"]
        return sale if sale["final"] else None

    return wait_for(final, timeout=20)


def test_a_cashier_rings_up_two_items_and_prints_the_receipt(shop):
    cashier = shop.staff["cashier"]
    page = cashier.get("/console/counter")
    assert page.status_code == 200 and 'id="counter-code"' in page.text
    created = sell(
        cashier,
        {
            "items": [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 2}],
            "auth_code": c.pin_pays(3),
        },
    )
    assert created.status_code == 201, created.text
    sale = created.json["sale"]
    assert sale["state"] in ("CHARGING", "UNKNOWN", "PAYING") and not sale["final"]
    done = until_final(cashier, sale["order_id"])
    assert done["state"] == "SUCCESS" and done["order_status"] == "PAID"
    [(total,)] = shop.query("SELECT total FROM orders WHERE id = :id", id=sale["order_id"])
    prices = dict(shop.query("SELECT id, price FROM products"))
    assert total == prices[1] + 2 * prices[2]  # priced by the server
    for paper, width in (("", "72mm"), ("?paper=a4", "170mm")):
        receipt = cashier.get(done["receipt_url"] + paper)
        assert receipt.status_code == 200 and width in receipt.text
        assert (
            sale["out_trade_no"] in receipt.text and "···" + done["auth_code_tail"] in receipt.text
        )
    listed = cashier.get("/console/orders?q=" + sale["out_trade_no"])
    assert sale["out_trade_no"] in listed.text


def test_a_second_enter_with_the_same_code_is_the_same_sale(shop):
    cashier = shop.staff["cashier"]
    body = {"amount": 1500, "auth_code": c.code(c.PAYS)}
    first, second = sell(cashier, body), sell(cashier, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["sale"]["order_id"] == second.json["sale"]["order_id"]
    other = sell(cashier, {**body, "amount": 1600})
    assert other.status_code == 409 and other.json["error"]["code"] == "AUTH_CODE_USED"


@pytest.mark.parametrize(
    ("auth_code", "words"),
    [(lambda: c.code(c.EXPIRED), "expired"), (lambda: c.code(c.NOTENOUGH), "Balance not enough")],
)
def test_a_failed_payment_says_why_in_the_cashiers_words(shop, auth_code, words):
    cashier = shop.staff["cashier"]
    sale = sell(cashier, {"amount": 990, "auth_code": auth_code()}).json["sale"]
    done = until_final(cashier, sale["order_id"])
    assert done["state"] == "CLOSED" and words in done["reason_text"]


def test_a_bad_code_is_refused_in_json(shop):
    answer = sell(shop.staff["cashier"], {"amount": 990, "auth_code": "12345"})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "AUTH_CODE_INVALID"


def test_an_operator_cannot_take_payments_and_cashiers_and_operators_cannot_refund(shop):
    operator, cashier, admin = shop.staff["operator"], shop.staff["cashier"], shop.staff["admin"]
    assert operator.get("/console/counter").status_code == 403
    refused = sell(operator, {"amount": 990, "auth_code": c.code(c.PAYS)})
    assert refused.status_code == 403
    sale = sell(cashier, {"amount": 990, "auth_code": c.code(c.PAYS)}).json["sale"]
    assert until_final(cashier, sale["order_id"])["state"] == "SUCCESS"
    for client in (cashier, operator):
        answer = client.post(
            f"/console/orders/{sale['order_id']}/refund", {"amount": "1", "reason": "x"}
        )
        assert answer.status_code == 403
        reverse = client.post(f"/console/orders/{sale['order_id']}/reverse", {"confirm": "y"})
        assert reverse.status_code == 403
    denied = shop.query("SELECT actor, target FROM audit_log WHERE action = 'denied' ORDER BY id")
    assert (CASHIER, f"/console/orders/{sale['order_id']}/refund") in denied
    assert (OPERATOR, f"/console/orders/{sale['order_id']}/refund") in denied
    assert (OPERATOR, "/console/api/counter/sales") in denied
    assert shop.query("SELECT count(*) FROM refunds")[0][0] == 0
    # An admin refunds a counter order with the same refund function as any other.
    refunded = admin.refund(sale["order_id"], "9.90", "customer returned it")
    assert refunded.status_code == 302
    [(number,)] = shop.query("SELECT out_refund_no FROM refunds")
    wait_refund(shop, number, "SUCCESS")


def test_an_admin_reverses_a_paid_counter_order_after_confirming(shop):
    cashier, admin = shop.staff["cashier"], shop.staff["admin"]
    sale = sell(cashier, {"amount": 2000, "auth_code": c.code(c.PAYS)}).json["sale"]
    assert until_final(cashier, sale["order_id"])["state"] == "SUCCESS"
    page = admin.get(f"/console/orders/{sale['order_id']}")
    assert "Reverse…" in page.text
    confirm = admin.get(f"/console/orders/{sale['order_id']}/reverse")
    assert confirm.status_code == 200 and "Reverse the payment" in confirm.text
    assert (
        admin.post(f"/console/orders/{sale['order_id']}/reverse", {"confirm": "y"}).status_code
        == 302
    )
    wait_for(
        lambda: (
            shop.query("SELECT status FROM orders WHERE id = :id", id=sale["order_id"])
            == [("REVOKED",)]
        ),
        timeout=20,
    )
    assert c.simulator_order(shop, sale["out_trade_no"])["trade_state"] == "REVOKED"
    [(action,)] = shop.query("SELECT action FROM audit_log WHERE action = 'order.reverse'")
    assert action == "order.reverse"


def test_a_day_with_counter_payments_reconciles_with_micropay_rows(shop):
    cashier = shop.staff["cashier"]
    ids = []
    for auth_code in (c.code(c.PAYS), c.pin_pays(2), c.code(c.SYSTEMERROR)):
        ids.append(sell(cashier, {"amount": 1200, "auth_code": auth_code}).json["sale"]["order_id"])
    for order_id in ids:
        assert until_final(cashier, order_id)["state"] == "SUCCESS"
    time.sleep(0.1)
    output = shop.cli("bills", "reconcile", "--date", "today")
    assert "CLEAN" in output, output
    [run] = shop.query("SELECT payments_wechat, payments_ours FROM reconciliation_runs")
    assert run == (3, 3)
    overview = shop.staff["admin"].get("/console/").text
    assert 'data-stat="counter-today">¥36.00<' in overview


def stat(page, name):
    return re.search(rf'data-stat="{name}">([^<]*)<', page).group(1)


def test_takings_count_only_money_kept_a_reversed_sale_nowhere_a_refund_on_its_day(shop):
    cashier, admin = shop.staff["cashier"], shop.staff["admin"]
    ids = {}
    for name, amount in (("reversed", 2000), ("refunded", 1200), ("kept", 500)):
        sale = sell(cashier, {"amount": amount, "auth_code": c.code(c.PAYS)}).json["sale"]
        assert until_final(cashier, sale["order_id"])["state"] == "SUCCESS"
        ids[name] = sale["order_id"]
    page = admin.get("/console/").text
    assert (stat(page, "paid-today"), stat(page, "counter-today")) == ("¥37.00", "¥37.00")
    assert admin.post(f"/console/orders/{ids['reversed']}/reverse", {"confirm": "y"}).status_code
    assert admin.refund(ids["refunded"], "2.00", "one cup was cold").status_code == 302
    [(number,)] = shop.query("SELECT out_refund_no FROM refunds")
    wait_refund(shop, number, "SUCCESS")
    wait_for(
        lambda: (
            shop.query("SELECT status FROM orders WHERE id = :id", id=ids["reversed"])
            == [("REVOKED",)]
        ),
        timeout=20,
    )
    # The reversed sale was paid (its paid time stays) but the money went back: not taken.
    [(paid_at,)] = shop.query("SELECT paid_at FROM orders WHERE id = :id", id=ids["reversed"])
    assert paid_at is not None
    page = admin.get("/console/").text
    assert stat(page, "paid-today") == "¥17.00"  # 12 + 5: the reversed 20 is not counted
    assert "2 orders" in page
    assert stat(page, "net-today") == "¥15.00"  # the 2.00 refund is money out today
    assert stat(page, "counter-today") == "¥15.00"
    today = re.findall(r'data-day="[0-9-]+" data-paid-fen="(\d+)" data-net-fen="(-?\d+)"', page)
    assert today[-1] == ("1700", "1500")
    # It shows as reversed, like in the orders list.
    reversed_page = admin.get(f"/console/orders/{ids['reversed']}").text
    assert "Reversed" in reversed_page


def test_a_counter_order_is_never_closed_while_its_loop_settles_it(shop):
    # The PIN dialog stays open 5 s: the order is unpaid meanwhile, its loop querying, then
    # reversing. A close here alone would mark it CLOSED while WeChat may still charge it.
    from server.domain import checkout, payments
    from server.errors import DomainError
    from server.extensions import db
    from server.models import Order

    cashier, admin = shop.staff["cashier"], shop.staff["admin"]
    sale = sell(cashier, {"amount": 700, "auth_code": c.walks_away(50)}).json["sale"]
    path = f"/console/orders/{sale['order_id']}"
    page = admin.get(path)
    assert "Payment code" in page.text and "Close order…" not in page.text
    for answer in (admin.get(path + "/close"), admin.post(path + "/close", {"confirm": "y"})):
        assert answer.status_code == 302 and answer.location.endswith(path)
    assert "Not closed" in admin.get(path).text
    with shop.app.app_context():
        order = db.session.get(Order, sale["order_id"])
        with pytest.raises(DomainError) as refused:
            payments.close_order(order, gateway=None)  # refused before any call
        assert refused.value.code == "ORDER_NOT_CLOSABLE"
        with pytest.raises(DomainError) as refused:
            checkout.cancel(order, context=None)
        assert refused.value.code == "ORDER_NOT_CANCELLABLE"
        assert refused.value.extra["reason"] in ("counter", "not_unpaid")
    assert until_final(cashier, sale["order_id"])["state"] == "REVOKED"
    assert shop.query("SELECT status FROM orders WHERE id = :id", id=sale["order_id"]) == [
        ("REVOKED",)
    ]
    assert not shop.query("SELECT id FROM audit_log WHERE action = 'order.close'")


def paid_sale(shop, amount):
    cashier = shop.staff["cashier"]
    sale = sell(cashier, {"amount": amount, "auth_code": c.code(c.PAYS)}).json["sale"]
    assert until_final(cashier, sale["order_id"])["state"] == "SUCCESS"
    return sale["order_id"]


def counter_state(shop, order_id):
    [(state,)] = shop.query("SELECT state FROM counter_payments WHERE order_id = :id", id=order_id)
    return state


def test_a_refund_is_refused_while_a_reverse_is_pending_and_a_reverse_once_refunded(shop):
    from server.domain import counter, refunds
    from server.errors import DomainError
    from server.extensions import db
    from server.models import Order

    admin = shop.staff["admin"]
    reversing, refunded = paid_sale(shop, 1000), paid_sale(shop, 1100)
    with shop.app.app_context():  # the reverse decided, its loop not started yet: pending
        counter.reverse_paid(db.session.get(Order, reversing))
    assert counter_state(shop, reversing) == "REVERSING"
    assert "Refund…" not in admin.get(f"/console/orders/{reversing}").text
    path = f"/console/orders/{reversing}/refund"
    answer = admin.post(path, {"amount": "1.00", "reason": "x", "confirmed": "y"})
    assert answer.status_code in (200, 302)
    with shop.app.app_context():
        with pytest.raises(DomainError) as refused:
            refunds._place(reversing, 100, "x", requested_by="t", approved_by="t")
        assert refused.value.code == "ORDER_NOT_REFUNDABLE"
    assert shop.query("SELECT count(*) FROM refunds") == [(0,)]
    # The other way: once refunded, the order is not reversed.
    assert admin.refund(refunded, "1.00", "one cup was cold").status_code == 302
    answer = admin.post(f"/console/orders/{refunded}/reverse", {"confirm": "y"})
    assert answer.status_code == 302
    assert counter_state(shop, refunded) == "SUCCESS"
    assert shop.query("SELECT count(*) FROM refunds WHERE order_id = :id", id=refunded) == [(1,)]


def test_a_refund_and_a_reverse_at_the_same_moment_one_wins(shop):
    import threading

    from server.domain import counter, refunds
    from server.errors import DomainError
    from server.extensions import db
    from server.models import Order

    order_id = paid_sale(shop, 1300)
    start, outcomes = threading.Barrier(2), {}

    def reverse():
        with shop.app.app_context():
            start.wait()
            try:
                counter.reverse_paid(db.session.get(Order, order_id))
                outcomes["reverse"] = "done"
            except DomainError as exc:
                outcomes["reverse"] = exc.code

    def refund():
        with shop.app.app_context():
            start.wait()
            try:
                refunds._place(order_id, 100, "x", requested_by="t", approved_by="t")
                db.session.commit()
                outcomes["refund"] = "done"
            except DomainError as exc:
                outcomes["refund"] = exc.code

    threads = [threading.Thread(target=reverse), threading.Thread(target=refund)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) in (
        ["ORDER_NOT_REVERSIBLE", "done"],
        ["ORDER_NOT_REFUNDABLE", "done"],
    ), outcomes
    refunds_made = shop.query("SELECT count(*) FROM refunds")[0][0]
    reversing = counter_state(shop, order_id) == "REVERSING"
    assert (refunds_made, reversing) in ((1, False), (0, True))


def test_a_reverse_wechat_refuses_is_shown_under_needs_attention(shop):
    cashier, admin = shop.staff["cashier"], shop.staff["admin"]
    sale = sell(cashier, {"amount": 400, "auth_code": c.walks_away(5)}).json["sale"]
    shop.control(
        "faults",
        kind="api",
        method="POST",
        path=f"/v3/pay/transactions/out-trade-no/{sale['out_trade_no']}/reverse",
        status=403,
        code="NO_AUTH",
    )

    def listed():
        page = admin.get("/console/attention").text
        return page if "WeChat does not reverse this counter payment" in page else None

    page = wait_for(listed, timeout=20)
    assert f"order #{sale['order_id']}" in page and "NO_AUTH" in page
    assert counter_state(shop, sale["order_id"]) == "REVERSING"
