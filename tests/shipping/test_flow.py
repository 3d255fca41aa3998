"""Shipping info (小程序发货信息管理) over real HTTP against the simulator, on SQLite and
PostgreSQL: the shared access token, uploads of each logistics type, WeChat's one-change rule,
lost answers, the message push, and the user's confirmation of receipt."""

import json
import threading
import time

import pytest
import requests

from sandbox.weixin.push import push_request
from server.clients import miniprogram_api
from server.domain import access_tokens
from server.extensions import db
from tests.support import wait_for
from tests.support.concurrency import at_once
from tests.support.shipping import ship


@pytest.fixture
def stack(make_stack):
    return make_stack()


def paid_order(stack, openid=None):
    auth = stack.login(openid)
    created = stack.create_order(auth).json()
    stack.cashier(created["pay_params"])
    order_id = created["order"]["id"]
    wait_for(lambda: stack.order(auth, order_id).json()["order"]["status"] == "PAID")
    return auth, stack.order(auth, order_id).json()["order"]


def wechat_order(stack, order):
    """What the simulator (WeChat) says of the order: get_order, asked directly."""
    with stack.app.app_context():
        token = access_tokens.current_token(miniprogram_api())
    return requests.post(
        f"{stack.sandbox}/wxa/sec/order/get_order",
        params={"access_token": token},
        json={"transaction_id": order["transaction_id"]},
    ).json()


def stable_token_calls(stack):
    return requests.get(f"{stack.sandbox}/sandbox/access-token").json()["stable_token_calls"]


def test_one_token_refresh_for_many_concurrent_callers(stack):
    def get():
        with stack.app.app_context():
            token = access_tokens.current_token(miniprogram_api())
            db.session.remove()
        return token

    tokens = at_once([get] * 16)  # an error in any call fails the test
    assert len(tokens) == 16 and len(set(tokens)) == 1
    assert stable_token_calls(stack) == 1


@pytest.mark.parametrize("action", ["expire", "rotate"])
def test_a_rejected_token_is_refreshed_once_and_the_call_retried(stack, action):
    assert "yes" in stack.cli("shipping", "managed")
    stack.control("access-token", action=action)  # 42001 expired / 40001 replaced elsewhere
    assert "yes" in stack.cli("shipping", "managed")
    assert stable_token_calls(stack) == 2
    stack.control("shipping/managed", managed=False)
    assert "no:" in stack.cli("shipping", "managed")
    assert stable_token_calls(stack) == 2


@pytest.mark.parametrize(
    "logistics,args,expected",
    [
        (
            "express",
            ["--package", "SF1234567890:SF", "--receiver-contact", "189****1234"],
            [{"tracking_no": "SF1234567890", "express_company": "SF"}],
        ),
        (
            "express",
            ["--package", "YT001:YTO", "--package", "ZT002:ZTO"],
            [
                {"tracking_no": "YT001", "express_company": "YTO"},
                {"tracking_no": "ZT002", "express_company": "ZTO"},
            ],
        ),
        ("local", [], [{}]),
        ("virtual", [], [{}]),
        ("pickup", [], [{}]),
    ],
)
def test_each_logistics_type_is_uploaded(stack, logistics, args, expected):
    auth, order = paid_order(stack)
    code, output = ship(stack, order["id"], "--logistics", logistics, *args)
    assert code == 0 and "SHIPPED" in output, output
    wechat = wechat_order(stack, order)["order"]
    assert wechat["order_state"] == 2
    sent = wechat["shipping"]["shipping_list"]
    assert [{k: p[k] for k in e} for p, e in zip(sent, expected, strict=False)] == expected
    assert wechat["shipping"]["delivery_mode"] == (2 if len(expected) > 1 else 1)
    shown = stack.order(auth, order["id"]).json()["order"]["shipping"]
    assert (
        shown["status"] == "SHIPPED"
        and shown["logistics_type"]
        == {"express": 1, "local": 2, "virtual": 3, "pickup": 4}[logistics]
    )
    assert "contact" not in json.dumps(shown)  # the phone stays with the shop


@pytest.mark.parametrize(
    "args,message",
    [
        (["--logistics", "express"], "tracking_no"),
        (["--logistics", "express", "--package", "SF1:SF"], "SF Express needs"),
        (
            ["--logistics", "local", "--package", "A1:YTO", "--package", "A2:YTO"],
            "only express deliveries can be split",
        ),
        (["--logistics", "virtual", "--item-desc", "x" * 121], "item_desc"),
        (["--logistics", "drone"], "drone"),
    ],
)
def test_bad_shipping_input_is_refused_and_records_nothing(stack, args, message):
    _, order = paid_order(stack)
    code, output = ship(stack, order["id"], *args)
    assert code != 0 and message in output, output
    assert stack.query("SELECT count(*) FROM shipments")[0][0] == 0
    assert wechat_order(stack, order)["order"]["order_state"] == 1


