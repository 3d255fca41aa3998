"""staff language: the console's language per staff account

Revision ID: e7f1a2b3c4d5
Revises: f3c1a9d27b64
Create Date: 2026-12-08 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e7f1a2b3c4d5"
down_revision = "f3c1a9d27b64"
branch_labels = None
depends_on = None


def upgrade():
    # Existing accounts get the console's default, Simplified Chinese.
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=16), server_default="zh_Hans", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("language")
