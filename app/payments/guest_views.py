"""Pay Now: pay a bill without signing in, after the linking proof and under linking's attempt limits."""

from __future__ import annotations

import time

from flask import redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue

from app.accounts.proof_flow import ProofStep
from app.accounts.service import verify_guest
from app.billing import billing_source, city_today
from app.database.db import db
from app.payments import bp
from app.payments.checkout import amount_form, amount_submitted, start_checkout
from app.payments.configured import payment_rules
from app.payments.forms import GuestLookupForm, GuestPayForm
from app.payments.owed import amount_owed
from app.payments.pages import summary_due
from app.payments.rules import can_pay

#: How long a verified Pay Now lookup stays usable in the browser session.
GUEST_TTL = 15 * 60


def mask_address(address: str) -> str:
    """The service address with its house number hidden but its first digit: "1•• Elm St"."""
    first, _, rest = address.partition(" ")
    if first[:1].isdigit():
        return first[0] + "•" * (len(first) - 1) + (" " + rest if rest else "")
    return address[:3] + "•" * max(len(address) - 3, 0)


@bp.route("/pay", methods=["GET", "POST"])
def guest_lookup() -> ResponseReturnValue:
    """Pay Now: the account number and the linking proof from the bill; the same attempt limits as linking."""
    step = ProofStep(GuestLookupForm, paying=True)
    tenure = step.check(verify_guest)
    if step.refusal is not None:
        return step.refusal
    if tenure is not None:
        db.session.commit()
        session["guest_pay"] = {
            "account_no": tenure.account_no,
            "customer_id": tenure.customer_id,
            "at": int(time.time()),
        }
        return redirect(url_for("payments.guest_pay"))
    return render_template(
        "payments/guest_lookup.html", form=step.form, form_error=step.error, proof=step.rules.proof.value
    )


@bp.route("/pay/amount", methods=["GET", "POST"])
def guest_pay() -> ResponseReturnValue:
    """Pay Now, second step: only the amount due and a masked service address; a receipt to the email typed."""
    found = session.get("guest_pay")
    if not isinstance(found, dict) or int(time.time()) - int(found.get("at", 0)) > GUEST_TTL:
        return redirect(url_for("payments.guest_lookup"))
    pair = (str(found["account_no"]), str(found["customer_id"]))
    summary = billing_source().summaries([pair], today=city_today()).get(pair)
    if summary is None:
        return redirect(url_for("payments.guest_lookup"))
    owed = amount_owed(db.session(), summary)
    allowed = can_pay(summary)
    form = amount_form(GuestPayForm, owed.cents)
    accepted, status = amount_submitted(form, allowed)
    if accepted:
        return start_checkout(form, source="guest", account_no=pair[0], customer_id=pair[1], email=form.email.data)
    return (
        render_template(
            "payments/guest_pay.html",
            form=form,
            allowed=allowed,
            due=summary_due(summary, owed.pending_cents),
            address=mask_address(summary.service_address),
            rules=payment_rules(),
        ),
        status,
    )