def test_an_unpaid_order_cannot_be_shipped(stack):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    code, output = ship(stack, order["id"], "--logistics", "virtual")
    assert code != 0 and "ORDER_NOT_SHIPPABLE" in output


def test_shipping_changes_once_and_only_once(stack):
    _, order = paid_order(stack)
    assert ship(stack, order["id"], "--logistics", "express", "--package", "YT1:YTO")[0] == 0
    code, output = ship(stack, order["id"], "--logistics", "express", "--package", "YT2:YTO")
    assert code == 0 and "SHIPPED" in output
    assert (
        wechat_order(stack, order)["order"]["shipping"]["shipping_list"][0]["tracking_no"] == "YT2"
    )
    code, output = ship(stack, order["id"], "--logistics", "express", "--package", "YT3:YTO")
    assert code != 0 and "CHANGE_NOT_ALLOWED" in output
    # WeChat enforces the rule too: a third upload sent anyway is refused with 10060003.
    with stack.app.app_context():
        token = access_tokens.current_token(miniprogram_api())
        openid = stack.query("SELECT openid FROM users")[0][0]
    answer = requests.post(
        f"{stack.sandbox}/wxa/sec/order/upload_shipping_info",
        params={"access_token": token},
        json={
            "order_key": {"order_number_type": 2, "transaction_id": order["transaction_id"]},
            "logistics_type": 3,
            "delivery_mode": 1,
            "shipping_list": [{"item_desc": "voucher"}],
            "upload_time": "2099-01-01T00:00:00.000+08:00",
            "payer": {"openid": openid},
        },
    ).json()
    assert answer["errcode"] == 10060003
    assert stack.query("SELECT status, upload_count FROM shipments")[0] == ("SHIPPED", 2)


def test_an_upload_whose_answer_was_lost_is_found_not_resent(stack):
    _, order = paid_order(stack)
    stack.control("faults", kind="api", path="/wxa/sec/order/upload_shipping_info", delay=3)
    code, output = ship(stack, order["id"], "--logistics", "virtual")
    assert code == 75 and "PENDING" in output and "UNKNOWN_OUTCOME" in output  # try later
    time.sleep(1.5)  # WeChat finishes the upload the backend stopped waiting for
    assert "found-shipped" in stack.cli("shipping", "sync")
    assert stack.query("SELECT status, upload_count FROM shipments")[0] == ("SHIPPED", 1)
    # No second upload reached WeChat: the one change is still there to use.
    assert wechat_order(stack, order)["order"]["shipping"]["finish_shipping_count"] == 0


def test_a_payment_wechat_does_not_know_yet_is_uploaded_by_the_job(stack):
    _, order = paid_order(stack)
    stack.control(
        "faults",
        kind="api",
        path="/wxa/sec/order/upload_shipping_info",
        status=200,
        body={"errcode": 10060001, "errmsg": "支付单不存在"},
    )
    code, output = ship(stack, order["id"], "--logistics", "virtual")
    assert code == 75 and "PENDING" in output and "10060001" in output
    assert "SHIPPED" in stack.cli("shipping", "sync")
    assert wechat_order(stack, order)["order"]["order_state"] == 2


def test_virtual_goods_ship_automatically_when_configured(make_stack):
    stack = make_stack(SHIPPING_AUTO_VIRTUAL="true")
    _, order = paid_order(stack)
    assert "SHIPPED" in stack.cli("shipping", "sync")
    wechat = wechat_order(stack, order)["order"]
    assert wechat["order_state"] == 2 and wechat["shipping"]["logistics_type"] == 3


# --- message push -------------------------------------------------------------------------


def push_url(stack):
    return f"{stack.backend}/api/wechat/push"


