"""The counter's loop through the real stack (simulator over HTTP, SQLite and PostgreSQL):
each customer behaviour ends in the right state, the unknown is queried and never charged
again, reverse waits and repeats, one code makes one charge."""

import json
import threading
import time
from datetime import timedelta

import pytest
import requests

from server import cashier
from server.extensions import db
from server.models import Order
from server.timeutil import utcnow
from tests.support import counter as c


@pytest.fixture(params=["v3", "v2"])
def counter_stack(request, make_stack):
    settings = dict(c.FAST)
    if request.param == "v2":
        settings["WECHATPAY_CHANNEL_COUNTER_API_VERSION"] = "v2"
    stack = make_stack(**settings)
    stack.api_version = request.param
    return stack


def sell(stack, auth_code, amount=None, lines=None):
    with stack.app.app_context():
        payment, _created = cashier.submit(
            auth_code=auth_code, amount=amount, lines=lines, client_ip="127.0.0.1"
        )
        return payment.order_id, payment.order.out_trade_no


@pytest.mark.parametrize(
    ("behaviour", "final", "order_status", "reason", "amount"),
    [
        (lambda: c.code(c.PAYS), "SUCCESS", Order.PAID, None, 1234),
        (lambda: c.pin_pays(3), "SUCCESS", Order.PAID, None, 1234),
        (lambda: c.walks_away(5), "REVOKED", Order.REVOKED, "PIN_TIMEOUT", 1234),
        (lambda: c.code(c.NOTENOUGH), "CLOSED", Order.CLOSED, "NOT_ENOUGH", 1234),
        (lambda: c.code(c.EXPIRED), "CLOSED", Order.CLOSED, "AUTHCODEEXPIRE", 1234),
        (lambda: c.code(c.INVALID), "CLOSED", Order.CLOSED, "AUTH_CODE_INVALID", 1234),
        (lambda: c.code(c.SYSTEMERROR), "SUCCESS", Order.PAID, None, 1234),
        (lambda: c.code(c.BANKERROR), "CLOSED", Order.CLOSED, None, 1234),
        # over 1,000 yuan WeChat always asks for the PIN, whatever the code
        (lambda: c.code(c.PAYS), "SUCCESS", Order.PAID, None, 100001),
    ],
    ids=[
        "pays",
        "pin",
        "walks-away",
        "notenough",
        "expired",
        "invalid",
        "systemerror",
        "bank",
        "over-1000-yuan",
    ],
)
def test_each_customer_ends_in_its_state(
    counter_stack, behaviour, final, order_status, reason, amount
):
    order_id, out_trade_no = sell(counter_stack, behaviour(), amount=amount)
    state, why, status, _reverses = c.wait_final(counter_stack.app, order_id)
    assert (state, status) == (final, order_status)
    if reason:
        assert why == reason
    if final == "CLOSED" and reason is None:
        assert why in ("BANKERROR", "BANK_ERROR")
    seen = [o for o in c.simulator_orders(counter_stack) if o["out_trade_no"] == out_trade_no]
    assert len(seen) <= 1  # never charged twice
    if amount > 100000:
        assert seen[0]["counter"]["kind"] == "pin_pays" and seen[0]["amount"]["total"] == amount


def test_systemerror_is_queried_never_charged_again(counter_stack):
    auth_code = c.code(c.SYSTEMERROR)
    order_id, out_trade_no = sell(counter_stack, auth_code, amount=500)
    assert c.wait_final(counter_stack.app, order_id)[0] == "SUCCESS"
    charged = [
        o for o in c.simulator_orders(counter_stack) if o["counter"]["auth_code"] == auth_code
    ]
    assert [o["out_trade_no"] for o in charged] == [out_trade_no]
    with counter_stack.app.app_context():
        order = db.session.get(Order, order_id)
        assert order.transaction_id == charged[0]["transaction_id"]


def test_reverse_waits_and_is_never_sent_while_the_pin_is_open(counter_stack):
    # Walks away after 0.5 s; PIN timeout 1 s; reverse-after 1.5 s from the charge.
    before_the_charge = time.time()  # the simulator's clock is this machine's
    order_id, out_trade_no = sell(counter_stack, c.walks_away(5), amount=300)
    assert c.wait_final(counter_stack.app, order_id)[0] == "REVOKED"
    reverses = c.simulator_order(counter_stack, out_trade_no)["reverses"]
    # The wait runs from when the loop sent the charge, after ``before_the_charge`` (on a
    # loaded machine the simulator may store the order a second later than it was sent).
    assert reverses and reverses[0]["at"] - before_the_charge >= 1.5
    assert [r["answer"] for r in reverses] == ["REVOKED"]


def test_reverse_is_repeated_while_wechat_says_recall(counter_stack):
    counter_stack.control("counter/recall", times=2)
    order_id, out_trade_no = sell(counter_stack, c.walks_away(5), amount=300)
    state, _why, _status, reverses = c.wait_final(counter_stack.app, order_id)
    assert state == "REVOKED" and reverses == 3
    answers = [r["answer"] for r in c.simulator_order(counter_stack, out_trade_no)["reverses"]]
    assert answers == ["RECALL", "RECALL", "REVOKED"]


