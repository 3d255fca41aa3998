"""The v3 payment notification: every refusal changes nothing; duplicates apply once."""

import json
import threading

import pytest
import requests

from sandbox.devkeys import _key_pem, _new_key
from server.domain import attention, payments
from server.extensions import db
from server.wechatpay import crypto
from tests.support import wait_for
from tests.support.concurrency import at_once
from tests.support.notifications import signed_notification, transaction_for


@pytest.fixture
def unpaid(stack):
    """An order placed with WeChat and not paid yet."""
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    return stack, auth, order


def post(stack, headers, body):
    return requests.post(f"{stack.backend}/api/pay/notify", data=body, headers=headers)


def assert_unchanged(stack, auth, order):
    """The order is untouched and no event was applied (refusals may be kept for audit)."""
    applied = stack.query(
        "SELECT count(*) FROM payment_events WHERE event_type NOT LIKE 'REFUSED.%'"
    )[0][0]
    assert applied == 0
    status = stack.query("SELECT status FROM orders WHERE id = :id", id=order["id"])[0][0]
    assert status == "NOTPAY"


def test_genuine_notification_pays_the_order(unpaid):
    stack, auth, order = unpaid
    response = post(
        stack, *signed_notification(stack.settings, transaction_for(stack.settings, order))
    )
    assert response.status_code == 204
    assert stack.query("SELECT status FROM orders")[0][0] == "PAID"


@pytest.fixture(scope="module")
def stranger_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("stranger") / "key.pem"
    path.write_bytes(_key_pem(_new_key()))
    return str(path)


