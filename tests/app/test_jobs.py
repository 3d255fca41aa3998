"""The periodic jobs (API v3): reconcile catches lost notifications; close-expired closes
abandoned orders with WeChat first, and records a payment that beat it."""

import requests
from sqlalchemy import text

from server import create_app
from server.domain.jobs import exclusive
from server.extensions import db
from tests.support import require
from tests.support.orders import expire
from tests.support.refunds import cli_result


def wechat_state(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"][
        "trade_state"
    ]


def test_reconcile_finds_a_payment_whose_notification_was_lost(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    assert "reconciled 1 orders" in stack.cli("reconcile", "--older-than", "0")
    assert stack.query("SELECT status FROM orders") == [("PAID",)]
    assert stack.query("SELECT source FROM payment_events") == [("query",)]


def test_close_expired_closes_with_wechat_first(stack):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    fresh = stack.create_order(auth).json()["order"]
    expire(stack, order["id"])
    assert "closed 1 of 1" in stack.cli("close-expired")
    assert wechat_state(stack, order["out_trade_no"]) == "CLOSED"
    assert stack.query("SELECT status FROM orders WHERE id = :id", id=order["id"]) == [("CLOSED",)]
    assert wechat_state(stack, fresh["out_trade_no"]) == "NOTPAY"  # not expired: left alone


def test_close_expired_records_a_last_moment_payment_instead(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    expire(stack, created["order"]["id"])
    assert "closed 0 of 1" in stack.cli("close-expired")
    assert stack.query("SELECT status FROM orders") == [("PAID",)]


def test_close_expired_keeps_the_order_open_when_wechat_refuses_to_close(stack):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    expire(stack, order["id"])
    stack.control(
        "faults",
        kind="api",
        path="/v3/pay/transactions/out-trade-no/",
        method="POST",
        status=500,
        code="SYSTEM_ERROR",
    )
    code, output = cli_result(stack, "close-expired")
    assert code == 75 and "closed 0 of 1" in output  # EX_TEMPFAIL: the next run tries again
    assert stack.query("SELECT status FROM orders") == [("NOTPAY",)]
    assert "closed 1 of 1" in stack.cli("close-expired")  # the next run succeeds


def test_deployments_in_two_schemas_of_one_database_run_their_jobs_apart(
    dev_keys, postgres_schema_url
):
    """Advisory locks are database-wide: the job lock names the schema, so another deployment
    (or another test process) in the same database neither waits for ours nor skips."""
    require(postgres_schema_url, "TEST_DATABASE_URL is not set (PostgreSQL)")
    url, engine, schema = postgres_schema_url
    other_schema = f"{schema}_other"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {other_schema}"))
    apps = {
        name: create_app({**dev_keys, "DATABASE_URL": database})
        for name, database in [
            ("ours", url),
            ("our other instance", url),
            (
                "another deployment",
                url.replace(f"search_path%3D{schema}", f"search_path%3D{other_schema}"),
            ),
        ]
    }
    try:
        with apps["ours"].app_context(), exclusive("reconcile") as ours:
            with apps["our other instance"].app_context(), exclusive("reconcile") as same:
                pass
            with apps["another deployment"].app_context(), exclusive("reconcile") as other:
                pass
        assert (ours, same, other) == (True, False, True)
    finally:
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {other_schema} CASCADE"))
