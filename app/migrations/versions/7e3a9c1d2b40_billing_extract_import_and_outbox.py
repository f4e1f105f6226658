"""billing extract import: run log, outbox, keys of payments, bill lines and reads, customer last name

Revision ID: 7e3a9c1d2b40
Revises: 7a3d2c9e4b10
Create Date: 2026-12-01 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7e3a9c1d2b40'
down_revision = '7a3d2c9e4b10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('billing_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_import'))
    )
    with op.batch_alter_table('billing_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_import_checksum'), ['checksum'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_import_started_at'), ['started_at'], unique=False)

    op.create_table('portal_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('export_file', sa.String(length=200), nullable=True),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_portal_change_resident_id_resident'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_change'))
    )
    with op.batch_alter_table('portal_change', schema=None) as batch_op:
        batch_op.create_index('ix_portal_change_pending', ['exported_at', 'id'], unique=False)

    # The read model is refilled by the next import; rows loaded before have no payment keys.
    op.execute('DELETE FROM billing_payment')
    with op.batch_alter_table('billing_customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_name', sa.String(length=100), server_default='', nullable=False))
    op.execute('DELETE FROM billing_bill_line')
    with op.batch_alter_table('billing_bill_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_no', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_index('ix_billing_bill_line_bill_id')
        batch_op.create_unique_constraint('uq_billing_bill_line_bill_line', ['bill_id', 'line_no'])
    op.execute(
        'DELETE FROM billing_service WHERE id NOT IN '
        '(SELECT MIN(id) FROM billing_service GROUP BY account_id, code, start_date)'
    )
    with op.batch_alter_table('billing_service', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_service_account_id')
        batch_op.create_unique_constraint('uq_billing_service_account_code', ['account_id', 'code', 'start_date'])
    with op.batch_alter_table('billing_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_id', sa.String(length=30), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_billing_payment_payment_id'), ['payment_id'])
    op.execute(
        'DELETE FROM billing_meter_read WHERE id NOT IN '
        '(SELECT MIN(id) FROM billing_meter_read GROUP BY account_id, service, period_start)'
    )
    with op.batch_alter_table('billing_meter_read', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_billing_meter_read_account_service', ['account_id', 'service', 'period_start'])


def downgrade():
    with op.batch_alter_table('billing_meter_read', schema=None) as batch_op:
        batch_op.drop_constraint('uq_billing_meter_read_account_service', type_='unique')
    with op.batch_alter_table('billing_payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_billing_payment_payment_id'), type_='unique')
        batch_op.drop_column('payment_id')
    with op.batch_alter_table('billing_service', schema=None) as batch_op:
        batch_op.drop_constraint('uq_billing_service_account_code', type_='unique')
        batch_op.create_index('ix_billing_service_account_id', ['account_id'], unique=False)
    with op.batch_alter_table('billing_bill_line', schema=None) as batch_op:
        batch_op.drop_constraint('uq_billing_bill_line_bill_line', type_='unique')
        batch_op.create_index('ix_billing_bill_line_bill_id', ['bill_id'], unique=False)
        batch_op.drop_column('line_no')
    with op.batch_alter_table('billing_customer', schema=None) as batch_op:
        batch_op.drop_column('last_name')
    with op.batch_alter_table('portal_change', schema=None) as batch_op:
        batch_op.drop_index('ix_portal_change_pending')
    op.drop_table('portal_change')
    with op.batch_alter_table('billing_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_import_started_at'))
        batch_op.drop_index(batch_op.f('ix_billing_import_checksum'))
    op.drop_table('billing_import')
