"""The centralised shape (中心化模式): the provider's own mini program sells for two stores
(sub-merchants); each checkout is one store's order, placed with the partner API as the
provider (sp_appid = the mini program, payer sp_openid), paid, notified, refunded and
reconciled as that store's."""

import requests

from tests.support import wait_for

from .support import CENTRALISED, NOODLES, TEA, add_store_products, at_wechat, buy, status


def test_two_users_buy_from_two_stores_end_to_end(make_stack):
    stack = make_stack(**CENTRALISED)
    products = add_store_products(stack)
    backend = stack.backend

    # The mini program lists the stores, and only what a store sells.
    stores = requests.get(f"{backend}/api/stores").json()
    assert stores == {
        "mode": "provider",
        "stores": [{"name": "tea", "title": "茶铺"}, {"name": "noodles", "title": "面馆"}],
    }
    listed = requests.get(f"{backend}/api/products").json()["products"]
    assert {p["store"] for p in listed} == {"tea", "noodles"}
    tea_only = requests.get(f"{backend}/api/products", params={"store": "tea"}).json()
    assert [p["id"] for p in tea_only["products"]] == [products["tea"]]

    # Two users, one at each store.
    _, tea = buy(stack, "o-alice", products["tea"])
    _, noodles = buy(stack, "o-bob", products["noodles"])
    rows = stack.query(
        "SELECT channel, appid, mchid, sub_mchid, sub_appid, payer_openid FROM orders ORDER BY id"
    )
    appid, sp_mchid = stack.settings["WECHAT_APPID"], stack.settings["WECHATPAY_MCHID"]
    assert rows == [
        ("store-tea", appid, sp_mchid, TEA, None, "o-alice"),
        ("store-noodles", appid, sp_mchid, NOODLES, None, "o-bob"),
    ]
    # At WeChat: each order is its sub-merchant's, placed by the provider, payer sp_openid.
    seen = at_wechat(stack, tea["order"]["out_trade_no"])
    assert (seen["mchid"], seen["sp_mchid"], seen["appid"]) == (TEA, sp_mchid, appid)
    assert seen["payer"] == {"sp_openid": "o-alice"}

    # A cart with both stores' products is refused: one checkout is one store's.
    auth = stack.login("o-carol")
    mixed = stack.create_order(
        auth,
        [
            {"product_id": products["tea"], "quantity": 1},
            {"product_id": products["noodles"], "quantity": 1},
        ],
    )
    assert mixed.status_code == 409 and mixed.json()["error"]["code"] == "CART_SPANS_STORES"
    # A product of no store cannot be paid for in a provider's shop (nor is it listed).
    plain = stack.query("SELECT id FROM products WHERE store IS NULL ORDER BY id")[0][0]
    lone = stack.create_order(auth, [{"product_id": plain, "quantity": 1}])
    assert lone.status_code == 404 and lone.json()["error"]["code"] == "PRODUCT_NOT_FOUND"

    # Paid at the cashier (paySign's appId: the provider's mini program); each notification
    # comes to its store's channel URL and lands on its order.
    for answer in (tea, noodles):
        assert stack.cashier(answer["pay_params"]).status_code == 200
    ids = (tea["order"]["id"], noodles["order"]["id"])
    wait_for(lambda: [status(stack, i) for i in ids] == ["PAID", "PAID"])
    paths = {
        requests.utils.urlparse(n["url"]).path for n in stack.notifications() if n["acknowledged"]
    }
    assert paths == {"/api/pay/notify/store-tea", "/api/pay/notify/store-noodles"}
    events = stack.query(
        "SELECT o.sub_mchid, e.event_type FROM payment_events e JOIN orders o "
        "ON o.id = e.order_id ORDER BY o.id"
    )
    assert events == [(TEA, "TRANSACTION.SUCCESS"), (NOODLES, "TRANSACTION.SUCCESS")]

    # A refund of the tea shop's order goes out with its sub_mchid (WeChat finds the order
    # under the sub-merchant only) and settles.
    stack.cli("refund", str(ids[0]), "--amount", "1000", "--reason", "少了一杯")
    wait_for(lambda: stack.query("SELECT status FROM refunds") == [("SUCCESS",)])
    refunds = at_wechat(stack, tea["order"]["out_trade_no"])["refunds"]
    assert [r["amount"]["refund"] for r in refunds] == [1000]

    # A missed notification: the sync job queries the partner API (sp_mchid + sub_mchid).
    _, late = buy(stack, "o-dave", products["noodles"])
    stack.control(
        "faults", kind="notify", action="drop", out_trade_no=late["order"]["out_trade_no"]
    )
    stack.cashier(late["pay_params"])
    assert "'paid': 1" in stack.cli("payments", "sync", "--older-than", "0")
    assert status(stack, late["order"]["id"]) == "PAID"

    # Reconciled: the provider's bill (both stores' lines) and each store's part of it
    # (sub_mchid), each against that store's orders; nothing differs.
    report = stack.cli("bills", "reconcile", "--date", "today")
    runs = stack.query(
        "SELECT mchid, status, payments_wechat, payments_ours, paid_total_ours, "
        "refunds_wechat, refunded_total_ours FROM reconciliation_runs ORDER BY id"
    )
    assert runs == [
        (sp_mchid, "CLEAN", 3, 3, 3200 + 2 * 2500, 1, 1000),
        (TEA, "CLEAN", 1, 1, 3200, 1, 1000),
        (NOODLES, "CLEAN", 2, 2, 2 * 2500, 0, 0),
    ], report
