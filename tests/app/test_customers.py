"""Customers: one person across the mini program and an official account, when WeChat gives a
unionid (server/domain/customers.py, server/models/users.py), on SQLite and PostgreSQL."""

import requests

from server.domain import customers
from server.extensions import db
from server.models import Customer, User
from tests.support import factories
from tests.support.concurrency import at_once

OFFICIAL_ACCOUNT = "wxofficialaccount01"  # another app of the same open-platform account


def login(stack, openid, unionid=None):
    """The mini program's login (jscode2session through the simulator), as the page does it."""
    body = {"openid": openid, **({"unionid": unionid} if unionid else {})}
    code = requests.post(f"{stack.sandbox}/sandbox/login-code", json=body).json()["code"]
    response = requests.post(f"{stack.backend}/api/login", json={"code": code})
    assert response.status_code == 200, response.text
    return response.json()["user"]["id"], {"Authorization": f"Bearer {response.json()['token']}"}


def people(stack):
    """(appid, openid, the customer's unionid) of every user, by customer."""
    return stack.query(
        "SELECT c.id, u.appid, u.openid, c.unionid FROM users u "
        "JOIN customers c ON c.id = u.customer_id ORDER BY c.id, u.id"
    )


def test_a_unionid_makes_two_wechat_users_one_customer(stack):
    appid = stack.settings["WECHAT_APPID"]
    # The mini program's user pays, before WeChat gives a unionid (the apps not yet bound).
    mini_user, auth = login(stack, "o-mini-amy")
    order = stack.create_order(auth).json()["order"]
    # The same person in the official account (issue 20's web authorisation), with a unionid,
    # and an order there.
    with stack.app.app_context():
        oa_user = customers.sign_in(OFFICIAL_ACCOUNT, "o-oa-amy", unionid="u-amy")
        oa_order = factories.paid_order(
            buyer=oa_user,
            channel={**factories.miniprogram(), "channel": "oa", "appid": OFFICIAL_ACCOUNT},
        )
        oa_number = oa_order.out_trade_no
    assert len({customer for customer, *_ in people(stack)}) == 2

    # The mini program's login now says the unionid: one customer, both users kept.
    again, auth = login(stack, "o-mini-amy", unionid="u-amy")
    assert again == mini_user
    rows = people(stack)
    assert len({customer for customer, *_ in rows}) == 1
    assert [row[1:] for row in rows] == [
        (appid, "o-mini-amy", "u-amy"),
        (OFFICIAL_ACCOUNT, "o-oa-amy", "u-amy"),
    ]
    assert stack.query("SELECT count(*) FROM customers") == [(1,)]
    # The customer's orders, wherever they were placed; each is paid where it was placed.
    listed = requests.get(f"{stack.backend}/api/orders", headers=auth).json()["orders"]
    assert {o["out_trade_no"] for o in listed} == {order["out_trade_no"], oa_number}
    oa_id = next(o["id"] for o in listed if o["out_trade_no"] == oa_number)
    pay = requests.post(f"{stack.backend}/api/orders/{oa_id}/pay", headers=auth)
    assert pay.status_code == 409 and pay.json()["error"]["code"] == "ORDER_NOT_PAYABLE"

    # A new user whose first login brings a known unionid joins that customer at once.
    with stack.app.app_context():
        app_user = customers.sign_in("wxmobileapp000001", "o-app-amy", unionid="u-amy")
        assert app_user.customer_id == db.session.get(User, mini_user).customer_id
    # Without a unionid, another person is a customer of their own.
    login(stack, "o-mini-ben")
    assert stack.query("SELECT count(*) FROM customers") == [(2,)]


def test_a_unionid_never_moves_a_user_out_of_a_customer_with_another(domain_app):
    first = customers.sign_in("wxminiprogram0001", "o-cat", unionid="u-cat")
    other = customers.sign_in("wxofficialaccount01", "o-cat-oa", unionid="u-someone-else")
    moved = customers.sign_in("wxminiprogram0001", "o-cat", unionid="u-someone-else")
    assert moved.customer_id == first.customer_id != other.customer_id
    assert db.session.get(Customer, first.customer_id).unionid == "u-cat"


def test_first_logins_of_one_person_in_two_apps_at_once_make_one_customer(domain_app):
    def sign_in(appid, openid):
        def call():
            with domain_app.app_context():
                user = customers.sign_in(appid, openid, unionid="u-dan", session_key="k")
                customer = user.customer_id
                db.session.remove()
                return customer

        return call

    calls = [sign_in(f"wxapp{n:013d}", f"o-dan-{n}") for n in range(6)]
    assert len(set(at_once(calls))) == 1
    db.session.remove()
    assert db.session.query(Customer).count() == 1
    assert db.session.query(User).count() == 6
