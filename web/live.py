"""`GET /status`: the signed-in rep's page as JSON (the same `rep_view` the page renders), polled
by web/static/live.js so a run in progress, its result and webhook changes appear without a
reload. Authenticated by the browser session, like the page itself."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from web.errors import json_error
from web.rep_view import rep_view
from web.signin import signed_in_account_id
from worker import runtime
from worker.storage.models import Account

bp = Blueprint("live", __name__)


@bp.get("/status")
def status():
    account_id = signed_in_account_id()
    with runtime.session_scope() as db:
        account = db.get(Account, account_id) if account_id is not None else None
        if account is None:
            return json_error(401, "unauthorized", "Sign in with Close first.")
        view = rep_view(db, account, current_app.config["SCHEDSYNC"])
    response = jsonify(view)
    # A status is stale the moment it is sent: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response
