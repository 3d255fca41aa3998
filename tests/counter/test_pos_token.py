"""A POS terminal's token (docs/counter.md, "The POS terminal's endpoint"), SQLite and
PostgreSQL: an admin makes it in the console (shown once, stored hashed), a terminal sells with
it over real HTTP against the backend and the simulator, with no cookie and no CSRF token; it
reaches nothing else (no refund), a revoked or wrong token is refused with a stable code, and
failures are rate limited per address like logins."""

import re

import pytest
import requests

from tests.support import counter as c
from tests.support import wait_for
from tests.support.console import PASSWORD, ConsoleClient, make_staff

CASHIER, ADMIN, OPERATOR = "till@shop.test", "admin@shop.test", "operator@shop.test"


@pytest.fixture
def make_shop(make_stack):
    def make(**settings):
        stack = make_stack(**c.FAST, **settings)
        for email, role in ((CASHIER, "cashier"), (ADMIN, "admin"), (OPERATOR, "operator")):
            make_staff(stack.app, email, role)
        stack.admin = ConsoleClient(stack.app)
        assert stack.admin.login(ADMIN, PASSWORD).status_code == 302
        return stack

    return make


@pytest.fixture
def shop(make_shop):
    return make_shop()


def staff_id(stack, email):
    return stack.query("SELECT id FROM staff_users WHERE email = :e", e=email)[0][0]


def make_token(stack, email=CASHIER, name="Till 1"):
    page = stack.admin.post("/console/tokens", {"staff_id": staff_id(stack, email), "name": name})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    return re.search(r'id="new-token">([^<]+)<', page.text).group(1)


def pos(stack, method, path, token, **kwargs):
    return requests.request(
        method,
        f"{stack.backend}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        **kwargs,
    )


def test_a_terminal_sells_with_its_token_over_http_and_nothing_else(shop):
    token = make_token(shop)
    assert re.fullmatch(r"pos_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}", token)
    [(key, secret_hash, store)] = shop.query("SELECT key, secret_hash, store FROM staff_tokens")
    assert token.startswith(f"pos_{key}.") and secret_hash.startswith("$argon2id$")
    assert token.split(".")[1] not in secret_hash and store is None
    assert token not in shop.admin.get("/console/tokens").text  # shown once
    created = pos(
        shop,
        "POST",
        "/console/api/counter/sales",
        token,
        json={"items": [{"product_id": 1, "quantity": 2}], "auth_code": c.pin_pays(3)},
    )
    assert created.status_code == 201, created.text
    assert "Set-Cookie" not in created.headers  # no session is made for a terminal
    sale = created.json()["sale"]

    def final():
        answer = pos(shop, "GET", f"/console/api/counter/sales/{sale['order_id']}", token)
        assert answer.status_code == 200
        return answer.json()["sale"] if answer.json()["sale"]["final"] else None

    done = wait_for(final, timeout=20)
    assert (done["state"], done["order_status"]) == ("SUCCESS", "PAID")
    [(details,)] = shop.query("SELECT details FROM audit_log WHERE action = 'counter.sale'")
    [(token_id, used)] = shop.query("SELECT id, last_used_at FROM staff_tokens")
    assert f'"token": {token_id}' in details and used is not None
    [(actor,)] = shop.query("SELECT actor FROM audit_log WHERE action = 'counter.sale'")
    assert actor == CASHIER
    # The token takes payments, nothing else: no refund, no reverse, no other page.
    order_id = sale["order_id"]
    for method, path, data in (
        ("POST", f"/console/orders/{order_id}/refund", {"amount": "1", "reason": "x"}),
        ("POST", f"/console/orders/{order_id}/reverse", {"confirm": "y"}),
        ("GET", "/console/orders", None),
        ("GET", "/console/tokens", None),
    ):
        answer = pos(shop, method, path, token, data=data)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "TOKEN_NOT_ALLOWED"
    assert shop.query("SELECT count(*) FROM refunds")[0][0] == 0
    assert shop.query("SELECT status FROM orders WHERE id = :id", id=order_id) == [("PAID",)]
    denied = shop.query("SELECT actor, target FROM audit_log WHERE action = 'denied'")
    assert (CASHIER, f"/console/orders/{order_id}/refund") in denied


def test_a_revoked_or_wrong_token_is_refused_with_a_stable_code(shop):
    token = make_token(shop)
    [(token_id,)] = shop.query("SELECT id FROM staff_tokens")
    body = {"amount": 990, "auth_code": c.code(c.PAYS)}
    assert shop.admin.post(f"/console/tokens/{token_id}/revoke").status_code == 302
    assert shop.admin.post(f"/console/tokens/{token_id}/revoke").status_code == 302  # once
    refused = pos(shop, "POST", "/console/api/counter/sales", token, json=body)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "TOKEN_REVOKED"
    for wrong in (
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # the right key, a wrong secret
        "pos_0000000000000000." + "A" * 43,
        "not-a-token",
    ):
        answer = pos(shop, "POST", "/console/api/counter/sales", wrong, json=body)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "TOKEN_INVALID"
    assert shop.query("SELECT count(*) FROM orders")[0][0] == 0
    assert shop.query(
        "SELECT actor, action FROM audit_log WHERE action LIKE 'token.%' ORDER BY id"
    ) == [(ADMIN, "token.create"), (ADMIN, "token.revoke"), (CASHIER, "token.refused")]
    [(revoked_by,)] = shop.query("SELECT revoked_by FROM staff_tokens")
    assert revoked_by == ADMIN


def test_tokens_are_for_active_cashier_accounts_only(shop):
    page = shop.admin.post(
        "/console/tokens", {"staff_id": staff_id(shop, OPERATOR), "name": "Till 9"}
    )
    assert page.status_code == 400 and 'id="new-token"' not in page.text
    token = make_token(shop)
    shop.cli("staff", "disable", CASHIER)
    answer = pos(shop, "GET", "/console/api/counter/sales/1", token)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "TOKEN_INVALID"
    operator = ConsoleClient(shop.app)
    assert operator.login(OPERATOR, PASSWORD).status_code == 302
    assert operator.get("/console/tokens").status_code == 403


@pytest.mark.database_agnostic
def test_failed_tokens_are_rate_limited_per_address_like_logins(make_shop):
    shop = make_shop(CONSOLE_LOGIN_RATE_LIMIT="3 per minute")
    token = make_token(shop)
    for _ in range(5):  # a terminal polling with a good token is not counted
        answer = pos(shop, "GET", "/console/api/counter/sales/1", token)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "ORDER_NOT_FOUND"
    for _ in range(3):
        answer = pos(shop, "GET", "/console/api/counter/sales/1", "pos_bad")
        assert answer.status_code == 401
    blocked = pos(shop, "GET", "/console/api/counter/sales/1", "pos_bad")
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "RATE_LIMITED"
    # Over the limit, the address waits, whatever it sends.
    assert pos(shop, "GET", "/console/api/counter/sales/1", token).status_code == 429
