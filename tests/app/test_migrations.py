"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and
upgrade a database that holds data without losing or breaking any of it."""

import json
import re
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from server import create_app
from server.extensions import db
from server.timeutil import utcnow
from server.wechatpay.core.types import OrderRequest, RefundRequest
from tests.support import REPO, wait_for


def test_migrations_match_the_models(dev_keys, database_url):
    app = create_app({**dev_keys, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == []
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()


# --- upgrading a database that holds today's data ----------------------------------------------

CHANNELS = "f3c1a9d27b64"  # payment channels: orders record how they were paid


def _revision_before(revision):
    """The revision a migration follows (read from its script, so a merge that chains the
    migrations differently moves this test along)."""
    (script,) = (REPO / "migrations" / "versions").glob(f"{revision}_*.py")
    found = re.search(r'^down_revision = "([0-9a-f]+)"', script.read_text(), re.M)
    return found.group(1)


BEFORE_CHANNELS = _revision_before(CHANNELS)


def placed(stack, out_trade_no, total, openid, pay=True):
    """An order placed with the simulator (WeChat) as the backend placed them before channels,
    and paid there if ``pay``, its notification dropped (nothing reached the backend yet).
    Returns the simulator's record of it."""
    gateway = stack.app.extensions["wechatpay"]
    prepay_id = gateway.place_order(
        OrderRequest(
            out_trade_no=out_trade_no,
            description="手冲咖啡",
            total=total,
            openid=openid,
            notify_url=stack.settings["WECHATPAY_NOTIFY_URL"],
            time_expire=utcnow() + timedelta(minutes=30),
        )
    )
    if pay:
        stack.control("faults", kind="notify", action="drop", out_trade_no=out_trade_no)
        assert stack.cashier(gateway.pay_params(prepay_id)).status_code == 200
    order = requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"]
    return {**order, "prepay_id": prepay_id}


