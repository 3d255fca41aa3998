"""counter: payment codes at a cashier page (counter_payments), and the cashier role

Revision ID: a9c0d1e2f3b4
Revises: a9c4e2f7b1d3
Create Date: 2026-12-07 05:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a9c0d1e2f3b4"
down_revision = "a9c4e2f7b1d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "counter_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("auth_code_digest", sa.String(length=64), nullable=False),
        sa.Column("auth_code_tail", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("reverses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_counter_payments_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_counter_payments_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_payments")),
        sa.UniqueConstraint("auth_code_digest", name=op.f("uq_counter_payments_auth_code_digest")),
        sa.UniqueConstraint("order_id", name=op.f("uq_counter_payments_order_id")),
    )
    with op.batch_alter_table("counter_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counter_payments_state"), ["state"], unique=False)
    # Cashiers take payments and print receipts (no refunds, no catalogue).
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_staff_users_role_known"), type_="check")
        batch_op.create_check_constraint("role_known", "role IN ('admin', 'operator', 'cashier')")


def downgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_staff_users_role_known"), type_="check")
        batch_op.create_check_constraint("role_known", "role IN ('admin', 'operator')")
    with op.batch_alter_table("counter_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_payments_state"))
    op.drop_table("counter_payments")
