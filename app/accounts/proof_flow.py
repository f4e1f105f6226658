"""The proof step that linking and Pay Now share: the form, the typed pair checked under the attempt limits, and
the message or page a refused pair shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

from flask import current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _

from app.accounts import service
from app.accounts.forms import ProofForm
from app.accounts.proofs import LinkProof
from app.accounts.service import LinkRules
from app.billing import billing_source
from app.core.clock import utcnow
from app.core.config import get_settings
from app.database.db import db
from app.web.errors import render_error

F = TypeVar("F", bound=ProofForm)
T = TypeVar("T")


def link_rules() -> LinkRules:
    """This app's format rules and attempt limits (built once, in ``app.accounts.init_app``)."""
    rules: LinkRules = current_app.extensions["link_rules"]
    return rules


def client_addr() -> str:
    """The address the attempt limits count a try against."""
    # ProxyFix (PROXY_FIX_HOPS) has already put the real client address here when behind a proxy.
    return request.remote_addr or "unknown"


class ProofStep(Generic[F]):
    """One visit to a proof page: its form for the city's proof, and what a refused pair shows instead.

    ``refusal`` is the page to answer with (too many attempts), ``error`` the message above the form;
    ``paying`` says the pair is typed to pay without signing in (Pay Now), which the refusals name.
    """

    def __init__(self, form_class: type[F], *, paying: bool = False) -> None:
        self.paying = paying
        self.rules = link_rules()
        self.form = form_class(
            account_length=self.rules.account_length, customer_length=self.rules.customer_length, proof=self.rules.proof
        )
        self.error: str | None = None
        self.refusal: ResponseReturnValue | None = None

    def check(self, verify: Callable[..., T]) -> T | None:
        """The submitted pair checked by ``verify`` (``service.link_account`` or ``service.verify_guest``), given the
        request's session, the pair, the billing source, the rules, the client address and now.

        None when nothing valid was submitted or the pair was refused; a refusal is committed (the limits count
        its audit row) and ``refusal`` or ``error`` says what to show. The caller commits a proved pair.
        """
        if not self.form.validate_on_submit():
            return None
        account_no = self.form.account_no.data
        try:
            return verify(
                db.session(),
                account_no=account_no,
                proof=self.form.proof_field.data,
                billing=billing_source(),
                rules=self.rules,
                client_addr=client_addr(),
                now=utcnow(),
            )
        except service.RateLimited as exc:
            db.session.commit()
            self.refusal = _too_many_attempts(exc, self.paying)
        except service.LinkError as exc:
            db.session.commit()
            self.error = _refusal_message(exc, self.rules.proof, account_no)
        return None


def _refusal_message(exc: service.LinkError, proof: LinkProof, account_no: str) -> str:
    """The message above the form for a refused pair."""
    if isinstance(exc, service.EmailNotVerified):
        return _("Activate your email address before you link an account: open the link we emailed you.")
    if isinstance(exc, service.AlreadyLinked):
        return _(
            "Account %(number)s is already linked to your profile. You'll find it under Account Settings.",
            number=account_no,
        )
    if isinstance(exc, service.TooManyLinks):
        return _("You can link up to %(num)d accounts. Remove one you no longer need, then try again.", num=exc.limit)
    return _not_found_message(proof, exc if isinstance(exc, service.AccountNotFound) else None)


def _not_found_message(proof: LinkProof, found: service.AccountNotFound | None = None) -> str:
    """The one message for a pair that matched nothing (it never says which half was wrong), then the last
    tries counted down, or when the next try is allowed after the last one."""
    message = _pair_not_found(proof)
    if found is None or found.tries_left is None or found.tries_left > service.WARN_TRIES:
        return message
    if found.tries_left == 0 and found.retry_at is not None:
        return (
            message
            + " "
            + _(
                "For your security, that was the last try for now. Please try again after %(time)s.",
                time=_pause_end(found.retry_at),
            )
        )
    if found.tries_left == 1:  # WARN_TRIES is small: two messages, not plural forms
        return message + " " + _("1 try left. After that, for your security, you will have to wait a few minutes.")
    return (
        message
        + " "
        + _(
            "%(num)d tries left. After that, for your security, you will have to wait a few minutes.",
            num=found.tries_left,
        )
    )


def _pause_end(when: datetime) -> str:
    """When a pause ends, in the city's time with its zone spelled out ("11/23/26, 9:15 AM Central Standard Time")."""
    return f"{format_datetime(when, 'short')} {format_datetime(when, 'zzzz')}"


def _pair_not_found(proof: LinkProof) -> str:
    """The message for a pair that matched nothing, naming the city's proof."""
    phone = get_settings().utility_phone
    if proof is LinkProof.LAST_NAME:
        return _(
            "We couldn't find an account with that account number and last name. Check both on your bill, "
            "or contact Utility Billing at %(phone)s.",
            phone=phone,
        )
    if proof is LinkProof.LAST_BILL_AMOUNT:
        return _(
            "We couldn't find an account with that account number and last bill amount. Check both on your most "
            "recent bill, or contact Utility Billing at %(phone)s.",
            phone=phone,
        )
    return _(
        "We couldn't find an account with that account number and customer ID. Check both numbers on your bill, "
        "or contact Utility Billing at %(phone)s.",
        phone=phone,
    )


def _too_many_attempts(exc: service.RateLimited, paying: bool) -> ResponseReturnValue:
    """The 429 page while the attempt limits pause tries, with ``Retry-After``, in the words of what was tried."""
    wait = max(int((exc.retry_at - utcnow()).total_seconds()) + 1, 1)
    when = _pause_end(exc.retry_at)
    if paying:
        title = _("Too many attempts to find your account")
        message = _(
            "For your security, Pay Now is paused after several numbers that didn't match. "
            "Please try again after %(time)s, or call Utility Billing at %(phone)s to pay by phone.",
            time=when,
            phone=get_settings().utility_phone,
        )
    else:
        title = _("Too many attempts to link an account")
        message = _(
            "For your security, linking is paused after several numbers that didn't match. "
            "Please try again after %(time)s.",
            time=when,
        )
    response = current_app.make_response(render_error(429, title=title, message=message))
    response.headers["Retry-After"] = str(wait)
    return response
