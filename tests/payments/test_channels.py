"""Ways to pay as data (server/channels.py): a v3 and a v2 channel side by side in one
deployment, each order served by its own channel's gateway from checkout to the bill; and
WeChat's messages checked against the order's channel, not the settings of the moment.

The second channel is a row of settings: ``legacy``, the same merchant and mini program on API
v2 (``WECHATPAY_CHANNELS=legacy``, ``WECHATPAY_CHANNEL_LEGACY_API_VERSION=v2``), as a merchant
keeps a counter or an older app on v2 while the mini program moves to v3. The mini program's
API places orders on its own channel; a product's surface names its channel to checkout, as
``on_channel`` does here.
"""

import pytest
import requests
from sqlalchemy import select

from server import config
from server.channels import BUILDERS, checkout_context, read
from server.config import ConfigError
from server.domain import checkout, payments
from server.extensions import db
from server.models import Product, User
from server.wechatpay import crypto
from server.wechatpay.core import types as gw
from server.wechatpay.v2.messages import dict_to_xml
from tests.support import factories, wait_for
from tests.support.notifications import signed_notification, transaction_for
from tests.support.orders import expire

LEGACY = {"WECHATPAY_CHANNELS": "legacy", "WECHATPAY_CHANNEL_LEGACY_API_VERSION": "v2"}


@pytest.fixture
def stack(make_stack):
    return make_stack(**LEGACY)


def on_channel(stack, channel, openid):
    """A new order on ``channel`` for the mini program's user ``openid``:
    (auth, order id, out_trade_no, pay_params)."""
    auth = stack.login(openid)
    with stack.app.app_context():
        user = db.session.execute(select(User).filter_by(openid=openid)).scalar_one()
        product = db.session.execute(select(Product).order_by(Product.id)).scalars().first()
        done = checkout.create(
            user,
            [(product.id, 1)],
            key=None,
            client_ip="127.0.0.1",
            context=checkout_context(channel),
        )
        return auth, done.order.id, done.order.out_trade_no, done.pay_params