def old_rows(stack, now):
    """Today's data, as the app before channels made it: two users; a paid and shipped order
    with a pending refund request; a paid order refunded in part (its request approved); two
    orders paid at WeChat whose notifications never arrived; a reconciliation run with a
    resolved difference. Every order exists at the simulator too, so it can be worked on."""
    a = placed(stack, "OLDORDER000000000001", 1800, "o-before-1")
    b = placed(stack, "OLDORDER000000000002", 1800, "o-before-1")
    c = placed(stack, "OLDORDER000000000003", 1200, "o-before-2")
    d = placed(stack, "OLDORDER000000000004", 1200, "o-before-2")
    refunded = stack.app.extensions["wechatpay"].refund(
        RefundRequest(
            out_trade_no=b["out_trade_no"], out_refund_no="ROLD0001", refund=600, total=1800
        )
    )
    paid_at = now - timedelta(minutes=5)

    def order(row_id, user_id, sim, status, **extra):
        return {
            "id": row_id,
            "user_id": user_id,
            "out_trade_no": sim["out_trade_no"],
            "description": "手冲咖啡",
            "total": sim["amount"]["total"],
            "status": status,
            "time_expire": now + timedelta(minutes=25),
            "client_ip": "127.0.0.1",
            "prepay_id": sim["prepay_id"],
            "prepay_created_at": now - timedelta(minutes=6),
            "created_at": now - timedelta(minutes=6),
            **extra,
        }

    def paid(row_id, user_id, sim):
        return order(
            row_id,
            user_id,
            sim,
            "PAID",
            transaction_id=sim["transaction_id"],
            paid_at=paid_at,
            idempotency_key=f"old-checkout-{row_id}",
        )

    event = {"source": "notify", "trade_state": "SUCCESS", "created_at": paid_at}
    return {
        "users": [
            {"id": 1, "openid": "o-before-1", "unionid": "u-before-1", "session_key": "sk1"}
            | {"created_at": now, "last_login_at": now},
            {"id": 2, "openid": "o-before-2", "unionid": None, "session_key": "sk2"}
            | {"created_at": now, "last_login_at": now},
        ],
        "products": [
            {"id": 1, "name": "手冲咖啡", "description": "", "price": 1800, "active": True},
            {"id": 2, "name": "茉莉花茶", "description": "", "price": 1200, "active": True},
        ],
        "orders": [
            paid(1, 1, a),
            paid(2, 1, b),
            order(3, 2, c, "NOTPAY"),
            order(4, 2, d, "NOTPAY"),
        ],
        "order_items": [
            {
                "order_id": n,
                "product_id": p,
                "name": "x",
                "unit_price": t,
                "quantity": 1,
                "amount": t,
            }
            for n, p, t in ((1, 1, 1800), (2, 1, 1800), (3, 2, 1200), (4, 2, 1200))
        ],
        "refunds": [
            {
                "id": 1,
                "order_id": 2,
                "out_refund_no": "ROLD0001",
                "amount": 600,
                "reason": "少了一袋",
                "requested_by": "user:1",
                "approved_by": "admin@shop.test",
                "status": "SUCCESS",
                "refund_id": refunded.refund_id,
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
                "succeeded_at": now,
            }
        ],
        "payment_events": [
            {"order_id": 1, "dedupe_key": "notify:v3:old-1", "event_type": "TRANSACTION.SUCCESS"}
            | event
            | {"payload": json.dumps({"transaction_id": a["transaction_id"]})},
            {"order_id": 2, "dedupe_key": "notify:v3:old-2", "event_type": "TRANSACTION.SUCCESS"}
            | event
            | {"payload": json.dumps({"transaction_id": b["transaction_id"]})},
            {"order_id": 2, "refund_id": 1, "dedupe_key": "refund-apply:ROLD0001:SUCCESS"}
            | event
            | {"source": "apply", "event_type": "APPLY.SUCCESS", "payload": "{}"},
        ],
        "refund_requests": [
            {
                "order_id": 2,
                "user_id": 1,
                "reason": "少了一袋",
                "status": "APPROVED",
                "refund_id": 1,
                "decided_by": "admin@shop.test",
                "decided_at": now,
                "created_at": now,
            },
            {
                "order_id": 1,
                "user_id": 1,
                "reason": "不想要了",
                "status": "PENDING",
                "created_at": now,
            },
        ],
        "shipments": [
            {
                "order_id": 1,
                "logistics_type": 1,
                "delivery_mode": 1,
                "is_all_delivered": True,
                "packages": json.dumps(
                    [{"item_desc": "手冲咖啡", "tracking_no": "SF1", "express_company": "SF"}]
                ),
                "status": "SHIPPED",
                "upload_count": 1,
                "created_by": "operator@shop.test",
                "uploaded_at": now,
                "wechat_state": 2,
                "created_at": now,
            }
        ],
        "shipping_events": [
            {
                "order_id": 1,
                "source": "upload",
                "event_type": "UPLOAD.OK",
                "payload": "{}",
                "created_at": now,
            }
        ],
        "reconciliation_runs": [
            {
                "id": 1,
                "day": (now - timedelta(days=1)).date(),
                "status": "CLEAN",
                "bill_rows": 0,
                "payments_wechat": 0,
                "payments_ours": 0,
                "paid_total_wechat": 0,
                "paid_total_ours": 0,
                "refunds_wechat": 0,
                "refunds_ours": 0,
                "refunded_total_wechat": 0,
                "refunded_total_ours": 0,
                "fees_wechat": "0",
                "started_at": now,
                "finished_at": now,
            }
        ],
        "bill_differences": [
            {
                "run_id": 1,
                "key": "UNKNOWN_PAYMENT:X1",
                "kind": "UNKNOWN_PAYMENT",
                "out_trade_no": "X1",
                "created_at": now,
                "resolved_by": "admin@shop.test",
                "resolved_at": now,
                "note": "ours",
            }
        ],
    }


