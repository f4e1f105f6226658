"""account events: link_event becomes account_event (links, removals, failed attempts, bill delivery)

Revision ID: 7a3d2c9e4b10
Revises: 5c1f0e2a7d41
Create Date: 2026-12-01 21:30:00.000000

The rows are copied as they are (the outcome values do not change), ids included, so the audit trail and
the attempt limits carry on where they were.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a3d2c9e4b10'
down_revision = '5c1f0e2a7d41'
branch_labels = None
depends_on = None

COLUMNS = "id, resident_id, account_no, occurred_at, client_addr, outcome"


def _create(name):
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('account_no', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_addr', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f(f'fk_{name}_resident_id_resident'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}'))
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(f'ix_{name}_client_occurred', ['client_addr', 'occurred_at'], unique=False)
        batch_op.create_index(f'ix_{name}_resident_occurred', ['resident_id', 'occurred_at'], unique=False)


def _move(source, target):
    _create(target)
    op.execute(f"INSERT INTO {target} ({COLUMNS}) SELECT {COLUMNS} FROM {source}")
    if op.get_bind().dialect.name == "postgresql":  # the copied ids were not drawn from the new sequence
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{target}', 'id'), COALESCE((SELECT MAX(id) FROM {target}), 0) + 1, false)"
        )
    with op.batch_alter_table(source, schema=None) as batch_op:
        batch_op.drop_index(f'ix_{source}_resident_occurred')
        batch_op.drop_index(f'ix_{source}_client_occurred')
    op.drop_table(source)


def upgrade():
    _move('link_event', 'account_event')


def downgrade():
    _move('account_event', 'link_event')
