"""resident links version (cache key of pages built from the linked accounts)

Revision ID: 5c1f0e2a7d41
Revises: 14b1e45b2320
Create Date: 2026-11-23 09:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1f0e2a7d41'
down_revision = '14b1e45b2320'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('links_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_column('links_version')
