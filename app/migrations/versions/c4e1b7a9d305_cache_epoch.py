"""cache epoch: one row whose number starts every shared-cache key, raised when a forget fails

Revision ID: c4e1b7a9d305
Revises: e634de2c16e5
Create Date: 2026-12-02 01:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e1b7a9d305'
down_revision = 'e634de2c16e5'
branch_labels = None
depends_on = None


def upgrade():
    epoch = op.create_table('cache_epoch',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cache_epoch'))
    )
    op.bulk_insert(epoch, [{'id': 1, 'n': 0}])


def downgrade():
    op.drop_table('cache_epoch')