def test_push_url_handshake_answers_only_our_signature(stack):
    from server.wechat import push

    token, timestamp = stack.settings["WECHAT_PUSH_TOKEN"], str(int(time.time()))
    good = {
        "signature": push.signature(token, timestamp, "n1"),
        "timestamp": timestamp,
        "nonce": "n1",
        "echostr": "8765309",
    }
    answer = requests.get(push_url(stack), params=good)
    assert answer.status_code == 200 and answer.text == "8765309"
    forged = requests.get(push_url(stack), params={**good, "signature": "0" * 40})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "PUSH_BAD_SIGNATURE"
    stale_time = str(int(time.time()) - 3600)
    stale = requests.get(
        push_url(stack),
        params={
            **good,
            "timestamp": stale_time,
            "signature": push.signature(token, stale_time, "n1"),
        },
    )
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "PUSH_STALE"


def settlement(order, **fields):
    return {
        "ToUserName": "gh_test",
        "FromUserName": "o_wechat_system",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "trade_manage_order_settlement",
        "transaction_id": order["transaction_id"],
        "merchant_trade_no": order["out_trade_no"],
        **fields,
    }


def test_encrypted_push_is_decrypted_and_applied_once(stack):
    auth, order = paid_order(stack)
    ship(stack, order["id"], "--logistics", "virtual")
    now = int(time.time())
    body, params = push_request(
        stack.settings,
        settlement(order, confirm_receive_method=2, confirm_receive_time=now, settlement_time=now),
    )
    assert json.loads(body).keys() == {"ToUserName", "Encrypt"}
    for _ in range(3):  # WeChat resends a push it thinks we missed
        answer = requests.post(push_url(stack), params=params, data=body)
        assert answer.status_code == 200 and answer.text == "success"
    assert (
        stack.query(
            "SELECT count(*) FROM shipping_events WHERE source = 'push' "
            "AND event_type = 'PUSH.trade_manage_order_settlement' "
            "AND payload LIKE '%confirm_receive_time%'"
        )[0][0]
        == 1
    )
    shipping = stack.order(auth, order["id"]).json()["order"]["shipping"]
    assert shipping["wechat_state"] == 4 and shipping["settled_at"]


def test_forged_or_plaintext_pushes_change_nothing(stack):
    _, order = paid_order(stack)
    ship(stack, order["id"], "--logistics", "virtual")
    wait_for(
        lambda: stack.query("SELECT count(*) FROM shipping_events WHERE source = 'push'")[0][0] == 1
    )  # WeChat's "shipped"
    before = stack.query("SELECT count(*) FROM shipping_events")[0][0]
    message = settlement(order, settlement_time=int(time.time()))
    body, params = push_request(stack.settings, message)
    tampered = json.loads(body)
    tampered["Encrypt"] = tampered["Encrypt"][:-8] + "AAAAAAA="
    cases = [
        (params, json.dumps(tampered), "PUSH_BAD_SIGNATURE"),
        ({**params, "msg_signature": "0" * 40}, body, "PUSH_BAD_SIGNATURE"),
        # Plaintext, validly signed: refused, the deployment runs the secure mode.
        (
            push_request({**stack.settings, "WECHAT_PUSH_AES_KEY": ""}, message)[1],
            json.dumps(message),
            "PUSH_NOT_ENCRYPTED",
        ),
        (params, b"[1, 2]", "INVALID_PUSH"),
        (params, b"{" * 5000, "INVALID_PUSH"),
    ]
    for query, data, code in cases:
        answer = requests.post(push_url(stack), params=query, data=data)
        assert answer.status_code in (400, 401) and answer.json()["error"]["code"] == code
    # Encrypted for another mini program: signature fine, appid wrong.
    other = push_request({**stack.settings, "WECHAT_APPID": "wx0000000000000000"}, message)
    answer = requests.post(push_url(stack), params=other[1], data=other[0])
    assert answer.json()["error"]["code"] == "PUSH_WRONG_APPID"
    assert stack.query("SELECT count(*) FROM shipping_events")[0][0] == before
    assert stack.query("SELECT wechat_state FROM shipments")[0][0] in (None, 2)


def test_plaintext_mode_when_no_aes_key_is_configured(make_stack):
    stack = make_stack(WECHAT_PUSH_AES_KEY="")
    auth, order = paid_order(stack)
    ship(stack, order["id"], "--logistics", "virtual")
    body, params = push_request(
        stack.settings, settlement(order, confirm_receive_time=int(time.time()))
    )
    assert requests.post(push_url(stack), params=params, data=body).text == "success"
    assert stack.order(auth, order["id"]).json()["order"]["shipping"]["wechat_state"] == 3


