"""Auto Pay remembers its method (card or ach), so its charges say it; payment rows not yet exported carry the fee

An enrolment made before this is a bank account when the processor labelled it so ("Bank account ending
6789"), else a card. Its charges recorded as "saved" take the enrolment's method, and the payment rows of
the outbox not exported yet are rewritten as ``docs/billing-extract.md`` documents them: the method, and the
fee beside the amount. Rows already exported stay as they were sent.

Revision ID: 8c4d2e7f1a60
Revises: 3b8e6f0a9c21
Create Date: 2026-12-07 19:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c4d2e7f1a60'
down_revision = '3b8e6f0a9c21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('autopay_enrolment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=10), server_default='card', nullable=False))
    op.execute("UPDATE autopay_enrolment SET method = 'ach' WHERE method_label LIKE 'Bank account%'")
    op.execute(
        "UPDATE payment SET method = COALESCE((SELECT e.method FROM autopay_charge c"
        " JOIN autopay_enrolment e ON e.id = c.enrolment_id WHERE c.payment_id = payment.id), 'card')"
        " WHERE method = 'saved'"
    )
    conn = op.get_bind()
    pending = conn.execute(
        sa.text("SELECT id, value FROM portal_change WHERE kind = 'payment' AND exported_at IS NULL")
    ).all()
    for change_id, value in pending:
        try:
            payload = json.loads(value)
        except ValueError:
            continue
        found = conn.execute(
            sa.text("SELECT method, fee_cents FROM payment WHERE receipt_no = :r"), {"r": payload.get("receipt")}
        ).first()
        if found is None:
            continue
        payload["method"] = found[0]
        payload.setdefault("fee", f"{found[1] / 100:.2f}")
        conn.execute(
            sa.text("UPDATE portal_change SET value = :v WHERE id = :id"),
            {"v": json.dumps(payload, separators=(",", ":"), sort_keys=True), "id": change_id},
        )


def downgrade():
    op.execute(
        "UPDATE payment SET method = 'saved' WHERE id IN (SELECT payment_id FROM autopay_charge"
        " WHERE payment_id IS NOT NULL)"
    )
    with op.batch_alter_table('autopay_enrolment', schema=None) as batch_op:
        batch_op.drop_column('method')
