"""bank debits that settle later: payment.checked_at

Payments gain the states processing and returned (payment.status is a string: no schema change);
checked_at is when ``flask payments run`` last asked the processor about a payment still waiting, and
ix_payment_status_created finds those few payments on every run.

Revision ID: b8d4f2a61c3e
Revises: 8c4d2e7f1a60
Create Date: 2026-12-07 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d4f2a61c3e'
down_revision = '8c4d2e7f1a60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_payment_status_created', ['status', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_status_created')
        batch_op.drop_column('checked_at')