def at_wechat(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"]


def status(stack, order_id):
    return stack.query("SELECT status FROM orders WHERE id = :id", id=order_id)[0][0]


def delivered_to(stack, out_trade_no):
    """The paths WeChat posted this order's acknowledged notifications to."""
    return {
        requests.utils.urlparse(n["url"]).path
        for n in stack.notifications()
        if n["out_trade_no"] == out_trade_no and n["acknowledged"]
    }


def test_v3_and_v2_channels_serve_their_own_orders_end_to_end(stack):
    backend = stack.backend
    # Checkout: each channel places with its own gateway and the order records it.
    _, v3_id, v3_no, v3_params = on_channel(stack, "miniprogram", "o-side-v3")
    _, v2_id, v2_no, v2_params = on_channel(stack, "legacy", "o-side-v2")
    assert v3_params["signType"] == "RSA" and v2_params["signType"] == "MD5"
    assert stack.query(
        "SELECT channel, trade_type, api_version, payer_openid FROM orders ORDER BY id"
    ) == [("miniprogram", "JSAPI", "v3", "o-side-v3"), ("legacy", "JSAPI", "v2", "o-side-v2")]
    assert (at_wechat(stack, v3_no)["api_version"], at_wechat(stack, v2_no)["api_version"]) == (
        "v3",
        "v2",
    )

    # Paid at the cashier; each notification comes to its channel's URL, verified by its gateway.
    for pay_params in (v3_params, v2_params):
        assert stack.cashier(pay_params).status_code == 200
    wait_for(lambda: (status(stack, v3_id), status(stack, v2_id)) == ("PAID", "PAID"))
    wait_for(lambda: delivered_to(stack, v2_no))
    assert delivered_to(stack, v3_no) == {"/api/pay/notify"}
    assert delivered_to(stack, v2_no) == {"/api/pay/notify/legacy"}

    # Queried: notifications lost, the sync job asks each order's own gateway (the simulator
    # keeps v3 and v2 orders apart, so a v2 order asked through v3 would be unknown there).
    queried = {}
    for channel in ("miniprogram", "legacy"):
        _, order_id, number, pay_params = on_channel(stack, channel, f"o-query-{channel}")
        stack.control("faults", kind="notify", action="drop", out_trade_no=number)
        stack.cashier(pay_params)
        queried[order_id] = number
    assert "'paid': 2" in stack.cli("payments", "sync", "--older-than", "0")
    assert {status(stack, order_id) for order_id in queried} == {"PAID"}

    # Closed: abandoned orders of both channels are closed with WeChat first, each its way.
    closed = {}
    for channel in ("miniprogram", "legacy"):
        _, order_id, number, _ = on_channel(stack, channel, f"o-close-{channel}")
        expire(stack, order_id)
        closed[order_id] = number
    assert "closed 2 of 2" in stack.cli("payments", "close-expired")
    for order_id, number in closed.items():
        assert status(stack, order_id) == "CLOSED"
        assert at_wechat(stack, number)["trade_state"] == "CLOSED"

    # Refunded: each through its gateway (v2 over mutual TLS), each refund notification at its
    # channel's URL.
    for order_id in (v3_id, v2_id):
        stack.cli("refund", str(order_id), "--amount", "500", "--reason", "少了一袋")
    wait_for(
        lambda: (
            stack.query("SELECT status FROM refunds ORDER BY order_id")
            == [("SUCCESS",), ("SUCCESS",)]
        )
    )
    paths = {
        requests.utils.urlparse(n["url"]).path
        for n in stack.notifications()
        if n["acknowledged"] and "refund" in n["url"]
    }
    assert paths == {"/api/refund/notify", "/api/refund/notify/legacy"}
    assert [r["amount"]["refund"] for r in at_wechat(stack, v2_no)["refunds"]] == [500]

    # Reconciled: one merchant, one bill with both versions' orders, and nothing differs.
    report = stack.cli("bills", "reconcile", "--date", "today")
    assert "CLEAN" in report, report
    assert "ours 4 = " in report and "refunds   WeChat 2 " in report, report

    # The API shows each order's channel.
    auth = stack.login("o-side-v2")
    shown = requests.get(f"{backend}/api/orders/{v2_id}", headers=auth).json()["order"]
    assert (shown["channel"], shown["trade_type"]) == ("legacy", "JSAPI")


def v2_notification(stack, out_trade_no, total, **changes):
    fields = {
        "appid": stack.settings["WECHAT_APPID"],
        "mch_id": stack.settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "openid": "o-anyone",
        "trade_type": "JSAPI",
        "total_fee": total,
        "fee_type": "CNY",
        "transaction_id": "4200000000202612070000000077",
        "out_trade_no": out_trade_no,
        "time_end": "20261207123005",
        **changes,
    }
    fields["sign"] = crypto.v2_sign(fields, stack.settings["WECHATPAY_API_KEY"], "MD5")
    return dict_to_xml(fields)


def refused_events(stack):
    return stack.query(
        "SELECT o.channel, e.event_type FROM payment_events e JOIN orders o ON o.id = e.order_id "
        "ORDER BY e.id"
    )


def test_a_notification_for_another_appid_or_merchant_is_refused_kept_and_changes_nothing(stack):
    _, v3_id, v3_no, _ = on_channel(stack, "miniprogram", "o-wrong-v3")
    _, v2_id, v2_no, _ = on_channel(stack, "legacy", "o-wrong-v2")
    total = stack.query("SELECT total FROM orders WHERE id = :id", id=v3_id)[0][0]
    v3_order = {"out_trade_no": v3_no, "total": total}
    for wrong in ({"appid": "wx0000000000000000"}, {"mchid": "1230000109"}):
        headers, body = signed_notification(
            stack.settings, transaction_for(stack.settings, v3_order, **wrong)
        )
        for _ in range(2):  # WeChat resends what it was refused: kept once
            response = requests.post(f"{stack.backend}/api/pay/notify", data=body, headers=headers)
            assert response.status_code == 400 and response.json()["code"] == "FAIL"
    for n, wrong in enumerate(({"appid": "wx0000000000000000"}, {"mch_id": "1230000109"})):
        # v2 messages are told apart by their transaction_id (v2 has no notification id).
        wrong["transaction_id"] = f"420000000020261207000000009{n}"
        response = requests.post(
            f"{stack.backend}/api/pay/notify/legacy",
            data=v2_notification(stack, v2_no, total, **wrong),
            headers={"Content-Type": "text/xml"},
        )
        assert response.status_code == 400 and b"MERCHANT_MISMATCH" in response.content
    assert refused_events(stack) == [
        ("miniprogram", "REFUSED.MERCHANT_MISMATCH"),
        ("miniprogram", "REFUSED.MERCHANT_MISMATCH"),
        ("legacy", "REFUSED.MERCHANT_MISMATCH"),
        ("legacy", "REFUSED.MERCHANT_MISMATCH"),
    ]
    assert (status(stack, v3_id), status(stack, v2_id)) == ("NOTPAY", "NOTPAY")
    # The genuine one, at the channel's URL, pays it.
    response = requests.post(
        f"{stack.backend}/api/pay/notify/legacy",
        data=v2_notification(stack, v2_no, total),
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 200 and status(stack, v2_id) == "PAID"


def test_a_channel_the_settings_lack_has_no_notify_url(stack):
    response = requests.post(f"{stack.backend}/api/pay/notify/nosuch", data=b"<xml></xml>")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "CHANNEL_NOT_FOUND"
    response = requests.post(f"{stack.backend}/api/refund/notify/nosuch", data=b"{}")
    assert response.status_code == 404


# --- the order's channel, not the settings of the moment (domain, no HTTP) ----------------------


def paid_transaction(order, **ids):
    return gw.Transaction(
        out_trade_no=order.out_trade_no,
        trade_state=gw.SUCCESS,
        total=order.total,
        transaction_id=f"42000000002026120700{order.id:08d}",
        openid="o-qr-payer",
        **ids,
    )


def test_what_an_order_recorded_decides_whose_payment_it_is(domain_app):
    """An order placed for another appid than today's WECHAT_APPID (an official account, or
    the mini program before its appid setting changed) is paid by WeChat's word for that
    appid, and refused for the settings' appid; the payer comes from the notification when
    checkout did not know them."""
    config = domain_app.config
    order = factories.paid_order(
        channel={**factories.miniprogram(), "channel": "oa", "appid": "wxofficialaccount01"}
    )
    order.status, order.transaction_id, order.paid_at, order.payer_openid = (
        "NOTPAY",
        None,
        None,
        None,
    )
    db.session.commit()

    def apply(**ids):
        return payments.apply_transaction(
            paid_transaction(order, **ids),
            source="notify",
            dedupe_key=f"test:{ids}",
            event_type="TRANSACTION.SUCCESS",
            payload={},
        )

    ids = {"appid": config["WECHAT_APPID"], "mchid": config["WECHATPAY_MCHID"]}
    with pytest.raises(payments.PaymentMismatch) as refused:
        apply(**ids)
    assert refused.value.code == "MERCHANT_MISMATCH"
    with pytest.raises(payments.PaymentMismatch):  # a sub-merchant the order has not
        apply(**{**ids, "appid": "wxofficialaccount01", "sub_mchid": "1900000109"})
    assert apply(**{**ids, "appid": "wxofficialaccount01"}) == "paid"
    db.session.refresh(order)
    assert (order.status, order.payer_openid) == ("PAID", "o-qr-payer")


def test_a_channel_is_a_row_of_settings(dev_keys):
    values = config.load(
        {**dev_keys, **LEGACY, "WECHATPAY_NOTIFY_URL": "https://shop.test/api/pay/notify"}
    )
    channels = {channel.name: channel for channel in read(values)}
    # The default first, then the products' built-in channels, then the declared ones.
    assert list(channels) == [name for name in [*BUILDERS, "legacy"] if name in channels]
    assert list(channels)[-1] == "legacy"
    assert channels["counter"].trade_type == "MICROPAY"  # built in
    assert channels["miniprogram"].notify_url == "https://shop.test/api/pay/notify"
    assert channels["miniprogram"].refund_notify_url == "https://shop.test/api/refund/notify"
    assert channels["miniprogram"].api_version == "v3"
    legacy = channels["legacy"]
    assert (legacy.trade_type, legacy.appid, legacy.mchid, legacy.api_version) == (
        "JSAPI",
        dev_keys["WECHAT_APPID"],
        dev_keys["WECHATPAY_MCHID"],
        "v2",
    )
    assert legacy.notify_url == "https://shop.test/api/pay/notify/legacy"
    assert legacy.refund_notify_url == "https://shop.test/api/refund/notify/legacy"
    for bad, named in (
        ({"WECHATPAY_CHANNEL_LEGACY_TRADE_TYPE": "CASH"}, "WECHATPAY_CHANNEL_LEGACY_TRADE_TYPE"),
        ({"WECHATPAY_CHANNEL_LEGACY_API_VERSION": "v4"}, "WECHATPAY_CHANNEL_LEGACY_API_VERSION"),
        ({"WECHATPAY_CHANNEL_TYPO_APPID": "wx1"}, "WECHATPAY_CHANNEL_TYPO_APPID"),
        ({"WECHATPAY_CHANNELS": "Legacy"}, "WECHATPAY_CHANNELS"),
        ({"WECHATPAY_CHANNELS": "miniprogram"}, "WECHATPAY_CHANNELS"),
        (
            {"WECHATPAY_CHANNEL_LEGACY_NOTIFY_URL": "https://shop.test/n?x=1"},
            "WECHATPAY_CHANNEL_LEGACY_NOTIFY_URL",
        ),
        (
            {"WECHATPAY_CHANNEL_LEGACY_REFUND_NOTIFY_URL": "ftp://shop.test/r"},
            "WECHATPAY_CHANNEL_LEGACY_REFUND_NOTIFY_URL",
        ),
        ({"WECHATPAY_CHANNEL_LEGACY_MCHID": "1900000999"}, "WECHATPAY_CHANNEL_LEGACY_MCHID"),
    ):
        with pytest.raises(ConfigError, match=named):
            config.load({**dev_keys, **LEGACY, **bad})
    refund_url = "https://shop.test/api/refund/notify/old"
    values = config.load(
        {**dev_keys, **LEGACY, "WECHATPAY_CHANNEL_LEGACY_REFUND_NOTIFY_URL": refund_url}
    )
    assert {c.name: c for c in read(values)}["legacy"].refund_notify_url == refund_url
    # The mini program itself may stay on v2 while every other channel moves to v3.
    values = config.load({**dev_keys, "WECHATPAY_CHANNEL_MINIPROGRAM_API_VERSION": "v2"})
    assert read(values)[0].api_version == "v2"
