"""The order page's shipping block against the simulator, through Flask's test client (SQLite
and PostgreSQL): recording each logistics type, a bad form that records nothing, WeChat's
one-change rule said in the form, and the sync. The browser test is in test_browser.py."""

import pytest
import requests

from server.clients import miniprogram_api
from server.domain import access_tokens
from tests.support import wait_for
from tests.support.console import ADMIN, staffed
from tests.support.orders import paid_order


def wechat_order(stack, order):
    """What the simulator (WeChat) says of the order: get_order, asked directly."""
    with stack.app.app_context():
        token = access_tokens.current_token(miniprogram_api())
    return requests.post(
        f"{stack.sandbox}/wxa/sec/order/get_order",
        params={"access_token": token},
        json={"transaction_id": order["transaction_id"]},
    ).json()["order"]


def ship_form(logistics="express", parcels=(), **fields):
    data = {"logistics": logistics, "item_desc": "Two coffees", "all_delivered": "y", **fields}
    for index, (tracking_no, carrier) in enumerate(parcels):
        data[f"parcels-{index}-tracking_no"] = tracking_no
        data[f"parcels-{index}-express_company"] = carrier
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    "logistics,parcels,expected",
    [
        ("express", [("YT100", "YTO")], [{"tracking_no": "YT100", "express_company": "YTO"}]),
        (
            "express",
            [("YT1", "YTO"), ("", ""), ("ZT2", "ZTO")],
            [
                {"tracking_no": "YT1", "express_company": "YTO"},
                {"tracking_no": "ZT2", "express_company": "ZTO"},
            ],
        ),
        ("local", [], [{}]),
        ("virtual", [], [{}]),
        ("pickup", [], [{}]),
    ],
)
def test_each_logistics_type_is_recorded_and_uploaded(stack, logistics, parcels, expected):
    admin, operator = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}"
    assert "Record shipping" in admin.get(path).text
    assert "Record shipping" not in operator.get(path).text
    done = admin.post(f"{path}/shipping", ship_form(logistics, parcels), follow_redirects=True)
    assert done.status_code == 200 and "Shipping recorded, and WeChat has it." in done.text
    wechat = wechat_order(stack, order)
    assert wechat["order_state"] == 2
    sent = wechat["shipping"]["shipping_list"]
    assert [{k: p[k] for k in e} for p, e in zip(sent, expected, strict=True)] == expected
    assert len(sent) == len(expected)
    assert stack.query("SELECT status, created_by, upload_count FROM shipments") == [
        ("SHIPPED", f"staff:{ADMIN}", 1)
    ]
    assert "Two coffees" in stack.query("SELECT packages FROM shipments")[0][0]
    assert "UPLOAD.OK" in done.text and logistics in done.text
    assert "1 of 2 uploads" in done.text and "Change shipping" in done.text
    [(details,)] = stack.query("SELECT details FROM audit_log WHERE action = 'order.ship'")
    assert f'"logistics": "{logistics}"' in details


@pytest.mark.parametrize(
    "form,message",
    [
        (ship_form("express"), "tracking_no"),
        (ship_form("express", [("SF1", "SF")]), "SF Express needs"),
        (ship_form("express", [("YT1", "")]), "express_company"),
        (ship_form("virtual", item_desc="x" * 121), "Field cannot be longer than 120"),
        (ship_form("virtual", item_desc=""), "Say what was shipped"),
        (ship_form("drone"), "Pick how it was shipped"),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_recorded(stack, form, message):
    admin, operator = staffed(stack)
    _, order = paid_order(stack)
    answer = admin.post(f"/console/orders/{order['id']}/shipping", form)
    assert answer.status_code == 400 and message in answer.text, answer.text[-3000:]
    assert 'value="YT1"' in answer.text or "YT1" not in str(form)  # what was typed stays
    assert stack.query("SELECT count(*) FROM shipments") == [(0,)]
    assert wechat_order(stack, order)["order_state"] == 1


def test_refusals_change_nothing(stack):
    admin, operator = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}/shipping"
    assert operator.post(path, ship_form("virtual")).status_code == 403
    assert admin.post(path, ship_form("virtual"), token="forged").status_code == 400
    unpaid = stack.create_order(stack.login()).json()["order"]
    answer = admin.post(
        f"/console/orders/{unpaid['id']}/shipping", ship_form("virtual"), follow_redirects=True
    )
    assert "Only a paid order can be shipped; this one is Unpaid" in answer.text
    assert stack.query("SELECT count(*) FROM shipments") == [(0,)]


def test_the_second_submission_is_the_one_change_and_the_third_is_refused(stack):
    admin, _ = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}/shipping"
    admin.post(path, ship_form("express", [("YT1", "YTO")]))
    page = admin.get(f"/console/orders/{order['id']}").text
    assert "Change shipping (WeChat allows this once)" in page
    assert 'name="parcels-0-tracking_no" type="text" value="YT1"' in page  # prefilled
    changed = admin.post(path, ship_form("express", [("YT2", "YTO")]), follow_redirects=True)
    assert "WeChat has it" in changed.text and "2 of 2 uploads" in changed.text
    assert "it is used: this shipment can no longer be changed" in changed.text
    assert wechat_order(stack, order)["shipping"]["shipping_list"][0]["tracking_no"] == "YT2"
    third = admin.post(path, ship_form("express", [("YT3", "YTO")]))
    assert third.status_code == 400
    assert "WeChat allows one change of an order&#39;s shipping, and it is used" in third.text
    assert wechat_order(stack, order)["shipping"]["shipping_list"][0]["tracking_no"] == "YT2"
    assert stack.query("SELECT status, upload_count FROM shipments") == [("SHIPPED", 2)]


def test_sync_shows_wechats_view_received_and_settled(stack):
    admin, operator = staffed(stack)
    _, order = paid_order(stack)
    path = f"/console/orders/{order['id']}"
    admin.post(f"{path}/shipping", ship_form("express", [("ZT9", "ZTO")]))
    stack.control("shipping/confirm", transaction_id=order["transaction_id"])
    synced = operator.post(f"{path}/shipping/sync", follow_redirects=True)
    assert "Synced with WeChat: the order is completed (settled)." in synced.text
    assert 'data-wechat-state="4"><span title="4">completed (settled)</span>' in synced.text
    assert "QUERY.4" in synced.text
    # The times come with WeChat's settlement push, which the simulator sends on its own
    # thread: before or after the sync's get_order.
    wait_for(
        lambda: (
            stack.query("SELECT received_at IS NOT NULL, settled_at IS NOT NULL FROM shipments")
            == [(True, True)]
        )
    )
    assert stack.query("SELECT actor FROM audit_log WHERE action = 'order.shipping_sync'")
