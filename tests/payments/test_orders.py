"""The orders API: pricing from the server, ownership, bad input, WeChat failures."""

import socket

import pytest
import requests

from tests.support import wait_for
from tests.support.concurrency import at_once
from tests.support.live import LiveServer


def orders_url(stack, suffix=""):
    return f"{stack.backend}/api/orders{suffix}"


def test_client_sent_prices_are_ignored(stack):
    auth = stack.login()
    product = stack.products()[1]
    body = {
        "items": [
            {"product_id": product["id"], "quantity": 3, "price": 1, "amount": 1, "unit_price": 1}
        ],
        "total": 1,
        "amount": {"total": 1},
    }
    response = requests.post(orders_url(stack), json=body, headers=auth)
    assert response.status_code == 201
    order = response.json()["order"]
    assert order["total"] == 3 * product["price"]
    assert order["items"][0]["unit_price"] == product["price"]
    # And WeChat was asked for the server's amount, not the client's.
    wechat = requests.get(f"{stack.sandbox}/sandbox/orders/{order['out_trade_no']}").json()
    assert wechat["order"]["amount"]["total"] == 3 * product["price"]


def test_another_users_order_is_not_found(stack):
    alice, bob = stack.login("o-alice"), stack.login("o-bob")
    order = stack.create_order(alice).json()["order"]
    for method, suffix in [("get", f"/{order['id']}"), ("post", f"/{order['id']}/pay")]:
        response = requests.request(method, orders_url(stack, suffix), headers=bob)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert requests.get(orders_url(stack), headers=bob).json()["orders"] == []
    assert len(requests.get(orders_url(stack), headers=alice).json()["orders"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"items"',
        b"{}",
        b'{"items": []}',
        b'{"items": "1"}',
        b'{"items": [1]}',
        b'{"items": [{"product_id": "1", "quantity": 1}]}',
        b'{"items": [{"product_id": 1, "quantity": 0}]}',
        b'{"items": [{"product_id": 1, "quantity": -1}]}',
        b'{"items": [{"product_id": 1, "quantity": 1.5}]}',
        b'{"items": [{"product_id": 1, "quantity": true}]}',
        b'{"items": [{"product_id": 1, "quantity": 100}]}',
        b'{"items": [{"product_id": 1, "quantity": 60}, {"product_id": 1, "quantity": 60}]}',
        b'{"items": [{"product_id": 1}]}',
        b'{"items": [' + b",".join([b'{"product_id": 1, "quantity": 1}'] * 21) + b"]}",
    ],
)
def test_bad_order_bodies_are_refused_and_create_nothing(stack, body):
    auth = stack.login()
    response = requests.post(
        orders_url(stack), data=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 0


def test_unknown_product_and_huge_body(stack):
    auth = stack.login()
    response = requests.post(
        orders_url(stack), headers=auth, json={"items": [{"product_id": 999, "quantity": 1}]}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "PRODUCT_NOT_FOUND")
    response = requests.post(
        orders_url(stack),
        headers={**auth, "Content-Type": "application/json"},
        data=b'{"items": [' + b" " * 100_000 + b"]}",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (413, "BODY_TOO_LARGE")
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 0


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "bearer  "])
def test_orders_need_a_valid_token(stack, header):
    headers = {"Authorization": header} if header else {}
    for method, suffix in [("get", ""), ("post", ""), ("get", "/1"), ("post", "/1/pay")]:
        response = requests.request(method, orders_url(stack, suffix), headers=headers, json={})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_expired_token_is_refused_and_purged_at_the_next_login(make_stack):
    stack = make_stack(TOKEN_TTL_SECONDS="0")
    auth = stack.login("o-erin")
    response = requests.get(orders_url(stack), headers=auth)
    assert response.status_code == 401
    stack.login("o-erin")
    assert stack.query("SELECT count(*) FROM auth_tokens")[0][0] == 1


