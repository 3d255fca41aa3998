"""order idempotency key: a retried checkout gets its order back

Revision ID: b81763d80524
Revises: 5ff20f77a8ad
Create Date: 2026-11-22 05:04:28.767098

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b81763d80524"
down_revision = "5ff20f77a8ad"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_orders_user_id_idempotency_key"), ["user_id", "idempotency_key"]
        )


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_orders_user_id_idempotency_key"), type_="unique")
        batch_op.drop_column("idempotency_key")
