"""stores: a service provider's products belong to a store; a staff account may be limited to one

Revision ID: a9d4c2e61f07
Revises: a9d3e5f7b2c1
Create Date: 2026-12-07 05:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a9d4c2e61f07"
down_revision = "a9d3e5f7b2c1"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: a direct merchant's products belong to no store, and existing staff accounts
    # see every store.
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store", sa.String(length=26), nullable=True))
        batch_op.create_index("ix_products_store", ["store"])
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store", sa.String(length=26), nullable=True))


def downgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("store")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_store")
        batch_op.drop_column("store")
