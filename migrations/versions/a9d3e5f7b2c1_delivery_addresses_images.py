"""delivery addresses and product images: products that ship, their picture; the order's copy
of the recipient's name, phone and address

Revision ID: a9d3e5f7b2c1
Revises: a9c0d1e2f3b4
Create Date: 2026-12-08 12:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a9d3e5f7b2c1"
down_revision = "a9c0d1e2f3b4"
branch_labels = None
depends_on = None

RECIPIENT = (
    ("recipient_name", 32),
    ("recipient_phone", 20),
    ("recipient_province", 32),
    ("recipient_city", 32),
    ("recipient_district", 32),
    ("recipient_detail", 200),
)


def upgrade():
    # Existing products and orders ship nothing: the shop marks the products that do.
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ships", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("image", sa.String(length=64), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ships", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        for name, length in RECIPIENT:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name, _ in reversed(RECIPIENT):
            batch_op.drop_column(name)
        batch_op.drop_column("ships")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("image")
        batch_op.drop_column("ships")
