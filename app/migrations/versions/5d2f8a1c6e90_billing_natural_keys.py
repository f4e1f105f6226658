"""billing read model keyed by natural keys: children refer to account_no and bill_no, no surrogate ids

The read model is a copy of the billing system's extract, so the tables are recreated empty (in both
directions): run ``flask billing import`` (or ``flask billing demo``) again after upgrading. The import
record gains ``size_bytes``.

Revision ID: 5d2f8a1c6e90
Revises: c4e1b7a9d305
Create Date: 2026-12-02 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d2f8a1c6e90'
down_revision = 'c4e1b7a9d305'
branch_labels = None
depends_on = None

#: Children first.
TABLES = (
    'billing_bill_line',
    'billing_payment',
    'billing_meter_read',
    'billing_bill',
    'billing_service',
    'billing_occupancy',
    'billing_account',
    'billing_customer',
)


def _drop_read_model():
    for name in TABLES:
        op.drop_table(name)


def upgrade():
    _drop_read_model()
    op.create_table('billing_account',
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('service_address', sa.String(length=300), nullable=False),
    sa.Column('route', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('bill_delivery', sa.String(length=20), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('account_no', name=op.f('pk_billing_account'))
    )
    op.create_index(op.f('ix_billing_account_customer_id'), 'billing_account', ['customer_id'], unique=False)
    op.create_table('billing_customer',
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('mailing_address', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_billing_customer'))
    )
    op.create_table('billing_bill',
    sa.Column('bill_no', sa.String(length=30), nullable=False),
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('bill_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('balance_cents', sa.Integer(), nullable=False),
    sa.Column('is_final', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_no'], ['billing_account.account_no'], name=op.f('fk_billing_bill_account_no_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bill_no', name=op.f('pk_billing_bill'))
    )
    op.create_index('ix_billing_bill_account_customer', 'billing_bill', ['account_no', 'customer_id', 'bill_date'], unique=False)
    op.create_table('billing_meter_read',
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('consumption', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['account_no'], ['billing_account.account_no'], name=op.f('fk_billing_meter_read_account_no_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_no', 'service', 'period_start', name=op.f('pk_billing_meter_read'))
    )
    op.create_table('billing_occupancy',
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_no'], ['billing_account.account_no'], name=op.f('fk_billing_occupancy_account_no_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_no', 'customer_id', 'start_date', name=op.f('pk_billing_occupancy'))
    )
    op.create_index('ix_billing_occupancy_customer_id', 'billing_occupancy', ['customer_id'], unique=False)
    op.create_table('billing_service',
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('stop_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('metered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_no'], ['billing_account.account_no'], name=op.f('fk_billing_service_account_no_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_no', 'code', 'start_date', name=op.f('pk_billing_service'))
    )
    op.create_table('billing_bill_line',
    sa.Column('bill_no', sa.String(length=30), nullable=False),
    sa.Column('line_no', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bill_no'], ['billing_bill.bill_no'], name=op.f('fk_billing_bill_line_bill_no_billing_bill'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bill_no', 'line_no', name=op.f('pk_billing_bill_line'))
    )
    op.create_table('billing_payment',
    sa.Column('payment_id', sa.String(length=30), nullable=False),
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('bill_no', sa.String(length=30), nullable=True),
    sa.Column('posted_on', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['account_no'], ['billing_account.account_no'], name=op.f('fk_billing_payment_account_no_billing_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['bill_no'], ['billing_bill.bill_no'], name=op.f('fk_billing_payment_bill_no_billing_bill'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_billing_payment'))
    )
    op.create_index('ix_billing_payment_account_customer', 'billing_payment', ['account_no', 'customer_id', 'posted_on'], unique=False)
    op.create_index(op.f('ix_billing_payment_bill_no'), 'billing_payment', ['bill_no'], unique=False)
    op.create_index('ix_billing_payment_reference', 'billing_payment', ['reference'], unique=False, postgresql_where=sa.text('reference IS NOT NULL'), sqlite_where=sa.text('reference IS NOT NULL'))

    with op.batch_alter_table('billing_import', schema=None) as batch_op:
        batch_op.add_column(sa.Column('size_bytes', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('billing_import', schema=None) as batch_op:
        batch_op.drop_column('size_bytes')
    _drop_read_model()
    op.create_table('billing_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('service_address', sa.String(length=300), nullable=False),
    sa.Column('route', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('bill_delivery', sa.String(length=20), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_account')),
    sa.UniqueConstraint('account_no', name=op.f('uq_billing_account_account_no'))
    )
    op.create_index(op.f('ix_billing_account_customer_id'), 'billing_account', ['customer_id'], unique=False)
    op.create_table('billing_customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('mailing_address', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_customer')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_billing_customer_customer_id'))
    )
    op.create_table('billing_bill',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_no', sa.String(length=30), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('bill_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('balance_cents', sa.Integer(), nullable=False),
    sa.Column('is_final', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_account.id'], name=op.f('fk_billing_bill_account_id_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_bill')),
    sa.UniqueConstraint('bill_no', name=op.f('uq_billing_bill_bill_no'))
    )
    op.create_index('ix_billing_bill_account_customer', 'billing_bill', ['account_id', 'customer_id', 'bill_date'], unique=False)
    op.create_table('billing_meter_read',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('consumption', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_account.id'], name=op.f('fk_billing_meter_read_account_id_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_meter_read')),
    sa.UniqueConstraint('account_id', 'service', 'period_start', name='uq_billing_meter_read_account_service')
    )
    op.create_index('ix_billing_meter_read_account_period', 'billing_meter_read', ['account_id', 'period_start'], unique=False)
    op.create_table('billing_occupancy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_account.id'], name=op.f('fk_billing_occupancy_account_id_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_occupancy')),
    sa.UniqueConstraint('account_id', 'customer_id', 'start_date', name='uq_billing_occupancy_account_customer')
    )
    op.create_index('ix_billing_occupancy_customer_id', 'billing_occupancy', ['customer_id'], unique=False)
    op.create_table('billing_service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('stop_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('metered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_account.id'], name=op.f('fk_billing_service_account_id_billing_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_service')),
    sa.UniqueConstraint('account_id', 'code', 'start_date', name='uq_billing_service_account_code')
    )
    op.create_table('billing_bill_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['billing_bill.id'], name=op.f('fk_billing_bill_line_bill_id_billing_bill'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_bill_line')),
    sa.UniqueConstraint('bill_id', 'line_no', name='uq_billing_bill_line_bill_line')
    )
    op.create_table('billing_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.String(length=30), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=True),
    sa.Column('posted_on', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_account.id'], name=op.f('fk_billing_payment_account_id_billing_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['bill_id'], ['billing_bill.id'], name=op.f('fk_billing_payment_bill_id_billing_bill'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payment')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_billing_payment_payment_id'))
    )
    op.create_index('ix_billing_payment_account_customer', 'billing_payment', ['account_id', 'customer_id', 'posted_on'], unique=False)
    op.create_index(op.f('ix_billing_payment_bill_id'), 'billing_payment', ['bill_id'], unique=False)
    op.create_index(op.f('ix_billing_payment_reference'), 'billing_payment', ['reference'], unique=False)
