"""account events by account number: the per-account limit on wrong linking and Pay Now pairs counts them

Revision ID: 3b8e6f0a9c21
Revises: af9a713e52ba
Create Date: 2026-12-07 18:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3b8e6f0a9c21'
down_revision = 'af9a713e52ba'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.create_index('ix_account_event_account_occurred', ['account_no', 'occurred_at'], unique=False)


def downgrade():
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.drop_index('ix_account_event_account_occurred')
