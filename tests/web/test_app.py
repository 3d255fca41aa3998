"""A native app's API on SQLite and PostgreSQL: its user signs in (POST /api/app/login, the
open platform's mobile-app login answered by the simulator), one customer with the mini
program's by unionid; APP payments (POST /api/app/orders), API v3 and v2: the order on the app
channel with the mobile app's appid and the signed-in user, the SDK's parameters signed as
WeChat's SDK checks them, and the order paid through the simulator's cashier and its
notification."""

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


def app_sign_in(stack, **who):
    """The app's user agrees in WeChat (the SDK's SendAuth code), and the app sends the code
    to the backend."""
    minted = stack.control("app-login-code", **who)
    signed = requests.post(
        f"{stack.backend}/api/app/login", json={"code": minted["code"]}, timeout=10
    )
    return minted, signed


def test_the_apps_user_signs_in_orders_and_is_one_customer_with_the_mini_program(stack):
    unionid = "oUN-one-person-0001"
    mini_code = stack.control("login-code", unionid=unionid)["code"]
    mini = requests.post(f"{stack.backend}/api/login", json={"code": mini_code}, timeout=10)
    mini_auth = {"Authorization": f"Bearer {mini.json()['token']}"}

    minted, signed = app_sign_in(stack, unionid=unionid)
    assert signed.status_code == 200, signed.text
    user_id = signed.json()["user"]["id"]
    users = dict(
        (appid, (uid, openid, customer))
        for uid, appid, openid, customer in stack.query(
            "select id, appid, openid, customer_id from users"
        )
    )
    app_user = users[stack.settings["WECHAT_APP_APPID"]]
    assert app_user[:2] == (user_id, minted["openid"])
    assert app_user[2] == users[stack.settings["WECHAT_APPID"]][2]  # one customer (unionid)

    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    created = requests.post(
        f"{stack.backend}/api/app/orders",
        json={"items": [{"product_id": 1, "quantity": 1}]},
        headers=auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    order_id = created.json()["order"]["id"]
    assert stack.query("select user_id, appid from orders") == [
        (user_id, stack.settings["WECHAT_APP_APPID"])
    ]
    # The same person finds it in the mini program too.
    listed = requests.get(f"{stack.backend}/api/orders", headers=mini_auth, timeout=10).json()
    assert [order["id"] for order in listed["orders"]] == [order_id]


def test_an_app_sign_in_code_works_once_and_only_for_the_app(stack):
    minted, signed = app_sign_in(stack)
    assert signed.status_code == 200
    again = requests.post(f"{stack.backend}/api/app/login", json={"code": minted["code"]})
    assert again.status_code == 401 and again.json()["error"]["code"] == "INVALID_CODE"
    assert again.json()["error"]["wechat_errcode"] == "40163"
    # A mini program's wx.login code is not the app's, nor an official account's.
    for code in (stack.mint_code(), "not-a-code"):
        refused = requests.post(f"{stack.backend}/api/app/login", json={"code": code})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "INVALID_CODE"
    assert requests.post(f"{stack.backend}/api/app/login", json={}).status_code == 400
    assert stack.query("select count(*) from users") == [(1,)]  # the app's first sign-in


def test_a_wrong_app_secret_is_wechats_refusal_and_never_shown(make_stack, caplog):
    wrong = "f" * 32
    stack = make_stack(backend_settings={"WECHAT_APP_SECRET": wrong})
    _, signed = app_sign_in(stack)
    assert signed.status_code == 502 and signed.json()["error"]["code"] == "WECHAT_ERROR"
    assert signed.json()["error"]["wechat_errcode"] == "40125"
    # The backend's log (the simulator's access log is WeChat's side, which does see it).
    ours = [r.getMessage() for r in caplog.records if r.name.split(".")[0] == "server"]
    assert ours and wrong not in signed.text and not [m for m in ours if wrong in m]
    assert stack.query("select count(*) from users") == [(0,)]


def test_without_an_app_secret_there_is_no_app_sign_in(make_stack):
    stack = make_stack(backend_settings={"WECHAT_APP_SECRET": ""})
    _, signed = app_sign_in(stack)
    assert signed.status_code == 404 and signed.json()["error"]["code"] == "NOT_FOUND"
