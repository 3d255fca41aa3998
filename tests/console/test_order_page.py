"""The console's order page and Needs attention, drawn from orders built in the database
(tests/support/factories.py) through Flask's test client, on SQLite and PostgreSQL: what a
person sees of a shipped, partly refunded order, and what waits for a person."""

from server.console.views import attention_counts
from server.extensions import db
from server.models import Refund
from tests.support import factories
from tests.support.console import ADMIN, ConsoleClient


def test_the_page_of_a_shipped_partly_refunded_order(app, admin):
    with app.app_context():
        order = factories.shipped_order(tracking_no="SF1234567890", express_company="SF")
        refund = factories.refund(order, 500, reason="少了一袋")
        shown = {
            "id": order.id,
            "out_trade_no": order.out_trade_no,
            "transaction_id": order.transaction_id,
            "out_refund_no": refund.out_refund_no,
        }
    page = admin.get(f"/console/orders/{shown['id']}")
    assert page.status_code == 200
    for text in (
        shown["out_trade_no"],
        shown["transaction_id"],
        "¥18.00",  # the total
        '¥5.00 <span class="muted">· ¥13.00 left to refund</span>',
        shown["out_refund_no"],
        "少了一袋",
        '<span class="badge badge-shipped" title="SHIPPED">Shipped</span>',
        'data-wechat-state="2"><span title="2">shipped</span>',
        "SF1234567890",
        "1 of 2 uploads WeChat allows",
    ):
        assert text in page.text, text
    assert "Refund…" in page.text  # 13.00 is left, and an admin may refund it


def test_needs_attention_counts_what_waits_for_a_person(app, admin):
    with app.app_context():
        factories.refused_payment(factories.paid_order())
        abnormal = factories.refund(factories.paid_order(), 800, status=Refund.ABNORMAL)
        factories.refund_request(factories.paid_order())
        factories.refund(factories.paid_order(), 100, status=Refund.SUCCESS)  # nothing to do
        assert attention_counts() == {
            "refused_payments": 1,
            "abnormal_refunds": 1,
            "refund_requests": 1,
            "bill_differences": 0,
            "total": 2,  # on Needs attention; requests have a page of their own
        }
        abnormal_id = abnormal.id
    resolved = admin.post(
        f"/console/attention/refund/{abnormal_id}/resolve",
        {"note": "paid back by bank transfer"},
        token=admin.token("/console/attention"),
    )
    assert resolved.status_code == 302
    with app.app_context():
        counts = attention_counts()
    assert (counts["abnormal_refunds"], counts["total"]) == (0, 1)


def test_orders_show_their_channel_and_filter_by_it(make_app):
    """Each order shows the channel and trade type it was paid with; the list filters by
    channel (a v2 channel for the same merchant beside the mini program's, and an order of a
    channel no longer configured, which older orders may name)."""
    app = make_app(WECHATPAY_CHANNELS="legacy", WECHATPAY_CHANNEL_LEGACY_API_VERSION="v2")
    admin = ConsoleClient(app)
    admin.login(ADMIN)
    with app.app_context():
        mini = factories.paid_order()
        legacy = factories.paid_order(channel={**factories.miniprogram(), "channel": "legacy"})
        legacy.api_version = "v2"
        gone = factories.paid_order(
            channel={**factories.miniprogram(), "channel": "kiosk", "trade_type": "NATIVE"}
        )
        gone.payer_openid = None  # a QR code's payer is known only once paid
        db.session.commit()
        numbers = {o.channel: o.out_trade_no for o in (mini, legacy, gone)}
        legacy_id = legacy.id
    everything = admin.get("/console/orders")
    assert all(number in everything.text for number in numbers.values())
    for name in ("miniprogram", "legacy", "kiosk"):  # configured ones, and what orders name
        assert f'<option value="{name}">' in everything.text
    only = admin.get("/console/orders?channel=legacy")
    assert numbers["legacy"] in only.text
    assert numbers["miniprogram"] not in only.text and numbers["kiosk"] not in only.text
    page = admin.get(f"/console/orders/{legacy_id}")
    assert (
        '<span class="code">legacy</span> <span class="muted">· '
        '<span title="JSAPI">JSAPI (in WeChat)</span> · API v2</span>'
    ) in page.text
