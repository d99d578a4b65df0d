"""The connect page (GET /): sign in with Close; then, per offered provider, its state, its links
and what the last sync said about them; "Sync now"; sign out.

Rendered in full on the server, so it works without scripts; web/static/live.js then keeps it
current from `GET /status` (web/live.py), which answers the same `rep_view` as JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template, session
from sqlalchemy import select

from web.rep_view import rep_view
from web.signin import signed_in_account_id
from worker import runtime
from worker.storage.models import Account

bp = Blueprint("pages", __name__)


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@bp.app_template_filter("ago")
def ago(value: str | None, now: str) -> str:
    """How long before `now` `value` was (both ISO): "12 s ago", "5 min ago", "3 h ago", else
    the date. web/static/live.js says the same in the same words."""
    if not value:
        return ""
    seconds = max(0, int((parse_iso(now) - parse_iso(value)).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return parse_iso(value).strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("exact")
def exact(value: str | None) -> str:
    return parse_iso(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def signin_page() -> str:
    settings = current_app.config["SCHEDSYNC"]
    return render_template("signin.html", close_offered=settings.provider_configured("close"))


def connect_page(account_id: int, *, token_error: str | None = None) -> str:
    """The signed-in page; `token_error` is shown beside the SavvyCal personal-token form."""
    settings = current_app.config["SCHEDSYNC"]
    with runtime.session_scope() as db:
        account = db.get(Account, account_id)
        if account is None:
            return signin_page()
        view = rep_view(db, account, settings)
    return render_template("connect.html", view=view, token_error=token_error)


def account_exists(account_id: int) -> bool:
    with runtime.session_scope() as db:
        return db.scalars(select(Account.id).where(Account.id == account_id)).first() is not None


@bp.get("/")
def index():
    account_id = signed_in_account_id()
    if account_id is not None and not account_exists(account_id):
        session.clear()  # the account was removed since this browser signed in
        account_id = None
    if account_id is None:
        return signin_page()
    return connect_page(account_id)
