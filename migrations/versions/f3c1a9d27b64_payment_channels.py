"""payment channels: orders record how they were paid; users per (appid, openid), customers

Revision ID: f3c1a9d27b64
Revises: d4e5f6a7b8c9
Create Date: 2026-12-07 10:12:41.201733

Orders record their channel (name, trade type, appid, mchid, sub-merchant ids, API version) and
the payer's openid; ``user_id`` becomes nullable (a counter sale, a web guest). Users become
one per (appid, openid), grouped into customers by unionid. Reconciliation runs are per day
and merchant.

Backfill: before this revision the backend had exactly one way to pay, the mini program's
JSAPI payments with WECHAT_APPID, WECHATPAY_MCHID and WECHATPAY_API_VERSION, so every existing
order, user and reconciliation run is given those values, read from the settings of the app
running the upgrade (``flask --app server db upgrade``, with the deployment's .env or
environment: the same settings that placed these orders). The channel is ``miniprogram`` and
the trade type JSAPI. If there are rows to fill and WECHAT_APPID or WECHATPAY_MCHID is not
set, the upgrade stops and says so, before changing anything.
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "f3c1a9d27b64"
down_revision = "d4e5f6a7b8c9"
branch_labels = None
depends_on = None

CHANNEL, TRADE_TYPE = "miniprogram", "JSAPI"


def _settings(connection):
    """WECHAT_APPID, WECHATPAY_MCHID and the API version existing rows were made with."""
    config = current_app.config
    appid, mchid = config.get("WECHAT_APPID") or "", config.get("WECHATPAY_MCHID") or ""
    version = config.get("WECHATPAY_API_VERSION") or "v3"
    if not (appid and mchid):
        rows = sum(
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("users", "orders", "reconciliation_runs")
        )
        if rows:
            raise RuntimeError(
                "set WECHAT_APPID and WECHATPAY_MCHID (the mini program and merchant the "
                "existing orders were placed with) before upgrading: they are recorded on "
                "every existing order, user and reconciliation run"
            )
    return {"appid": appid, "mchid": mchid, "version": version}


def upgrade():
    connection = op.get_bind()
    values = _settings(connection)

    # Customers: one per user today (a unionid shared by several users, which one appid
    # cannot have, would make them one customer). Ids are the first user's, so no mapping.
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unionid", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("unionid", name=op.f("uq_customers_unionid")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("appid", sa.String(length=32), nullable=True))
    connection.execute(
        sa.text(
            "UPDATE users SET appid = :appid, customer_id = coalesce("
            "(SELECT min(other.id) FROM users other WHERE other.unionid = users.unionid), id)"
        ),
        {"appid": values["appid"]},
    )
    connection.execute(
        sa.text(
            "INSERT INTO customers (id, unionid, created_at) "
            "SELECT id, unionid, created_at FROM users WHERE id = customer_id"
        )
    )
    if connection.dialect.name == "postgresql":  # the next customer after the copied ids
        connection.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('customers', 'id'), "
                "coalesce(max(id), 0) + 1, false) FROM customers"
            )
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("appid", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint("uq_users_openid", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_users_appid_openid"), ["appid", "openid"])
        batch_op.create_index(batch_op.f("ix_users_customer_id"), ["customer_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_users_customer_id_customers"), "customers", ["customer_id"], ["id"]
        )

    # Orders: the channel they were placed with, and the payer apart from the account.
    columns = (
        ("channel", sa.String(length=32)),
        ("trade_type", sa.String(length=16)),
        ("appid", sa.String(length=32)),
        ("mchid", sa.String(length=32)),
        ("sub_mchid", sa.String(length=32)),
        ("sub_appid", sa.String(length=32)),
        ("api_version", sa.String(length=4)),
        ("payer_openid", sa.String(length=64)),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name, type_ in columns:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    connection.execute(
        sa.text(
            "UPDATE orders SET channel = :channel, trade_type = :trade_type, appid = :appid, "
            "mchid = :mchid, api_version = :version, "
            "payer_openid = (SELECT openid FROM users WHERE users.id = orders.user_id)"
        ),
        {"channel": CHANNEL, "trade_type": TRADE_TYPE, **values},
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name, type_ in columns:
            if name not in ("sub_mchid", "sub_appid", "payer_openid"):
                batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f("ix_orders_channel"), ["channel"], unique=False)

    # Reconciliation: one run per day and merchant (each merchant has its own bill).
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mchid", sa.String(length=32), nullable=True))
    connection.execute(
        sa.text("UPDATE reconciliation_runs SET mchid = :mchid"), {"mchid": values["mchid"]}
    )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.alter_column("mchid", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint("uq_reconciliation_runs_day", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_reconciliation_runs_day_mchid"), ["day", "mchid"]
        )


def downgrade():
    connection = op.get_bind()
    guests = connection.execute(
        sa.text("SELECT count(*) FROM orders WHERE user_id IS NULL")
    ).scalar()
    runs = connection.execute(
        sa.text(
            "SELECT count(*) FROM (SELECT day FROM reconciliation_runs GROUP BY day "
            "HAVING count(*) > 1) AS several"
        )
    ).scalar()
    if guests or runs:
        raise RuntimeError(
            "cannot downgrade: orders without a user, or days reconciled for several "
            "merchants, have no place in the older schema"
        )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_reconciliation_runs_day_mchid"), type_="unique")
        batch_op.create_unique_constraint("uq_reconciliation_runs_day", ["day"])
        batch_op.drop_column("mchid")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_channel"))
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        for name in (
            "payer_openid",
            "api_version",
            "sub_appid",
            "sub_mchid",
            "mchid",
            "appid",
            "trade_type",
            "channel",
        ):
            batch_op.drop_column(name)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_customer_id_customers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_customer_id"))
        batch_op.drop_constraint(batch_op.f("uq_users_appid_openid"), type_="unique")
        batch_op.create_unique_constraint("uq_users_openid", ["openid"])
        batch_op.drop_column("appid")
        batch_op.drop_column("customer_id")
    op.drop_table("customers")