def test_logout_revokes_the_token(stack):
    auth = stack.login()
    assert requests.post(f"{stack.backend}/api/logout", headers=auth).status_code == 204
    assert requests.get(orders_url(stack), headers=auth).status_code == 401


def test_wechat_error_keeps_the_order_for_a_retry(stack):
    auth = stack.login()
    stack.control(
        "faults",
        kind="api",
        path="/v3/pay/transactions/jsapi",
        status=500,
        code="SYSTEM_ERROR",
        message="系统错误",
    )
    response = stack.create_order(auth)
    assert response.status_code == 502
    error = response.json()["error"]
    assert (error["code"], error["wechatpay_code"]) == ("WECHATPAY_ERROR", "SYSTEM_ERROR")
    retry = requests.post(orders_url(stack, f"/{error['order_id']}/pay"), headers=auth)
    assert retry.status_code == 200
    assert retry.json()["pay_params"]["package"].startswith("prepay_id=")


def test_wechat_timeout_is_a_clear_503_and_recoverable(stack):
    auth = stack.login()
    stack.control("faults", kind="api", path="/v3/pay/transactions/jsapi", delay=3)
    response = stack.create_order(auth)  # the backend's timeout is 2 s in tests
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "WECHATPAY_UNAVAILABLE"
    # The slow request did reach WeChat; re-placing the same order gets the same prepay.
    retry = requests.post(orders_url(stack, f"/{error['order_id']}/pay"), headers=auth)
    assert retry.status_code == 200


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_wechat_pay_is_a_503(make_stack):
    stack = make_stack(WECHATPAY_API_BASE=f"http://127.0.0.1:{_closed_port()}")
    auth = stack.login()
    response = stack.create_order(auth)
    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "WECHATPAY_UNAVAILABLE",
    )
    assert stack.query("SELECT status, prepay_id FROM orders")[0] == ("NOTPAY", None)


@pytest.fixture
def impostor(dev_keys):
    """A server that answers like WeChat Pay but signs with a key WeChat never had."""
    from sandbox.devkeys import _new_key
    from server.wechatpay import crypto

    key = _new_key()

    def app(environ, start_response):
        body = b'{"prepay_id":"wx-forged"}'
        timestamp, nonce = str(crypto.now()), crypto.nonce()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Request-ID", "impostor"),
                ("Wechatpay-Timestamp", timestamp),
                ("Wechatpay-Nonce", nonce),
                ("Wechatpay-Serial", dev_keys["WECHATPAY_PUBLIC_KEY_ID"]),
                ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048"),
                (
                    "Wechatpay-Signature",
                    crypto.rsa_sign(key, crypto.v3_response_message(timestamp, nonce, body)),
                ),
            ],
        )
        return [body]

    with LiveServer(app) as server:
        yield server.url


def test_forged_wechat_response_is_not_trusted(make_stack, impostor):
    stack = make_stack(WECHATPAY_API_BASE=impostor)
    auth = stack.login()
    response = stack.create_order(auth)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "WECHATPAY_UNAVAILABLE"
    assert stack.query("SELECT prepay_id FROM orders")[0][0] is None


