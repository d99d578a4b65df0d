"""The one HTML page a person uses to look at and change the sandbox, and the booking pages that
scheduling URLs point at. Forms POST here and redirect back to the page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .context import base_url, current_sandbox
from .edits import (
    EditError,
    create_event_type,
    create_savvy_link,
    delete_event_type,
    update_close_link,
    update_event_type,
    update_savvy_link,
)
from .resources import event_type_json, savvy_booking_url, scheduling_url
from .settings import env_block, env_lines
from .store import Store

bp = Blueprint("pages", __name__)

PAGE_PEOPLE = 25  # a scale seed adds thousands; the page shows the first few


@bp.get("/")
@bp.get("/_sandbox/")
def index() -> Any:
    sandbox = current_sandbox()
    store = sandbox.store
    base = base_url()
    with store.lock:
        people = _people(store)
        shown = people[:PAGE_PEOPLE]
        return render_template(
            "index.html",
            base=base,
            env=env_lines(env_block(base, sandbox.settings)),
            people=shown,
            hidden_people=len(people) - len(shown),
            store=store,
            scheduling_url=lambda e: scheduling_url(e, base),
            booking_url=lambda link: savvy_booking_url(store, link, base),
            subscriptions=list(store.webhook_subscriptions.values()),
            shared_links=_shared_links(store),
            deliveries=list(reversed(sandbox.deliverer.attempts[-15:])),
            message=request.args.get("msg"),
            error=request.args.get("error"),
        )


def _shared_links(store: Store) -> list[dict[str, Any]]:
    """Each shared link with, per user, the user link its template tag resolves to."""
    rows = []
    for shared in store.close_shared_links.values():
        mappings = []
        for user_id, link_id in shared.mappings.items():
            user, link = store.close_users.get(user_id), store.close_links.get(link_id)
            mappings.append({"user": user.email if user else user_id, "link": link})
        rows.append({"link": shared, "mappings": mappings})
    return rows


def _people(store: Store) -> list[dict[str, Any]]:
    """One row per email: the person's Close, Calendly and SavvyCal accounts, any may be absent."""
    by_email: dict[str, dict[str, Any]] = {}

    def person(email: str) -> dict[str, Any]:
        return by_email.setdefault(
            email.lower(), {"email": email, "close": None, "calendly": None, "savvycal": None}
        )

    for user in store.close_users.values():
        person(user.email)["close"] = user
    for cal_user in store.calendly_users.values():
        person(cal_user.email)["calendly"] = cal_user
    for savvy_user in store.savvy_users.values():
        person(savvy_user.email)["savvycal"] = savvy_user
    for row in by_email.values():
        close, cal, savvy = row["close"], row["calendly"], row["savvycal"]
        row["close_links"] = (
            list(store.close_links_by_user.get(close.id, {}).values()) if close else []
        )
        row["event_types"] = (
            [store.event_types[u] for u in store.event_types_by_host.get(cal.uuid, [])]
            if cal
            else []
        )
        row["savvy_links"] = store.savvy_links_visible_to(savvy) if savvy else []
    return list(by_email.values())


def _back(message: str | None = None, error: str | None = None) -> Any:
    return redirect(url_for("pages.index", msg=message, error=error), code=303)


def _duration(raw: str | None) -> int | None:
    return int(raw) if raw and raw.strip().isdigit() else None