def refusals(settings, order, stranger_key):
    """(name, headers, body) of notifications that must all be refused."""
    good = transaction_for(settings, order)
    headers, body = signed_notification(settings, good)
    yield "forged", *signed_notification(settings, good, key_path=stranger_key)
    yield "tampered", headers, body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESZ"')
    yield "stale", *signed_notification(settings, good, timestamp=crypto.now() - 301)
    yield "future", *signed_notification(settings, good, timestamp=crypto.now() + 301)
    yield "probe", *signed_notification(settings, good, signature="WECHATPAY/SIGNTEST/" + "A" * 300)
    yield "unknown serial", *signed_notification(settings, good, serial="PUB_KEY_ID_0123")
    yield (
        "unknown certificate",
        *signed_notification(settings, good, serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
    )
    yield "undecryptable", *signed_notification(settings, good, apiv3_key="k" * 32)
    yield (
        "amount mismatch",
        *signed_notification(
            settings, transaction_for(settings, order, amount={"total": order["total"] - 1})
        ),
    )
    yield (
        "appid mismatch",
        *signed_notification(
            settings, transaction_for(settings, order, appid="wx0000000000000000")
        ),
    )
    yield (
        "mchid mismatch",
        *signed_notification(settings, transaction_for(settings, order, mchid="1230000109")),
    )
    yield (
        "unknown order",
        *signed_notification(
            settings, transaction_for(settings, order, out_trade_no="NOTOURS0000000001")
        ),
    )
    yield "not json", *signed_notification(settings, good, body=b"{not json")
    yield "not an event", *signed_notification(settings, good, body=b'{"id": 1}')
    yield "empty", *signed_notification(settings, good, body=b"")
    no_headers = {"Content-Type": "application/json"}
    yield "unsigned", no_headers, body
    yield "huge", *signed_notification(settings, good, body=b"{" + b" " * 100_000 + b"}")
    # Under the app's 64 KiB request limit, over the notification's own 16 KiB bound.
    yield "too large", *signed_notification(settings, good, body=b"{" + b" " * 20_000 + b"}")
    headers, body = signed_notification(settings, good)
    yield "non-ASCII digits", {**headers, "Wechatpay-Timestamp": "\u00b2"}, body
    yield "endless timestamp", {**headers, "Wechatpay-Timestamp": "9" * 5000}, body


def test_every_forged_or_wrong_notification_is_refused(unpaid, stranger_key):
    stack, auth, order = unpaid
    for name, headers, body in refusals(stack.settings, order, stranger_key):
        response = post(stack, headers, body)
        assert 400 <= response.status_code < 500, f"{name}: {response.status_code}"
        assert response.json()["code"] == "FAIL", name
        assert_unchanged(stack, auth, order)


def test_verified_mismatch_is_kept_for_audit_once_and_changes_nothing(unpaid):
    stack, auth, order = unpaid
    notification = signed_notification(
        stack.settings,
        transaction_for(stack.settings, order, amount={"total": order["total"] + 100}),
    )
    for _ in range(3):  # WeChat resends what it was refused
        assert post(stack, *notification).status_code == 400
    assert stack.query("SELECT event_type, order_id FROM payment_events") == [
        ("REFUSED.AMOUNT_MISMATCH", order["id"])
    ]
    assert_unchanged(stack, auth, order)


def test_sandbox_probe_and_tampered_copy_are_refused_then_real_one_applies(unpaid):
    stack, auth, order = unpaid
    stack.control(
        "faults",
        faults=[{"kind": "notify", "action": "signtest"}, {"kind": "notify", "action": "tamper"}],
    )
    pay_params = requests.post(
        f"{stack.backend}/api/orders/{order['id']}/pay", headers=auth
    ).json()["pay_params"]
    stack.cashier(pay_params)
    # The simulator logs a delivery after the backend answered it (so after the order is
    # paid): wait for the acknowledged one, not for the order.
    wait_for(lambda: any(n["acknowledged"] for n in stack.notifications()))
    statuses = [n["status"] for n in stack.notifications()]
    assert statuses.count(400) == 2 and statuses[-1] == 204, statuses
    assert stack.query("SELECT status FROM orders")[0][0] == "PAID"


def test_duplicate_notification_is_acknowledged_and_applied_once(unpaid):
    stack, auth, order = unpaid
    headers, body = signed_notification(stack.settings, transaction_for(stack.settings, order))
    assert post(stack, headers, body).status_code == 204
    paid_at = stack.query("SELECT paid_at FROM orders")[0][0]
    assert post(stack, headers, body).status_code == 204
    assert stack.query("SELECT count(*) FROM payment_events")[0][0] == 1
    assert stack.query("SELECT paid_at FROM orders")[0][0] == paid_at


def test_concurrent_duplicates_change_the_order_exactly_once(unpaid):
    stack, auth, order = unpaid
    headers, body = signed_notification(stack.settings, transaction_for(stack.settings, order))
    statuses = at_once([lambda: post(stack, headers, body).status_code] * 24)
    assert statuses == [204] * 24
    assert stack.query("SELECT count(*) FROM payment_events")[0][0] == 1
    assert stack.query("SELECT status FROM orders")[0][0] == "PAID"


def test_concurrent_duplicates_from_the_simulator(unpaid):
    stack, auth, order = unpaid
    stack.control("faults", kind="notify", action="duplicate", copies=20)
    pay_params = requests.post(
        f"{stack.backend}/api/orders/{order['id']}/pay", headers=auth
    ).json()["pay_params"]
    stack.cashier(pay_params)
    wait_for(lambda: len([n for n in stack.notifications() if n["status"] == 204]) == 20)
    assert stack.query("SELECT count(*) FROM payment_events WHERE source = 'notify'")[0][0] == 1


def test_valid_notification_for_paid_order_is_acknowledged_without_change(unpaid):
    stack, auth, order = unpaid
    resource = transaction_for(stack.settings, order)
    assert post(stack, *signed_notification(stack.settings, resource)).status_code == 204
    before = stack.query("SELECT status, paid_at, transaction_id FROM orders")
    # A second, distinct notification event about the same payment.
    assert post(stack, *signed_notification(stack.settings, resource)).status_code == 204
    assert stack.query("SELECT status, paid_at, transaction_id FROM orders") == before


def test_certificate_mode_refuses_public_key_signatures(cert_mode_stack):
    stack = cert_mode_stack
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    headers, body = signed_notification(
        stack.settings,
        transaction_for(stack.settings, order),
        key_path=stack.settings["SANDBOX_PLATFORM_KEY"],
        serial="PUB_KEY_ID_0000000000000024101100397200000006",
    )
    assert post(stack, headers, body).status_code == 400
    # Signed with the platform certificate, the same notification is accepted.
    serial = crypto.certificate_serial(open(stack.settings["SANDBOX_PLATFORM_CERT"], "rb").read())
    headers, body = signed_notification(
        stack.settings,
        transaction_for(stack.settings, order),
        key_path=stack.settings["SANDBOX_PLATFORM_KEY"],
        serial=serial,
    )
    assert post(stack, headers, body).status_code == 204
    assert json.loads(stack.order(auth, order["id"]).text)["order"]["status"] == "PAID"


def test_notifications_racing_queries_apply_once_without_deadlock(make_stack):
    """Notifications and order reads (each querying WeChat) for one order, all at once."""
    stack = make_stack(ORDER_QUERY_INTERVAL_SECONDS="0")
    for _ in range(3):
        auth = stack.login()
        created = stack.create_order(auth).json()
        order = created["order"]
        stack.control("faults", kind="notify", action="drop")
        stack.cashier(created["pay_params"])  # WeChat has it paid; its notification is lost
        wechat = requests.get(f"{stack.sandbox}/sandbox/orders/{order['out_trade_no']}").json()
        headers, body = signed_notification(
            stack.settings,
            transaction_for(
                stack.settings, order, transaction_id=wechat["order"]["transaction_id"]
            ),
        )

        def notify():
            return post(stack, headers, body).status_code

        def read():
            return stack.order(auth, order["id"]).status_code

        statuses = at_once([notify, read] * 6)
        assert sorted(statuses) == [200] * 6 + [204] * 6
        assert stack.query("SELECT status FROM orders WHERE id = :id", id=order["id"]) == [
            ("PAID",)
        ]
        assert (
            stack.query(
                "SELECT count(*) FROM payment_events WHERE order_id = :id AND source = 'notify'",
                id=order["id"],
            )[0][0]
            == 1
        )


def test_order_paid_while_wechat_places_it_is_not_payable(stack):
    """A notification lands while POST /api/orders waits for WeChat: no pay_params for it."""
    auth = stack.login()
    stack.control("faults", kind="api", path="/v3/pay/transactions/jsapi", delay=1)
    result = {}
    creating = threading.Thread(target=lambda: result.update(response=stack.create_order(auth)))
    creating.start()
    order = wait_for(lambda: stack.query("SELECT id, out_trade_no, total FROM orders"))[0]
    order = {"id": order[0], "out_trade_no": order[1], "total": order[2]}
    assert (
        post(
            stack, *signed_notification(stack.settings, transaction_for(stack.settings, order))
        ).status_code
        == 204
    )
    creating.join()
    response = result["response"]
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert (error["code"], error["order_id"], error["order_status"]) == (
        "ORDER_NOT_PAYABLE",
        order["id"],
        "PAID",
    )


def test_one_transaction_id_for_two_orders_at_once_pays_one_and_refuses_the_other(unpaid):
    """Two genuine notifications naming one transaction_id for two unpaid orders, at the same
    moment: the unique transaction_id lets one pay; the other is refused with
    TRANSACTION_ID_IN_USE and kept for a person, never a 500 (issue 25)."""
    stack, auth, first = unpaid
    second = stack.create_order(auth).json()["order"]
    shared = "4200009999202612070000000003"
    messages = [
        signed_notification(
            stack.settings, transaction_for(stack.settings, order, transaction_id=shared)
        )
        for order in (first, second)
    ]
    statuses = at_once([lambda m=m: post(stack, *m).status_code for m in messages])
    assert sorted(statuses) == [204, 400]
    rows = stack.query("SELECT status, transaction_id FROM orders ORDER BY id")
    assert sorted(rows, key=str) == sorted([("PAID", shared), ("NOTPAY", None)], key=str)
    assert sorted(e for (e,) in stack.query("SELECT event_type FROM payment_events")) == [
        "REFUSED.TRANSACTION_ID_IN_USE",
        "TRANSACTION.SUCCESS",
    ]


def test_a_transition_names_real_columns_only(unpaid):
    """A misspelt column in a state change is an error, never a silently skipped value."""
    stack, auth, order = unpaid
    with stack.app.app_context():
        with pytest.raises(KeyError):
            payments._transition(order["id"], ("NOTPAY",), status="CLOSED", closedat=None)
        db.session.rollback()
        assert payments.mark_closed(order["id"])
        db.session.commit()
    assert stack.query(
        "SELECT status, closed_at IS NOT NULL FROM orders WHERE id = :id", id=order["id"]
    ) == [("CLOSED", True)]


def test_a_transaction_id_another_order_holds_is_refused_kept_and_changes_nothing(unpaid):
    """One payment cannot pay two orders: a genuine notification naming a transaction_id that
    already paid another order is refused with TRANSACTION_ID_IN_USE (not a 500), kept once
    for a person, and leaves the order unpaid (issue 25)."""
    stack, auth, first = unpaid
    second = stack.create_order(auth).json()["order"]
    paid = transaction_for(stack.settings, first, transaction_id="4200009999202612070000000001")
    assert post(stack, *signed_notification(stack.settings, paid)).status_code == 204
    reused = signed_notification(
        stack.settings,
        transaction_for(stack.settings, second, transaction_id=paid["transaction_id"]),
    )
    for _ in range(2):  # WeChat resends what it was refused
        response = post(stack, *reused)
        assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert stack.query(
        "SELECT o.out_trade_no, o.status, e.event_type FROM payment_events e "
        "JOIN orders o ON o.id = e.order_id ORDER BY e.id"
    ) == [
        (first["out_trade_no"], "PAID", "TRANSACTION.SUCCESS"),
        (second["out_trade_no"], "NOTPAY", "REFUSED.TRANSACTION_ID_IN_USE"),
    ]
    # Nothing changed: the first order keeps the transaction, the second has none.
    assert stack.query("SELECT id, status, transaction_id FROM orders ORDER BY id") == [
        (first["id"], "PAID", paid["transaction_id"]),
        (second["id"], "NOTPAY", None),
    ]
    # Kept for a person: it waits under "Needs attention" until someone resolves it.
    with stack.app.app_context():
        [waiting] = db.session.execute(attention.refused_payments()).scalars().all()
        assert waiting.event_type == "REFUSED.TRANSACTION_ID_IN_USE"
        assert waiting.order_id == second["id"]
        assert paid["transaction_id"] in waiting.payload  # what WeChat said, as it said it
    # Its own payment, when WeChat sends it, still pays it.
    own = transaction_for(stack.settings, second, transaction_id="4200009999202612070000000002")
    assert post(stack, *signed_notification(stack.settings, own)).status_code == 204
    assert stack.query("SELECT status FROM orders WHERE id = :id", id=second["id"]) == [("PAID",)]