def test_ship_then_the_user_confirms_receipt_and_the_order_settles(stack):
    """The whole loop: WeChat pushes the shipment, the user confirms in WeChat's component,
    WeChat pushes the settlement, and the mini program's sync shows it."""
    auth, order = paid_order(stack)
    ship(stack, order["id"], "--logistics", "express", "--package", "ZT9:ZTO")
    wait_for(
        lambda: stack.query("SELECT count(*) FROM shipping_events WHERE source = 'push'")[0][0] == 1
    )
    stack.control("shipping/confirm", transaction_id=order["transaction_id"])
    wait_for(
        lambda: stack.order(auth, order["id"]).json()["order"]["shipping"]["wechat_state"] == 4
    )
    synced = requests.post(f"{stack.backend}/api/orders/{order['id']}/shipping/sync", headers=auth)
    assert synced.status_code == 200
    shipping = synced.json()["order"]["shipping"]
    assert shipping["wechat_state"] == 4 and shipping["received_at"] and shipping["settled_at"]
    assert stack.cli("shipping", "sync").strip() == "shipping: {}"  # settled: nothing to do


def test_a_settlement_pushed_after_get_order_saw_it_still_records_its_times(make_stack):
    """get_order may show the order settled before WeChat's push arrives; the push's times
    (which get_order does not carry) are still recorded."""
    stack = make_stack(SANDBOX_PUSH_URL="")  # the simulator pushes nothing: the test does
    auth, order = paid_order(stack)
    ship(stack, order["id"], "--logistics", "virtual")
    stack.control("shipping/confirm", transaction_id=order["transaction_id"])
    synced = requests.post(
        f"{stack.backend}/api/orders/{order['id']}/shipping/sync", headers=auth
    ).json()["order"]["shipping"]
    assert synced["wechat_state"] == 4 and synced["settled_at"] is None
    now = int(time.time())
    body, params = push_request(
        stack.settings,
        settlement(order, confirm_receive_method=2, confirm_receive_time=now, settlement_time=now),
    )
    assert requests.post(push_url(stack), params=params, data=body).text == "success"
    shipping = stack.order(auth, order["id"]).json()["order"]["shipping"]
    assert shipping["wechat_state"] == 4 and shipping["received_at"] and shipping["settled_at"]


def test_sync_of_an_unshipped_order_is_refused(stack):
    auth, order = paid_order(stack)
    answer = requests.post(f"{stack.backend}/api/orders/{order['id']}/shipping/sync", headers=auth)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "ORDER_NOT_SHIPPED"


def test_an_upload_in_flight_is_not_sent_again_by_the_job(stack):
    """The job meets a shipment whose first upload is still waiting for WeChat: it leaves it
    alone (a second upload would spend WeChat's one change)."""
    _, order = paid_order(stack)
    stack.control("faults", kind="api", path="/wxa/sec/order/upload_shipping_info", delay=1.5)
    shipped = {}
    first = threading.Thread(
        target=lambda: shipped.update(answer=ship(stack, order["id"], "--logistics", "virtual"))
    )
    first.start()
    wait_for(lambda: stack.query("SELECT status FROM shipments") == [("UPLOADING",)])
    assert stack.cli("shipping", "sync").strip() == "shipping: {}"
    first.join()
    assert "SHIPPED" in shipped["answer"][1]
    assert stack.query("SELECT status, upload_count FROM shipments")[0] == ("SHIPPED", 1)
    assert wechat_order(stack, order)["order"]["shipping"]["finish_shipping_count"] == 0


def test_a_pending_change_is_not_taken_for_shipped(stack):
    """WeChat shows the order shipped (the first upload), not the change still pending: the
    change stays pending until it is really uploaded."""
    auth, order = paid_order(stack)
    ship(stack, order["id"], "--logistics", "express", "--package", "SF1:YTO")
    stack.control(
        "faults",
        kind="api",
        path="/wxa/sec/order/upload_shipping_info",
        status=200,
        body={"errcode": -1, "errmsg": "system busy"},
    )
    code, output = ship(stack, order["id"], "--logistics", "express", "--package", "NEW2:YTO")
    assert code == 75 and "PENDING" in output
    synced = requests.post(f"{stack.backend}/api/orders/{order['id']}/shipping/sync", headers=auth)
    assert synced.json()["order"]["shipping"]["status"] == "PENDING"
    assert "SHIPPED" in stack.cli("shipping", "sync")  # the job uploads the change
    assert (
        wechat_order(stack, order)["order"]["shipping"]["shipping_list"][0]["tracking_no"] == "NEW2"
    )
    assert stack.query("SELECT status, upload_count FROM shipments")[0] == ("SHIPPED", 2)
