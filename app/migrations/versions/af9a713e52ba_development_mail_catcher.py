"""development mail catcher: the email kept instead of sent outside production without SMTP_HOST

Only a development or test portal writes to it (the newest 50 messages, shown at /_dev/mail); in
production it stays empty.

Revision ID: af9a713e52ba
Revises: 5d2f8a1c6e90
Create Date: 2026-12-07 17:54:18

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'af9a713e52ba'
down_revision = '5d2f8a1c6e90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dev_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dev_mail'))
    )


def downgrade():
    op.drop_table('dev_mail')
