"""guest refund requests: a web-shop guest's request has no user; one pending request per order

Revision ID: b7e2c4d9a1f3
Revises: a9d4c2e61f07
Create Date: 2026-12-07 07:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2c4d9a1f3"
down_revision = "a9d4c2e61f07"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'PENDING'")


def upgrade():
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            "uq_refund_requests_one_pending",
            ["order_id"],
            unique=True,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )


def downgrade():
    # A guest's requests have no user to keep: they go first.
    op.execute("DELETE FROM refund_requests WHERE user_id IS NULL")
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.drop_index("uq_refund_requests_one_pending")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
