"""The shop's staff in Chromium: an order of beans with its delivery address, the phone masked
in the list and found by its last 4 digits, the shipping form prefilled with it; the console
in Chinese, as the shop uses it."""

import re

import pytest
import requests

from tests.support import wait_for
from tests.support.browser import DESKTOP, expect
from tests.support.console import PASSWORD, make_staff

pytestmark = pytest.mark.database_agnostic


ADDRESS = {
    "name": "张三",
    "phone": "13800005678",
    "province": "广东省",
    "city": "广州市",
    "district": "海珠区",
    "detail": "新港中路397号",
}


def paid_beans(stack):
    auth = stack.login("o-beans-buyer")
    beans = next(p for p in stack.products() if p["ships"])
    body = {"items": [{"product_id": beans["id"], "quantity": 1}], "address": ADDRESS}
    created = requests.post(f"{stack.backend}/api/orders", json=body, headers=auth).json()
    stack.cashier(created["pay_params"])
    order_id = created["order"]["id"]
    return wait_for(
        lambda: (o := stack.order(auth, order_id).json()["order"])["status"] == "PAID" and o
    )


def test_an_order_with_its_address_in_chinese(stack, open_page):
    admin = make_staff(stack.app, "zh-admin@shop.test", "admin", language="zh_Hans")
    order = paid_beans(stack)
    page = open_page(DESKTOP)
    page.goto(f"{stack.backend}/console/login")
    page.fill("#email", admin)
    page.fill("#password", PASSWORD)
    page.click("form:has(#password) button[type=submit]")
    page.goto(f"{stack.backend}/console/orders")
    expect(page.locator("h1")).to_have_text("订单")

    rows = page.locator("table.orders tbody tr")
    expect(rows.first).to_contain_text("138****5678")
    expect(page.locator("table.orders")).not_to_contain_text("13800005678")
    page.fill("#q", "5678")
    page.click("button[type=submit].primary")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(order["out_trade_no"])
    expect(rows.first).to_contain_text("张三")
    page.fill("#q", "0000")  # middle digits find nothing
    page.click("button[type=submit].primary")
    expect(rows).to_have_count(0)

    page.goto(f"{stack.backend}/console/orders/{order['id']}")
    address = page.locator("dl.address")
    expect(page.locator("#address")).to_have_text("收货地址")
    expect(address).to_contain_text("张三")
    expect(address).to_contain_text("13800005678")
    expect(address).to_contain_text("广东省广州市海珠区新港中路397号")
    expect(page.locator("#receiver_contact")).to_have_value("138****5678")
    # SF Express, the phone already there: recorded and uploaded to WeChat.
    page.select_option("#logistics", "express")
    page.fill("#parcels-0-tracking_no", "SF1234567890")
    page.fill("#parcels-0-express_company", "SF")
    page.click("#shipping button[type=submit].primary")
    expect(page.locator(".flash-success")).to_be_visible()
    (packages,) = stack.query(
        "SELECT packages FROM shipments WHERE order_id = :id", id=order["id"]
    )[0]
    assert re.search(r'"receiver_contact": "138\*\*\*\*5678"', packages)
