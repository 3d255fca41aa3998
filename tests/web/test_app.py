"""APP payments (POST /api/app/orders) on SQLite and PostgreSQL, API v3 and v2: the order on
the app channel with the mobile app's appid, the SDK's parameters signed as WeChat's SDK checks
them, and the order paid through the simulator's cashier and its notification."""

from pathlib import Path

import pytest
import requests

from server.wechatpay.crypto import load_private_key, rsa_verify, v2_verify
from tests.support import wait_for

V2 = {"WECHATPAY_API_VERSION": "v2", "WECHATPAY_API_KEY": "k" * 32}


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_an_app_order_and_its_signed_sdk_parameters(make_stack, version):
    stack = make_stack(**(V2 if version == "v2" else {}))
    auth = stack.login()
    created = requests.post(
        f"{stack.backend}/api/app/orders",
        json={"items": [{"product_id": 1, "quantity": 2}]},
        headers={**auth, "Idempotency-Key": "app-checkout-0001"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    order, params = created.json()["order"], created.json()["app_params"]
    assert (order["channel"], order["trade_type"], order["total"]) == ("app", "APP", 3600)
    assert params["appid"] == stack.settings["WECHAT_APP_APPID"]
    assert params["partnerid"] == stack.settings["WECHATPAY_MCHID"]
    assert params["package"] == "Sign=WXPay"
    if version == "v3":
        key = load_private_key(Path(stack.settings["WECHATPAY_PRIVATE_KEY"]).read_bytes())
        message = "".join(
            f"{params[name]}\n" for name in ("appid", "timestamp", "noncestr", "prepayid")
        )
        assert rsa_verify(key.public_key(), message.encode(), params["sign"])
    else:
        assert v2_verify(params, V2["WECHATPAY_API_KEY"], "MD5")
    # The same checkout again: the same order.
    again = requests.post(
        f"{stack.backend}/api/app/orders",
        json={"items": [{"product_id": 1, "quantity": 2}]},
        headers={**auth, "Idempotency-Key": "app-checkout-0001"},
        timeout=10,
    )
    assert again.status_code == 200 and again.json()["order"]["id"] == order["id"]
    # The user pays in WeChat (the simulator's cashier), WeChat notifies /api/pay/notify/app.
    paid = requests.post(
        f"{stack.sandbox}/sandbox/pay", json={"prepay_id": params["prepayid"]}, timeout=10
    )
    assert paid.status_code == 200, paid.text
    wait_for(lambda: stack.order(auth, order["id"]).json()["order"]["status"] == "PAID")


def test_the_mini_programs_pay_endpoint_refuses_an_app_order(stack):
    auth = stack.login()
    created = requests.post(
        f"{stack.backend}/api/app/orders",
        json={"items": [{"product_id": 1, "quantity": 1}]},
        headers=auth,
        timeout=10,
    ).json()
    refused = requests.post(
        f"{stack.backend}/api/orders/{created['order']['id']}/pay", headers=auth, timeout=10
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "ORDER_NOT_PAYABLE"


def test_an_app_order_for_goods_that_ship_needs_the_address(stack):
    from tests.payments.test_addresses import ADDRESS

    auth = stack.login()
    beans = {"items": [{"product_id": 4, "quantity": 1}]}  # the demo's coffee beans ship
    refused = requests.post(f"{stack.backend}/api/app/orders", json=beans, headers=auth)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ADDRESS_REQUIRED"
    created = requests.post(
        f"{stack.backend}/api/app/orders", json={**beans, "address": ADDRESS}, headers=auth
    )
    assert created.status_code == 201, created.text


def test_an_app_checkouts_key_sent_to_the_mini_programs_endpoint_is_another_checkout(stack):
    # The contract fuzzer found it: the mini program's endpoint answered the APP order's
    # parameters (no nonceStr) for a key first used by POST /api/app/orders.
    auth = {**stack.login(), "Idempotency-Key": "shared-key-0001"}
    body = {"items": [{"product_id": 1, "quantity": 1}]}
    placed = requests.post(f"{stack.backend}/api/app/orders", json=body, headers=auth)
    assert placed.status_code == 201, placed.text
    again = requests.post(f"{stack.backend}/api/orders", json=body, headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
