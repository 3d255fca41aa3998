"""The staff console through Flask's test client, on SQLite and PostgreSQL: logging in, the
security refusals (CSRF, expired or ended sessions, roles, rate limit, lockout), forms and their
validation, and the actions against the simulator. The browser tests are in test_browser.py."""

import time
from datetime import timedelta

import pytest
import requests

from server import create_app
from server.console.forms import fen_to_yuan, yuan_to_fen
from server.domain.catalogue import DEMO_CATALOGUE
from server.extensions import db
from server.models import AuditLog, Order, Product, StaffUser
from server.timeutil import utcnow
from tests.support.console import ADMIN, OPERATOR, PASSWORD, ConsoleClient, staffed

COFFEE = DEMO_CATALOGUE[0]["name"]  # product 1, 18.00 yuan


def rows(app, model, *where):
    with app.app_context():
        found = db.session.execute(db.select(model).where(*where)).scalars().all()
        db.session.expunge_all()
        return found


def product(app, product_id=1):
    with app.app_context():
        return db.session.get(Product, product_id).to_json()


def audit_actions(app):
    return [entry.action for entry in rows(app, AuditLog)]


@pytest.mark.parametrize(
    "text, fen",
    [
        ("12", 1200),
        ("12.5", 1250),
        ("12.50", 1250),
        ("0.01", 1),
        ("0.1", 10),
        (" 1,000.00 ", 100000),
        ("10000000", 10**9),
    ],
)
def test_yuan_is_converted_to_fen_exactly(text, fen):
    assert yuan_to_fen(text) == fen
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "0",
        "0.00",
        "-1",
        "12.345",
        "1e3",
        "NaN",
        "Infinity",
        "12.",
        ".5",
        "10000000.01",
        "١٢",
        "1 2",
    ],
)
def test_anything_else_is_not_an_amount(text):
    with pytest.raises(ValueError):
        yuan_to_fen(text)


@pytest.mark.database_agnostic
def test_pages_need_a_login(app):
    client = ConsoleClient(app)
    for path in (
        "/console/",
        "/console/orders",
        "/console/catalogue",
        "/console/audit",
        "/console/attention",
        "/console/orders/1",
    ):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith(
            "/console/login?next="
        ), path


@pytest.mark.database_agnostic
def test_login_sets_a_safe_session_cookie_and_logout_ends_it(app):
    client = ConsoleClient(app)
    answer = client.login(ADMIN)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # development runs over plain http
    assert client.get("/console/").status_code == 200
    assert client.post("/console/logout").status_code == 302
    assert client.get("/console/").status_code == 302
    assert audit_actions(app) == ["login", "logout"]


def test_production_marks_the_session_cookie_secure(production):
    app = create_app(production)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_wrong_password_is_refused_and_recorded(app):
    client = ConsoleClient(app)
    answer = client.login(ADMIN, "not the password")
    assert answer.status_code == 401 and "Wrong email or password" in answer.text
    assert client.login("nobody@shop.test").status_code == 401  # same answer for no account
    assert client.get("/console/").status_code == 302
    failed = rows(app, AuditLog)
    assert [(e.actor, e.action, e.details_dict()) for e in failed] == [
        (ADMIN, "login.failed", {"code": "BAD_CREDENTIALS"}),
        ("nobody@shop.test", "login.failed", {"code": "BAD_CREDENTIALS"}),
    ]


def test_repeated_failures_lock_the_account_until_a_reset(app):
    client = ConsoleClient(app)
    for _ in range(4):
        assert client.login(ADMIN, "wrong").status_code == 401
    answer = client.login(ADMIN, "wrong")  # the fifth (CONSOLE_LOCKOUT_FAILURES)
    assert answer.status_code == 401 and "Too many failed logins" in answer.text
    assert "Too many failed logins" in client.login(ADMIN).text  # even the right password
    [user] = rows(app, StaffUser, StaffUser.email == ADMIN)
    assert user.locked_until is not None and user.failed_logins == 0
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=["staff", "reset-password", ADMIN], input="a brand new password\n" * 2
        )
    assert result.exit_code == 0, result.output
    assert client.login(ADMIN, "a brand new password").status_code == 302


