"""The outsourcing shape (外包模式): the provider builds a sub-merchant's own mini program
(its appid is the store's ``sub_appid``); orders name the provider's ``sp_appid`` and the
store's sub_appid, the payer is a ``sub_openid``, and paySign's appId is the sub_appid, signed
with the provider's key. The simulator's cashier checks that appId, as WeChat's client does:
in v3 (RSA) and v2 (the provider's API key), where the wrong appId is the classic
"支付验证签名失败"."""

import pytest
import requests

from server.extensions import db
from server.models import Product
from server.wechatpay import crypto
from tests.support import wait_for

from .support import at_wechat, buy, status

STORE = "1900000301"
SP_APPID = "wxprovider00000001"


def outsourcing(stack_settings, version):
    mini_program = stack_settings["WECHAT_APPID"]  # the store's own mini program
    return {
        "WECHATPAY_MODE": "provider",
        "WECHATPAY_API_VERSION": version,
        "WECHATPAY_SP_APPID": SP_APPID,
        "WECHATPAY_STORES": "bakery",
        "WECHATPAY_STORE_BAKERY_SUB_MCHID": STORE,
        "WECHATPAY_STORE_BAKERY_SUB_APPID": mini_program,
        "WECHATPAY_STORE_BAKERY_NAME": "面包房",
        # At WeChat: sp_appid bound to the provider, the mini program to the sub-merchant.
        "SANDBOX_SP_APPIDS": SP_APPID,
        "SANDBOX_SUB_MERCHANTS": f"{STORE}:{mini_program}",
    }


def bakery_product(stack):
    with stack.app.app_context():
        product = Product(name="可颂", description="", price=1250, store="bakery")
        db.session.add(product)
        db.session.commit()
        return product.id


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_a_sub_merchants_own_mini_program_pays_with_sub_appid_and_sub_openid(
    make_stack, dev_keys, version
):
    stack = make_stack(**outsourcing(dev_keys, version))
    product_id = bakery_product(stack)
    mini_program = stack.settings["WECHAT_APPID"]
    _, answer = buy(stack, "o-eve", product_id)
    order = answer["order"]
    assert stack.query("SELECT appid, sub_mchid, sub_appid, api_version FROM orders") == [
        (SP_APPID, STORE, mini_program, version)
    ]
    seen = at_wechat(stack, order["out_trade_no"])
    assert seen["payer"] == {"sub_openid": "o-eve"}
    assert (seen["appid"], seen["mchid"], seen["sub_appid"]) == (SP_APPID, STORE, mini_program)

    # paySign's appId: the sub_appid. The same parameters signed for sp_appid are refused.
    params = answer["pay_params"]
    wrong = dict(params)
    if version == "v3":
        with open(stack.settings["WECHATPAY_PRIVATE_KEY"]) as pem:
            key = crypto.load_private_key(pem.read())
        wrong["paySign"] = crypto.v3_pay_sign(
            key, SP_APPID, params["timeStamp"], params["nonceStr"], params["package"]
        )
    else:
        fields = {k: params[k] for k in ("timeStamp", "nonceStr", "package", "signType")}
        wrong["paySign"] = crypto.v2_sign(
            {"appId": SP_APPID, **fields}, stack.settings["WECHATPAY_API_KEY"], params["signType"]
        )
    refused = stack.cashier(wrong)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "PAYSIGN_INVALID"
    assert stack.cashier(params).status_code == 200
    wait_for(lambda: status(stack, order["id"]) == "PAID")

    # Shipping info: the order was paid in the mini program (its sub_appid), so it is uploaded.
    stack.cli(
        "shipping",
        "ship",
        str(order["id"]),
        "--logistics",
        "express",
        "--package",
        "ZT1234567890:ZTO",
    )
    assert stack.query("SELECT status FROM shipments") == [("SHIPPED",)]

    # Refunded with the sub-merchant's ids, as the provider.
    stack.cli("refund", str(order["id"]), "--amount", "250", "--reason", "烤焦了")
    wait_for(lambda: stack.query("SELECT status FROM refunds") == [("SUCCESS",)])
    assert "CLEAN" in stack.cli("bills", "reconcile", "--date", "today")
    assert requests.get(f"{stack.backend}/api/stores").json()["stores"] == [
        {"name": "bakery", "title": "面包房"}
    ]


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_a_sub_merchants_refund_is_known_by_its_answer_and_query_alone(
    make_stack, dev_keys, version
):
    """WeChat's answer to a sub-merchant's refund, and its refund query, name the sub-merchant
    (v2: ``sub_mch_id``) and are the order's: applied, never refused as another merchant's.
    The refund stays PROCESSING at WeChat, so no notification can stand in for them (v2 once
    read the answer without sub_mch_id: MERCHANT_MISMATCH, and the refund stayed PENDING
    unless the notification happened to land first)."""
    stack = make_stack(**outsourcing(dev_keys, version))
    _, answer = buy(stack, "o-fay", bakery_product(stack))
    order = answer["order"]
    stack.cashier(answer["pay_params"])
    wait_for(lambda: status(stack, order["id"]) == "PAID")
    stack.control("faults", faults=[{"kind": "refund", "status": "PROCESSING"}])
    stack.cli("refund", str(order["id"]), "--amount", "300", "--reason", "少一个")
    assert stack.query("SELECT status FROM refunds") == [("PROCESSING",)]
    assert "unchanged" in stack.cli("refunds", "sync", "--older-than", "0")  # queried: PROCESSING
    (number,) = stack.query("SELECT out_refund_no FROM refunds")[0]
    stack.control(f"refunds/{number}", status="SUCCESS")
    wait_for(lambda: stack.query("SELECT status FROM refunds") == [("SUCCESS",)])
    events = stack.query("SELECT event_type FROM payment_events WHERE refund_id IS NOT NULL")
    assert not [e for (e,) in events if e.startswith("REFUSED")], events
    assert ("APPLY.PROCESSING",) in events and ("REFUND.SUCCESS",) in events