def test_reading_an_unpaid_order_queries_wechat_when_the_notification_is_lost(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    order = wait_for(
        lambda: (
            (o := stack.order(auth, created["order"]["id"]).json()["order"])["status"] == "PAID"
            and o
        )
    )
    assert order["transaction_id"]
    events = stack.query("SELECT source FROM payment_events")
    assert [e[0] for e in events] == ["query"]


def test_reading_queries_wechat_at_most_once_per_interval(stack):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    # A fault armed for 10 queries counts them: each query WeChat receives uses one up.
    stack.control(
        "faults",
        kind="api",
        path="/v3/pay/transactions/out-trade-no/",
        method="GET",
        delay=0.01,
        times=10,
    )
    for _ in range(5):
        assert stack.order(auth, order["id"]).status_code == 200
    faults = requests.get(f"{stack.sandbox}/sandbox/faults").json()["faults"]
    assert [f["times"] for f in faults] == [9]


def test_paid_order_is_not_payable_again(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.cashier(created["pay_params"])
    wait_for(lambda: stack.order(auth, created["order"]["id"]).json()["order"]["status"] == "PAID")
    response = requests.post(orders_url(stack, f"/{created['order']['id']}/pay"), headers=auth)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "ORDER_NOT_PAYABLE")


def test_orders_list_newest_first(stack):
    auth = stack.login()
    first = stack.create_order(auth).json()["order"]["id"]
    second = stack.create_order(auth).json()["order"]["id"]
    ids = [o["id"] for o in requests.get(orders_url(stack), headers=auth).json()["orders"]]
    assert ids == [second, first]


def test_a_retried_checkout_with_the_same_idempotency_key_gets_the_same_order(stack):
    auth = {**stack.login(), "Idempotency-Key": "checkout-7f3a9c2e"}
    items = [{"product_id": stack.products()[0]["id"], "quantity": 2}]
    first = requests.post(orders_url(stack), json={"items": items}, headers=auth)
    again = requests.post(orders_url(stack), json={"items": items}, headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["order"]["out_trade_no"] == first.json()["order"]["out_trade_no"]
    assert again.json()["pay_params"]["package"] == first.json()["pay_params"]["package"]
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 1
    # The key is the user's own: another user with the same key gets their own order.
    other = {**stack.login("o-other"), "Idempotency-Key": "checkout-7f3a9c2e"}
    assert requests.post(orders_url(stack), json={"items": items}, headers=other).status_code == 201


def test_concurrent_retries_with_one_idempotency_key_create_one_order(stack):
    auth = {**stack.login(), "Idempotency-Key": "double-tap-0001"}
    items = [{"product_id": stack.products()[0]["id"], "quantity": 1}]

    def checkout():
        return requests.post(orders_url(stack), json={"items": items}, headers=auth)

    responses = at_once([checkout] * 10)
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["order"]["id"] for r in responses}) == 1
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 1


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 65, "ü-nicode-key"])
def test_malformed_idempotency_keys_are_refused(stack, key):
    auth = {**stack.login(), "Idempotency-Key": key}
    response = stack.create_order(auth)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "INVALID_REQUEST")


def test_an_idempotency_key_reused_for_another_cart_is_refused(stack):
    auth = {**stack.login(), "Idempotency-Key": "checkout-reused-1"}
    products = stack.products()
    assert (
        stack.create_order(auth, [{"product_id": products[0]["id"], "quantity": 1}]).status_code
        == 201
    )
    response = stack.create_order(auth, [{"product_id": products[1]["id"], "quantity": 1}])
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 1


def test_an_order_id_too_large_for_the_database_is_not_found(stack):
    auth = stack.login()
    for method, suffix in [("get", "/99999999999999999999"), ("post", "/99999999999999999999/pay")]:
        response = requests.request(method, orders_url(stack, suffix), headers=auth)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_a_checkout_retried_after_payment_says_which_order_is_paid(stack):
    """The same key once the order is paid: 409 ORDER_NOT_PAYABLE naming that order (never a
    second order, never pay_params); the mini program then shows the paid order."""
    auth = {**stack.login(), "Idempotency-Key": "checkout-paid-0001"}
    items = [{"product_id": stack.products()[0]["id"], "quantity": 1}]
    created = requests.post(orders_url(stack), json={"items": items}, headers=auth).json()
    assert stack.cashier(created["pay_params"]).status_code == 200
    wait_for(lambda: stack.order(auth, created["order"]["id"]).json()["order"]["status"] == "PAID")
    again = requests.post(orders_url(stack), json={"items": items}, headers=auth)
    assert again.status_code == 409
    assert again.json()["error"] | {"message": None} == {
        "code": "ORDER_NOT_PAYABLE",
        "message": None,
        "order_id": created["order"]["id"],
        "order_status": "PAID",
    }
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 1
