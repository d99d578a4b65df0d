"""`GET /admin/accounts/{close_user_id}/history`: an account's runs, newest first, each with every
write it made to Close (CONTRACT §3 `run`). Same bearer token as the rest of /admin/*."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select

from web.admin import require_admin_token
from web.errors import json_error
from web.status import iso
from worker import runtime
from worker.storage.models import Account
from worker.sync import history

bp = Blueprint("admin_history", __name__, url_prefix="/admin")
bp.before_request(require_admin_token)

CHANGE_KEYS = ("provider", "source_id", "name", "action", "changed")


def run_json(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": run["kind"],
        "trigger": run["trigger"],
        "started_at": iso(run["started_at"]),
        "finished_at": iso(run["finished_at"]),
        "outcome": run["outcome"],
        "changes": [{k: change[k] for k in CHANGE_KEYS} for change in run["changes"]],
        "error": run["error"],
        "warnings": run["warnings"],
    }


@bp.get("/accounts/<close_user_id>/history")
def account_history(close_user_id: str):
    with runtime.session_scope() as session:
        account_id = session.scalar(
            select(Account.id).where(Account.close_user_id == close_user_id)
        )
    if account_id is None:
        return json_error(404, "not_found", "No account has that Close user id.")
    return jsonify(runs=[run_json(run) for run in history.recent_runs(account_id)])
