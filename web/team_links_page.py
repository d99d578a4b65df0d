"""The connect page's team-link section (`_team_links.html`): the team links of the rep's Close
organization, what each resolves to for them, and why not when it does not. The template asks
for its data itself, so the page's own view is unchanged."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from web.team_links_status import RepTeamLink, rep_team_links
from worker import runtime
from worker.storage.models import Account

bp = Blueprint("team_links_page", __name__)


@bp.app_template_global("team_links_of")
def team_links_of(close_user_id: str) -> list[RepTeamLink]:
    with runtime.session_scope() as session:
        account = session.scalars(
            select(Account).where(Account.close_user_id == close_user_id)
        ).first()
        return [] if account is None else rep_team_links(session, account)
