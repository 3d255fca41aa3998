"""The console's language: Simplified Chinese by default, English on a switch kept on the staff
account; before logging in, the login page's switch or the browser's Accept-Language. The
API stays English whatever the browser asks for."""

import pytest

from server.extensions import db
from server.models import StaffUser
from tests.support.console import PASSWORD, ConsoleClient, make_staff

pytestmark = pytest.mark.database_agnostic


@pytest.mark.parametrize(
    ("accept", "lang", "says"),
    [
        (None, "zh-Hans", "登录"),  # no preference: Chinese
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "登录"),
        ("zh-TW", "zh-Hans", "登录"),  # the Chinese we have
        ("en-US,en;q=0.9", "en", "Log in"),
        ("fr-FR,en;q=0.5", "en", "Log in"),  # the first language of ours the browser takes
        ("fr-FR", "zh-Hans", "登录"),
    ],
)
def test_the_login_page_follows_the_browser(app, accept, lang, says):
    page = ConsoleClient(app, accept_language=accept).get("/console/login").text
    assert f'<html lang="{lang}">' in page and f"<h1>{says}</h1>" in page


def test_a_new_account_is_chinese_and_its_switch_is_kept_on_the_account(app):
    with app.app_context():
        from server.domain import staff

        staff.create("new@shop.test", "operator", PASSWORD)
        assert (
            db.session.execute(
                db.select(StaffUser.language).where(StaffUser.email == "new@shop.test")
            ).scalar_one()
            == "zh_Hans"
        )
    client = ConsoleClient(app, accept_language="en")  # the browser says English...
    client.login("new@shop.test")
    overview = client.get("/console/").text
    assert "<h1>概览</h1>" in overview  # ...the account says Chinese
    assert '<button class="link" type="submit" name="language" value="en" lang="en">English' in (
        overview
    )
    switched = client.post(
        "/console/language", {"language": "en", "next": "/console/orders"}, token=client.token()
    )
    assert switched.status_code == 302 and switched.headers["Location"] == "/console/orders"
    assert "<h1>Orders</h1>" in client.get("/console/orders").text
    with app.app_context():
        assert (
            db.session.execute(
                db.select(StaffUser.language).where(StaffUser.email == "new@shop.test")
            ).scalar_one()
            == "en"
        )
    # Kept on the account: another browser, another session, English too.
    other = ConsoleClient(app, accept_language="zh-CN")
    other.login("new@shop.test")
    assert "<h1>Overview</h1>" in other.get("/console/").text
    # Nonsense, an open redirect or a missing token change nothing.
    client.post("/console/language", {"language": "xx", "next": "https://evil.example/"})
    assert "<h1>Orders</h1>" in client.get("/console/orders").text
    refused = client.post("/console/language", {"language": "zh_Hans"}, token="forged")
    assert refused.status_code == 400
    assert "<h1>Orders</h1>" in client.get("/console/orders").text


def test_the_login_page_switch_lasts_until_logging_in(app):
    make_staff(app, "zh@shop.test", "admin", language="zh_Hans")
    client = ConsoleClient(app, accept_language=None)
    assert "<h1>登录</h1>" in client.get("/console/login").text
    token = client.token("/console/login")
    client.post("/console/language", {"language": "en", "next": "/console/login"}, token=token)
    assert "<h1>Log in</h1>" in client.get("/console/login").text
    failed = client.post(
        "/console/login", {"email": "zh@shop.test", "password": "wrong password!!"}, token=token
    )
    assert "Wrong email or password." in failed.text  # the refusal in the page's language
    client.login("zh@shop.test")
    assert "<h1>概览</h1>" in client.get("/console/").text  # now the account's language


def test_messages_and_errors_are_chinese(app):
    make_staff(app, "zh@shop.test", "operator", language="zh_Hans")
    client = ConsoleClient(app)
    failed = client.post(
        "/console/login",
        {"email": "zh@shop.test", "password": "nope"},
        token=client.token("/console/login"),
    )
    assert "邮箱或密码错误" not in failed.text  # the login page follows the browser: English
    client = ConsoleClient(app, accept_language="zh-CN")
    failed = client.post(
        "/console/login",
        {"email": "zh@shop.test", "password": "nope"},
        token=client.token("/console/login"),
    )
    assert "邮箱或密码错误。" in failed.text
    client.login("zh@shop.test")
    denied = client.get("/console/catalogue/1")
    assert denied.status_code == 403 and "需要“管理员”角色" in denied.text
    assert "这个地址没有内容" in client.get("/console/orders/2147483647").text
    assert "这个地址没有内容" in client.get("/console/no/such/page").text
    bad_date = client.get("/console/orders?start=not-a-date").text
    assert "日期" in bad_date and "Not a valid date value" not in bad_date  # WTForms' own zh


def test_the_api_stays_english(app):
    client = app.test_client()
    answer = client.get("/api/orders/1", headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "UNAUTHORIZED"
    assert answer.json["error"]["message"].isascii()


def test_the_staff_cli_takes_a_language(app):
    runner = app.test_cli_runner()
    with app.app_context():
        made = runner.invoke(
            args=["staff", "create", "en@shop.test", "--role", "admin", "--generate"]
            + ["--language", "en"]
        )
        assert made.exit_code == 0, made.output
        assert (
            db.session.execute(
                db.select(StaffUser.language).where(StaffUser.email == "en@shop.test")
            ).scalar_one()
            == "en"
        )
        wrong = runner.invoke(
            args=["staff", "create", "x@shop.test", "--role", "admin", "--language", "fr"]
        )
        assert wrong.exit_code != 0 and "fr" in wrong.output
