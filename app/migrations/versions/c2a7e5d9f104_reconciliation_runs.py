"""the daily reconciliation's runs and mismatches (flask payments reconcile)

Revision ID: c2a7e5d9f104
Revises: b8d4f2a61c3e
Create Date: 2026-12-07 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c2a7e5d9f104'
down_revision = 'b8d4f2a61c3e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reconciliation_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('processor', sa.String(length=20), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('processor_charges', sa.Integer(), nullable=False),
    sa.Column('processor_refunds', sa.Integer(), nullable=False),
    sa.Column('portal_payments', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_run'))
    )
    with op.batch_alter_table('reconciliation_run', schema=None) as batch_op:
        batch_op.create_index('ix_reconciliation_run_ran_at', ['ran_at'], unique=False)

    op.create_table('reconciliation_mismatch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('receipt_no', sa.String(length=20), nullable=False),
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('processor_cents', sa.Integer(), nullable=True),
    sa.Column('portal_cents', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['reconciliation_run.id'], name=op.f('fk_reconciliation_mismatch_run_id_reconciliation_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_mismatch'))
    )
    with op.batch_alter_table('reconciliation_mismatch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_mismatch_run_id'), ['run_id'], unique=False)


def downgrade():
    with op.batch_alter_table('reconciliation_mismatch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_mismatch_run_id'))

    op.drop_table('reconciliation_mismatch')
    with op.batch_alter_table('reconciliation_run', schema=None) as batch_op:
        batch_op.drop_index('ix_reconciliation_run_ran_at')

    op.drop_table('reconciliation_run')