def test_a_pin_still_open_at_the_timeout_is_reversed_when_it_closes(counter_stack):
    # The dialog stays open 2.5 s: past the timeout, the reverse answers USERPAYING and is
    # sent again until the customer has left.
    order_id, out_trade_no = sell(counter_stack, c.walks_away(25), amount=300)
    assert c.wait_final(counter_stack.app, order_id)[0] == "REVOKED"
    answers = [r["answer"] for r in c.simulator_order(counter_stack, out_trade_no)["reverses"]]
    assert answers[-1] == "REVOKED" and set(answers[:-1]) <= {"USERPAYING"}


def test_ten_concurrent_submissions_of_one_code_make_one_charge(make_stack):
    stack = make_stack(**c.FAST)
    auth_code = c.code(c.PAYS)
    results, errors = [], []
    start = threading.Barrier(10)

    def submit():
        start.wait()
        try:
            results.append(sell(stack, auth_code, amount=880))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len({order_id for order_id, _ in results}) == 1
    assert c.wait_final(stack.app, results[0][0])[0] == "SUCCESS"
    charged = [o for o in c.simulator_orders(stack) if o["counter"]["auth_code"] == auth_code]
    assert len(charged) == 1
    assert stack.query("SELECT count(*) FROM orders WHERE channel = 'counter'")[0][0] == 1


def test_a_bad_code_is_refused_before_anything_is_sent(make_stack):
    stack = make_stack(**c.FAST)
    from server.errors import DomainError

    for bad in ("193456789012345678", "16" + "0" * 16, "13456", "13" + "0" * 17, " "):
        with pytest.raises(DomainError) as refused:
            sell(stack, bad, amount=100)
        assert refused.value.code == "AUTH_CODE_INVALID"
    assert c.simulator_orders(stack) == []
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 0


def reverse_fault(stack, out_trade_no, code, times):
    """The next ``times`` reverses of the order answer WeChat's refusal ``code``."""
    if getattr(stack, "api_version", "v3") == "v2":
        fault = {"path": "/secapi/pay/reverse", "status": 200, "code": code}
    else:
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse"
        fault = {"path": path, "status": 500 if code == "SYSTEM_ERROR" else 403, "code": code}
    stack.control("faults", kind="api", method="POST", times=times, **fault)


def wait_stuck(stack, order_id, timeout=20):
    """The Needs attention item of a reverse that did not go through (its payload)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = stack.query(
            "SELECT payload FROM payment_events WHERE order_id = :id"
            " AND event_type = 'REFUSED.REVERSE_FAILED'",
            id=order_id,
        )
        if rows:
            return json.loads(rows[0][0])
        time.sleep(0.05)
    raise AssertionError(f"no REVERSE_FAILED for order {order_id} after {timeout} s")


def an_hour_later(stack, order_id):
    """The job's run an hour later: the payment due and its lease long lapsed."""
    with stack.app.app_context():
        db.session.execute(
            db.text(
                "UPDATE counter_payments SET next_at = :now, lease_until = :now"
                " WHERE order_id = :id"
            ),
            {"now": utcnow() - timedelta(seconds=1), "id": order_id},
        )
        db.session.commit()
        cashier.sweep()


@pytest.mark.parametrize("refusal", ["NOAUTH", "CLIENT_CERT_NOT_CONFIGURED"])
def test_a_reverse_wechat_refuses_stops_at_once_and_waits_for_a_person(counter_stack, refusal):
    code = refusal if counter_stack.api_version == "v2" or refusal != "NOAUTH" else "NO_AUTH"
    order_id, out_trade_no = sell(counter_stack, c.walks_away(5), amount=300)
    reverse_fault(counter_stack, out_trade_no, code, times=1)
    stuck = wait_stuck(counter_stack, order_id)
    assert (stuck["code"], stuck["attempts"]) == (code, 1)
    time.sleep(0.5)  # several poll intervals: no second call
    [(state, reverses)] = counter_stack.query(
        "SELECT state, reverses FROM counter_payments WHERE order_id = :id", id=order_id
    )
    assert (state, reverses) == ("REVERSING", 1)
    assert c.simulator_order(counter_stack, out_trade_no)["reverses"] == []
    an_hour_later(counter_stack, order_id)  # the cause mended: the next try goes through
    assert c.wait_final(counter_stack.app, order_id)[:3] == ("REVOKED", "PIN_TIMEOUT", "REVOKED")


def test_a_reverse_still_failing_after_its_attempts_waits_for_a_person(make_stack):
    stack = make_stack(**c.FAST, COUNTER_REVERSE_ATTEMPTS="3")
    order_id, out_trade_no = sell(stack, c.walks_away(5), amount=300)
    reverse_fault(stack, out_trade_no, "SYSTEM_ERROR", times=10)
    stuck = wait_stuck(stack, order_id)
    assert (stuck["code"], stuck["attempts"]) == ("SYSTEM_ERROR", 3)
    time.sleep(0.5)
    [(state, reverses)] = stack.query(
        "SELECT state, reverses FROM counter_payments WHERE order_id = :id", id=order_id
    )
    assert (state, reverses) == ("REVERSING", 3)
    assert requests.delete(f"{stack.sandbox}/sandbox/faults", timeout=5).status_code < 300
    an_hour_later(stack, order_id)
    state, _why, status, reverses = c.wait_final(stack.app, order_id)
    assert (state, status, reverses) == ("REVOKED", "REVOKED", 4)
