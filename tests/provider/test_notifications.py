"""Partner notifications checked against the order's channel: a genuine (signed, encrypted
with the provider's APIv3 key) notification naming another store's sub_mchid, or another
provider's sp_mchid, is refused, kept for a person, and changes nothing."""

import requests

from tests.support.notifications import signed_notification

from .support import CENTRALISED, NOODLES, TEA, add_store_products, buy, status


def partner_resource(stack, order, **changes):
    resource = {
        "sp_appid": stack.settings["WECHAT_APPID"],
        "sp_mchid": stack.settings["WECHATPAY_MCHID"],
        "sub_mchid": TEA,
        "out_trade_no": order["out_trade_no"],
        "transaction_id": "4200001234202612070000000101",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-12-07T10:34:56+08:00",
        "payer": {"sp_openid": "o-alice"},
        "amount": {"total": order["total"], "payer_total": order["total"], "currency": "CNY"},
    }
    resource.update(changes)
    return resource


def test_another_stores_or_providers_notification_is_refused_and_changes_nothing(make_stack):
    stack = make_stack(**CENTRALISED)
    products = add_store_products(stack)
    _, tea = buy(stack, "o-alice", products["tea"])
    order = tea["order"]
    url = f"{stack.backend}/api/pay/notify/store-tea"
    for n, wrong in enumerate(({"sub_mchid": NOODLES}, {"sp_mchid": "1230000109"})):
        wrong["transaction_id"] = f"42000012342026120700000002{n}"
        headers, body = signed_notification(stack.settings, partner_resource(stack, order, **wrong))
        for _ in range(2):  # WeChat resends what it was refused: kept once
            response = requests.post(url, data=body, headers=headers)
            assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert (
        stack.query("SELECT order_id, event_type FROM payment_events ORDER BY id")
        == [(order["id"], "REFUSED.MERCHANT_MISMATCH")] * 2
    )
    assert status(stack, order["id"]) == "NOTPAY"
    assert stack.query("SELECT transaction_id, paid_at FROM orders") == [(None, None)]

    # The genuine one (the store's sub_mchid, the provider's sp_mchid) pays it.
    headers, body = signed_notification(stack.settings, partner_resource(stack, order))
    assert requests.post(url, data=body, headers=headers).status_code == 204
    assert status(stack, order["id"]) == "PAID"