def _changes(form: Any, duration_field: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if form.get("name"):
        changes["name"] = form["name"].strip()
    duration = _duration(form.get("duration"))
    if duration:
        changes[duration_field] = [duration] if duration_field == "durations" else duration
        if duration_field == "durations":
            changes["default_duration"] = duration
    if "description" in form:
        changes["description"] = form["description"].strip() or None
    return changes


@bp.post("/_sandbox/ui/calendly/event_types")
def ui_create_event_type() -> Any:
    sandbox = current_sandbox()
    host = sandbox.store.calendly_user_by_ref(request.form.get("user", ""))
    if host is None:
        return _back(error="Unknown Calendly user")
    try:
        fields = _changes(request.form, "duration")
        event_type = create_event_type(sandbox.store, [host], fields, sandbox.notifier(base_url()))
    except EditError as exc:
        return _back(error=exc.message)
    return _back(f"Created event type {event_type.name!r}")


@bp.post("/_sandbox/ui/calendly/event_types/<uuid>")
def ui_change_event_type(uuid: str) -> Any:
    sandbox = current_sandbox()
    event_type = sandbox.store.event_types.get(uuid) or abort(404)
    notify = sandbox.notifier(base_url())
    action = request.form.get("action", "update")
    try:
        if action == "delete":
            delete_event_type(sandbox.store, event_type, notify)
        elif action == "toggle":
            update_event_type(sandbox.store, event_type, {"active": not event_type.active}, notify)
        else:
            update_event_type(sandbox.store, event_type, _changes(request.form, "duration"), notify)
    except EditError as exc:
        return _back(error=exc.message)
    return _back(f"Event type {event_type.name!r}: {action} done")


@bp.post("/_sandbox/ui/savvycal/links")
def ui_create_savvy_link() -> Any:
    store = current_sandbox().store
    owner = store.savvy_user_by_ref(request.form.get("user", ""))
    if owner is None:
        return _back(error="Unknown SavvyCal user")
    try:
        link = create_savvy_link(store, owner, _changes(request.form, "durations"))
    except EditError as exc:
        return _back(error=exc.message)
    return _back(f"Created SavvyCal link {link.name!r}")


@bp.post("/_sandbox/ui/savvycal/links/<link_id>")
def ui_change_savvy_link(link_id: str) -> Any:
    store = current_sandbox().store
    link = store.savvy_links.get(link_id) or abort(404)
    action = request.form.get("action", "update")
    try:
        if action == "delete":
            with store.lock:
                store.remove_savvy_link(link_id)
        elif action == "toggle":
            state = "disabled" if link.state == "active" else "active"
            update_savvy_link(store, link, {"state": state})
        else:
            update_savvy_link(store, link, _changes(request.form, "durations"))
    except EditError as exc:
        return _back(error=exc.message)
    return _back(f"SavvyCal link {link.name!r}: {action} done")


@bp.post("/_sandbox/ui/close/links/<link_id>")
def ui_change_close_link(link_id: str) -> Any:
    store = current_sandbox().store
    link = store.close_links.get(link_id) or abort(404)
    if request.form.get("action") == "delete":
        with store.lock:
            store.remove_close_link(link_id)
        return _back(f"Deleted Close link {link.name!r}")
    changes = {k: request.form[k].strip() for k in ("name", "url") if request.form.get(k)}
    update_close_link(store, link, changes)
    return _back(f"Edited Close link {link.name!r}")


@bp.post("/_sandbox/ui/reset")
def ui_reset() -> Any:
    current_sandbox().reset("demo")
    return _back("Reset to the demo seed")


# Booking pages: where scheduling URLs lead, so a clicked link in Close lands somewhere real.


@bp.get("/calendly/book/<owner>/<slug>")
def calendly_booking(owner: str, slug: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        event_type = next(
            (
                e
                for e in store.event_types.values()
                if e.owner_slug == owner and e.slug == slug and e.deleted_at is None
            ),
            None,
        )
        if event_type is None:
            abort(404)
        resource = event_type_json(event_type, base_url())
    return render_template(
        "booking.html", provider="Calendly", title=resource["name"], details=resource
    )


@bp.get("/savvycal/book/<scope_slug>/<slug>")
def savvycal_booking(scope_slug: str, slug: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        scope = next((s for s in store.savvy_scopes.values() if s.slug == scope_slug), None)
        link = next(
            (
                link
                for link in store.savvy_links_by_scope.get(scope.id if scope else "", {}).values()
                if link.slug == slug
            ),
            None,
        )
        if link is None:
            abort(404)
        details = {
            "name": link.name,
            "state": link.state,
            "durations": link.durations,
            "description": link.description,
        }
    return render_template("booking.html", provider="SavvyCal", title=link.name, details=details)


@bp.get("/close-app/scheduling_link/<link_id>/")
def close_link_page(link_id: str) -> Any:
    """Close's app, as far as one scheduling link goes: what a rep sees of it in Close (outside
    /close/, so no fault set on the API ever breaks it)."""
    store = current_sandbox().store
    with store.lock:
        link = store.close_links.get(link_id)
        if link is None:
            abort(404)
        details = {
            "name": link.name,
            "url": link.url,
            "description": link.description,
            "duration_in_minutes": link.duration_in_minutes,
            "source": link.source,
            "source_type": link.source_type,
        }
        owner = store.close_users.get(link.user_id)
        details["user"] = owner.email if owner else link.user_id
    return render_template("close_link.html", title=link.name, details=details)