def test_an_upgrade_keeps_todays_data_and_it_keeps_working(make_stack):
    """A database at the revision before channels, holding what the app made then (paid,
    refunded and shipped orders, users, refund requests, a reconciliation run), upgraded: every
    row is there with the mini program's channel filled in, and the old orders can be read,
    refunded further, queried and paid by their notification."""
    stack = make_stack()
    settings = stack.settings
    now = utcnow().replace(microsecond=0)
    with stack.app.app_context():
        db.drop_all()
        db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade(revision=BEFORE_CHANNELS)
        old = sa.MetaData()
        old.reflect(bind=db.engine)  # the schema as it was: its columns, through its tables
        rows = old_rows(stack, now)
        with db.engine.begin() as connection:
            for table, values in rows.items():
                for row in values:  # one by one: rows of one table differ in their columns
                    connection.execute(old.tables[table].insert(), row)
            if connection.dialect.name == "postgresql":  # ids given above: move the sequences
                for table in ("users", "products", "orders", "refunds", "reconciliation_runs"):
                    connection.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        counts = {table: len(values) for table, values in rows.items()}

        upgrade()
        db.session.remove()
        for table, count in counts.items():
            assert db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == count
        assert db.session.execute(
            sa.text(
                "SELECT o.out_trade_no, o.status, o.channel, o.trade_type, o.appid, o.mchid, "
                "o.sub_mchid, o.api_version, o.payer_openid, u.openid FROM orders o "
                "JOIN users u ON u.id = o.user_id ORDER BY o.id"
            )
        ).all() == [
            (
                f"OLDORDER00000000000{n}",
                status,
                "miniprogram",
                "JSAPI",
                settings["WECHAT_APPID"],
                settings["WECHATPAY_MCHID"],
                None,
                "v3",
                openid,
                openid,
            )
            for n, status, openid in (
                (1, "PAID", "o-before-1"),
                (2, "PAID", "o-before-1"),
                (3, "NOTPAY", "o-before-2"),
                (4, "NOTPAY", "o-before-2"),
            )
        ]
        assert db.session.execute(
            sa.text(
                "SELECT u.openid, u.appid, u.session_key, c.unionid FROM users u "
                "JOIN customers c ON c.id = u.customer_id ORDER BY u.id"
            )
        ).all() == [
            ("o-before-1", settings["WECHAT_APPID"], "sk1", "u-before-1"),
            ("o-before-2", settings["WECHAT_APPID"], "sk2", None),
        ]
        assert db.session.execute(
            sa.text("SELECT mchid, status FROM reconciliation_runs")
        ).all() == [(settings["WECHATPAY_MCHID"], "CLEAN")]
        db.session.remove()

    # Read: the user logs in again and sees their orders, as before.
    auth = stack.login("o-before-1")
    mine = requests.get(f"{stack.backend}/api/orders", headers=auth).json()["orders"]
    assert [(o["out_trade_no"], o["status"], o["refunded"], o["channel"]) for o in mine] == [
        ("OLDORDER000000000002", "PAID", 600, "miniprogram"),
        ("OLDORDER000000000001", "PAID", 0, "miniprogram"),
    ]
    assert mine[1]["shipping"]["merchant_id"] == settings["WECHATPAY_MCHID"]
    assert [r["status"] for r in mine[1]["refund_requests"]] == ["PENDING"]

    # Refunded further: the rest of order 2, its refund notification applied.
    assert " 1200 fen " in stack.cli("refund", "2", "--amount", "1200", "--reason", "全部退回")
    wait_for(lambda: stack.query("SELECT status FROM orders WHERE id = 2") == [("REFUNDED",)])

    # Paid by its notification: WeChat sends order 3's again, and now it arrives.
    requests.post(f"{stack.sandbox}/sandbox/notify/OLDORDER000000000003").raise_for_status()
    wait_for(lambda: stack.query("SELECT status FROM orders WHERE id = 3") == [("PAID",)])

    # Queried: order 4's notification never comes; the sync job asks WeChat.
    assert "'paid': 1" in stack.cli("payments", "sync", "--older-than", "0")
    assert stack.query("SELECT status, transaction_id IS NOT NULL FROM orders WHERE id = 4") == [
        ("PAID", True)
    ]


def test_the_upgrade_asks_for_the_ids_it_records_before_changing_anything(
    dev_keys, database_url, capsys
):
    """Existing rows get WECHAT_APPID and WECHATPAY_MCHID from the settings of the app that
    runs the upgrade; without them it stops, saying so, and the database stays as it was."""
    settings = {**dev_keys, "DATABASE_URL": database_url, "WECHAT_APPID": ""}
    app = create_app(settings)
    with app.app_context():
        upgrade(revision=BEFORE_CHANNELS)
        db.session.execute(
            sa.text(
                "INSERT INTO users (openid, created_at, last_login_at) "
                "VALUES ('o-waiting', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        with pytest.raises(SystemExit):  # `flask db upgrade` exits 1, saying why
            upgrade()
        # Said on stderr, by the migrations' logging (migrations/alembic.ini).
        assert "set WECHAT_APPID and WECHATPAY_MCHID" in capsys.readouterr().err
        db.session.remove()
        assert db.session.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
            (BEFORE_CHANNELS,)
        ]
        assert db.session.execute(sa.text("SELECT openid FROM users")).all() == [("o-waiting",)]
        db.session.remove()
        db.engine.dispose()