def test_the_lockout_ends_by_itself(app):
    client = ConsoleClient(app)
    for _ in range(5):
        client.login(OPERATOR, "wrong")
    with app.app_context():
        db.session.execute(
            db.update(StaffUser).values(  # 15 minutes later
                locked_until=utcnow() - timedelta(seconds=1)
            )
        )
        db.session.commit()
    assert client.login(OPERATOR).status_code == 302


@pytest.mark.database_agnostic
def test_logins_from_one_address_are_rate_limited(make_app):
    client = ConsoleClient(make_app(CONSOLE_LOGIN_RATE_LIMIT="3 per minute"))
    statuses = [client.login(ADMIN, "wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert client.login(ADMIN).status_code == 429  # the right password waits too


def test_a_disabled_account_loses_its_session_at_once(app, operator):
    assert operator.get("/console/").status_code == 200
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["staff", "disable", OPERATOR])
    assert result.exit_code == 0 and "disabled" in result.output
    assert operator.get("/console/").status_code == 302
    assert ConsoleClient(app).login(OPERATOR).status_code == 401


@pytest.mark.database_agnostic
def test_next_only_leads_inside_the_console(app):
    client = ConsoleClient(app)
    token = client.token("/console/login")
    for target, expected in [
        ("/console/orders", "/console/orders"),
        ("//evil.example/console/", "/console/"),
        ("https://evil.example/", "/console/"),
        ("/console/\\\\evil.example", "/console/"),
    ]:
        answer = client.client.post(
            f"/console/login?next={requests.utils.quote(target)}",
            data={"email": ADMIN, "password": PASSWORD, "csrf_token": token},
        )
        assert answer.headers["Location"] == expected, target
        client.post("/console/logout")
        token = client.token("/console/login")


def test_editing_a_product_changes_it_and_is_audited(app, admin):
    answer = admin.post(
        "/console/catalogue/1",
        {"name": "手冲咖啡 (大杯)", "description": "Bigger.", "price": "21.5", "active": "y"},
    )
    assert answer.status_code == 302
    assert product(app) == {
        "id": 1,
        "name": "手冲咖啡 (大杯)",
        "description": "Bigger.",
        "price": 2150,
        "ships": False,
    }
    [entry] = [e for e in rows(app, AuditLog) if e.action == "product.update"]
    assert entry.actor == ADMIN and entry.target == "product:1" and entry.ip == "127.0.0.1"
    assert entry.details_dict()["before"]["price"] == 1800
    assert entry.details_dict()["after"]["price"] == 2150


def test_creating_and_deactivating_products(app, admin):
    assert (
        admin.post(
            "/console/catalogue/new", {"name": "Green tea", "price": "9.9", "active": "y"}
        ).status_code
        == 302
    )
    [tea] = rows(app, Product, Product.name == "Green tea")
    assert tea.price == 990 and tea.active
    assert (
        admin.post(
            f"/console/catalogue/{tea.id}", {"name": "Green tea", "price": "9.90"}
        ).status_code
        == 302
    )  # the "On sale" box left unticked
    [tea] = rows(app, Product, Product.name == "Green tea")
    assert not tea.active
    api = app.test_client().get("/api/products").get_json()["products"]
    assert "Green tea" not in [p["name"] for p in api]


@pytest.mark.database_agnostic
def test_a_bad_price_is_a_form_error_and_nothing_is_written(app, admin):
    before = product(app)
    for price, message in [
        ("12.345", "at most two decimals"),
        ("abc", "like 12.50"),
        ("0", "more than 0"),
        ("-5", "like 12.50"),
        ("1e3", "like 12.50"),
        ("", "like 12.50"),
        ("99999999", "at most 10,000,000 yuan"),
    ]:
        answer = admin.post(
            "/console/catalogue/1", {"name": "Changed", "price": price, "active": "y"}
        )
        assert answer.status_code == 400 and message in answer.text, price
    assert product(app) == before
    assert "product.update" not in audit_actions(app)


@pytest.mark.database_agnostic
def test_a_missing_name_is_a_form_error(app, admin):
    answer = admin.post("/console/catalogue/new", {"name": "", "price": "1"})
    assert answer.status_code == 400 and "This field is required" in answer.text
    assert len(rows(app, Product)) == len(DEMO_CATALOGUE)


@pytest.mark.database_agnostic
def test_a_form_without_its_csrf_token_is_refused(app, admin):
    before = product(app)
    for token in (False, "wrong-token"):
        answer = admin.post(
            "/console/catalogue/1", {"name": "Hacked", "price": "0.01", "active": "y"}, token=token
        )
        assert answer.status_code == 400 and "security token" in answer.text
    assert product(app) == before


@pytest.mark.database_agnostic
def test_a_token_from_another_session_is_refused(app, admin, operator):
    stolen = operator.token()
    answer = admin.post("/console/catalogue/1", {"name": "Hacked", "price": "1"}, token=stolen)
    assert answer.status_code == 400
    assert product(app)["name"] == COFFEE


def test_an_operator_cannot_change_the_catalogue(app, operator):
    before = product(app)
    answer = operator.post(
        "/console/catalogue/1", {"name": "Cheap", "price": "0.01", "active": "y"}
    )
    assert answer.status_code == 403 and "needs the admin role" in answer.text
    assert product(app) == before
    assert operator.get("/console/catalogue/new").status_code == 403
    assert operator.get("/console/catalogue").status_code == 200  # viewing is fine
    denied = [e for e in rows(app, AuditLog) if e.action == "denied"]
    assert [(e.actor, e.target) for e in denied] == [
        (OPERATOR, "/console/catalogue/1"),
        (OPERATOR, "/console/catalogue/new"),
    ]


@pytest.mark.database_agnostic
def test_an_ended_session_changes_nothing(app, admin):
    token = admin.token()
    admin.client.delete_cookie("session")  # what the browser does once the session expires
    answer = admin.post("/console/catalogue/1", {"name": "Late", "price": "1"}, token=token)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/login"
    assert product(app)["name"] == COFFEE


@pytest.mark.database_agnostic
def test_an_expired_session_cookie_is_not_accepted(make_app):
    client = ConsoleClient(make_app(CONSOLE_SESSION_SECONDS="1"))
    client.login(ADMIN)
    time.sleep(2.1)  # the signed cookie is now older than its lifetime (the browser keeps it)
    assert client.get("/console/").status_code == 302


def test_order_filters_and_search(app, admin):
    for term in ("#2147483647", "99999999999", "' OR 1=1 --"):
        assert "No orders match" in admin.get("/console/orders", query_string={"q": term}).text
    assert "No orders match" in admin.get("/console/orders?status=PAID").text
    answer = admin.get("/console/orders?start=not-a-date")
    assert answer.status_code == 200 and "Not a valid date value" in answer.text
    assert admin.get("/console/orders?page=999").status_code == 200
    assert admin.get("/console/orders/2147483647").status_code == 404


def test_staff_cli(app):
    runner = app.test_cli_runner()
    with app.app_context():
        made = runner.invoke(
            args=["staff", "create", "New@Shop.test", "--role", "operator", "--generate"]
        )
        assert made.exit_code == 0, made.output
        assert "created operator new@shop.test" in made.output
        password = made.output.split("store it now): ")[1].strip()
        again = runner.invoke(
            args=["staff", "create", "new@shop.test", "--role", "admin", "--generate"]
        )
        assert again.exit_code != 0 and "already has an account" in again.output
        bad = runner.invoke(args=["staff", "create", "x@y.z", "--role", "owner", "--generate"])
        assert bad.exit_code != 0
        weak = runner.invoke(
            args=["staff", "create", "w@shop.test", "--role", "admin"], input="short\nshort\n"
        )
        assert weak.exit_code != 0 and "at least 12 characters" in weak.output
        missing = runner.invoke(args=["staff", "disable", "ghost@shop.test"])
        assert missing.exit_code != 0 and "no staff account" in missing.output
    assert ConsoleClient(app).login("new@shop.test", password).status_code == 302
    [user] = rows(app, StaffUser, StaffUser.email == "new@shop.test")
    assert user.password_hash.startswith("$argon2id$") and password not in user.password_hash
    assert ("cli", "staff.create") in [(e.actor, e.action) for e in rows(app, AuditLog)]


# -- actions against the simulator ----------------------------------------------------------


def wechat_state(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"][
        "trade_state"
    ]


def test_an_operator_syncs_a_payment_whose_notification_was_lost(stack):
    admin, operator = staffed(stack)
    created = stack.create_order(stack.login()).json()
    order_id = created["order"]["id"]
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    assert stack.query("SELECT status FROM orders") == [("NOTPAY",)]
    answer = operator.post(f"/console/orders/{order_id}/sync", follow_redirects=True)
    assert "it says the order is paid" in answer.text
    assert stack.query("SELECT status FROM orders") == [("PAID",)]
    assert "QUERY.SUCCESS" in answer.text  # on the order's timeline
    assert stack.query(
        "SELECT actor, action, target FROM audit_log WHERE action = 'order.sync'"
    ) == [(OPERATOR, "order.sync", f"order:{order_id}")]


def age(stack, order_id, minutes):
    with stack.app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order_id)
            .values(created_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()


def test_an_admin_closes_an_unpaid_order_with_wechat_first(stack):
    admin, operator = staffed(stack)
    order = stack.create_order(stack.login()).json()["order"]
    path = f"/console/orders/{order['id']}/close"
    assert operator.post(path).status_code == 403
    too_soon = admin.post(path, follow_redirects=True)
    assert "does not close an order in its first 5 minutes" in too_soon.text
    assert wechat_state(stack, order["out_trade_no"]) == "NOTPAY"
    age(stack, order["id"], minutes=6)
    confirm = admin.get(path)
    assert confirm.status_code == 200 and "Close this unpaid order?" in confirm.text
    assert stack.query("SELECT status FROM orders") == [("NOTPAY",)]  # asking changes nothing
    answer = admin.post(path, follow_redirects=True)
    assert "The order is closed" in answer.text
    assert stack.query("SELECT status FROM orders") == [("CLOSED",)]
    assert wechat_state(stack, order["out_trade_no"]) == "CLOSED"
    again = admin.post(path, follow_redirects=True)
    assert "Only an unpaid order can be closed" in again.text


def test_close_keeps_the_order_open_when_wechat_refuses(stack):
    admin, _ = staffed(stack)
    order = stack.create_order(stack.login()).json()["order"]
    age(stack, order["id"], minutes=6)
    stack.control(
        "faults",
        kind="api",
        path="/v3/pay/transactions/out-trade-no/",
        method="POST",
        status=500,
        code="SYSTEM_ERROR",
    )
    answer = admin.post(f"/console/orders/{order['id']}/close", follow_redirects=True)
    assert "Could not close the order: WeChat Pay answered SYSTEM_ERROR" in answer.text
    assert stack.query("SELECT status FROM orders") == [("NOTPAY",)]


def test_a_refused_payment_needs_attention_until_resolved_with_a_note(stack):
    from tests.support.notifications import signed_notification, transaction_for

    admin, operator = staffed(stack)
    order = stack.create_order(stack.login()).json()["order"]
    headers, body = signed_notification(
        stack.settings,
        transaction_for(stack.settings, order, amount={"total": order["total"] + 100}),
    )
    assert (
        requests.post(f"{stack.backend}/api/pay/notify", data=body, headers=headers).status_code
        == 400
    )
    [(event_id,)] = stack.query("SELECT id FROM payment_events")
    page = admin.get("/console/attention").text
    assert "REFUSED.AMOUNT_MISMATCH" in page and "Refused message: a different amount" in page
    assert 'Needs attention <span class="count">1</span>' in page
    path = f"/console/attention/payment_event/{event_id}/resolve"
    assert operator.post(path, {"note": "checked"}).status_code == 403
    assert "Write a note" in admin.post(path, {"note": " "}, follow_redirects=True).text
    assert stack.query("SELECT count(*) FROM attention_resolutions") == [(0,)]
    answer = admin.post(path, {"note": "Refunded the extra 1 yuan by hand"}, follow_redirects=True)
    assert "Resolved." in answer.text and "Refunded the extra 1 yuan by hand" in answer.text
    assert "Refused message: a different amount" not in answer.text
    again = admin.post(path, {"note": "twice"}, follow_redirects=True)
    assert "Someone resolved this already" in again.text
    assert stack.query("SELECT resolved_by, note FROM attention_resolutions") == [
        (ADMIN, "Refunded the extra 1 yuan by hand")
    ]
