"""Control API for provider data: Calendly event types (these fire webhooks), SavvyCal links and
the links the simulated Close holds (hand edits, to test drift repair)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from .context import base_url, current_sandbox
from .control import bad_request, body_json, bp
from .edits import (
    EditError,
    add_close_link,
    create_event_type,
    create_savvy_link,
    delete_event_type,
    hosts_from,
    update_close_link,
    update_event_type,
    update_savvy_link,
)
from .resources import close_link_json, event_type_json, savvy_booking_url, savvy_link_json


@bp.errorhandler(EditError)
def _edit_error(exc: EditError) -> tuple[Response, int]:
    return bad_request(exc.message, exc.status)


def _not_found(what: str) -> tuple[Response, int]:
    return bad_request(f"unknown {what}", 404)


# Calendly event types --------------------------------------------------------------------------


def _event_type_answer(event_type: Any, status: int = 200) -> tuple[Response, int]:
    body = {**event_type_json(event_type, base_url()), "hosts": list(event_type.hosts)}
    return jsonify(resource=body, uuid=event_type.uuid), status


@bp.get("/calendly/event_types")
def list_event_types() -> Any:
    """Every event type, deleted ones included; `?user=` (uuid, URI or email) narrows to a host."""
    store = current_sandbox().store
    with store.lock:
        types = list(store.event_types.values())
        if request.args.get("user"):
            host = store.calendly_user_by_ref(request.args["user"])
            if host is None:
                return _not_found("Calendly user")
            types = [e for e in types if host.uuid in e.hosts]
        base = base_url()
        return jsonify(event_types=[{**event_type_json(e, base), "hosts": e.hosts} for e in types])


@bp.post("/calendly/event_types")
def create_event_type_route() -> Any:
    sandbox = current_sandbox()
    body = body_json()
    event_type = create_event_type(
        sandbox.store, hosts_from(sandbox.store, body), body, sandbox.notifier(base_url())
    )
    return _event_type_answer(event_type, 201)


@bp.patch("/calendly/event_types/<uuid>")
def update_event_type_route(uuid: str) -> Any:
    sandbox = current_sandbox()
    event_type = sandbox.store.event_types.get(uuid)
    if event_type is None:
        return _not_found("event type")
    update_event_type(sandbox.store, event_type, body_json(), sandbox.notifier(base_url()))
    return _event_type_answer(event_type)


@bp.delete("/calendly/event_types/<uuid>")
def delete_event_type_route(uuid: str) -> Any:
    sandbox = current_sandbox()
    event_type = sandbox.store.event_types.get(uuid)
    if event_type is None:
        return _not_found("event type")
    delete_event_type(sandbox.store, event_type, sandbox.notifier(base_url()))
    return _event_type_answer(event_type)


# SavvyCal links --------------------------------------------------------------------------------


def _savvy_answer(link: Any, status: int = 200) -> tuple[Response, int]:
    store = current_sandbox().store
    with store.lock:
        body = {
            **savvy_link_json(store, link),
            "owner_id": link.owner_id,
            "booking_url": savvy_booking_url(store, link, base_url()),
        }
    return jsonify(body), status


@bp.get("/savvycal/links")
def list_savvy_links() -> Any:
    store = current_sandbox().store
    with store.lock:
        links = list(store.savvy_links.values())
        if request.args.get("user"):
            user = store.savvy_user_by_ref(request.args["user"])
            if user is None:
                return _not_found("SavvyCal user")
            links = store.savvy_links_visible_to(user)
        base = base_url()
        return jsonify(
            links=[
                {
                    **savvy_link_json(store, link),
                    "owner_id": link.owner_id,
                    "booking_url": savvy_booking_url(store, link, base),
                }
                for link in links
            ]
        )


@bp.post("/savvycal/links")
def create_savvy_link_route() -> Any:
    store = current_sandbox().store
    body = body_json()
    owner = store.savvy_user_by_ref(str(body.get("user", "")))
    if owner is None:
        return _not_found("SavvyCal user (user: id or email)")
    return _savvy_answer(create_savvy_link(store, owner, body), 201)


@bp.patch("/savvycal/links/<link_id>")
def update_savvy_link_route(link_id: str) -> Any:
    store = current_sandbox().store
    link = store.savvy_links.get(link_id)
    if link is None:
        return _not_found("SavvyCal link")
    return _savvy_answer(update_savvy_link(store, link, body_json()))


@bp.delete("/savvycal/links/<link_id>")
def delete_savvy_link_route(link_id: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        if store.remove_savvy_link(link_id) is None:
            return _not_found("SavvyCal link")
    return Response(status=204)


# Close links -----------------------------------------------------------------------------------


@bp.get("/close/links")
def list_close_links() -> Any:
    store = current_sandbox().store
    base = base_url()
    with store.lock:
        if request.args.get("user_id"):
            user = store.close_user_by_ref(request.args["user_id"])
            if user is None:
                return _not_found("Close user")
            links = list(store.close_links_by_user.get(user.id, {}).values())
        else:
            links = list(store.close_links.values())
        return jsonify(data=[close_link_json(link, base) for link in links])


@bp.post("/close/links")
def add_close_link_route() -> Any:
    store = current_sandbox().store
    body = body_json()
    user = store.close_user_by_ref(str(body.get("user_id", "")))
    if user is None:
        return _not_found("Close user (user_id: id or email)")
    link = add_close_link(store, user, body)
    return jsonify(close_link_json(link, base_url())), 201


@bp.patch("/close/links/<link_id>")
def update_close_link_route(link_id: str) -> Any:
    store = current_sandbox().store
    link = store.close_links.get(link_id)
    if link is None:
        return _not_found("Close link")
    return jsonify(close_link_json(update_close_link(store, link, body_json()), base_url()))


@bp.delete("/close/links/<link_id>")
def delete_close_link_route(link_id: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        if store.remove_close_link(link_id) is None:
            return _not_found("Close link")
    return Response(status=204)


@bp.patch("/close/users/<ref>")
def update_close_user_route(ref: str) -> Any:
    """`{"manage_customizations": true}` lets the user manage shared links (team links)."""
    store = current_sandbox().store
    body = body_json()
    with store.lock:
        user = store.close_user_by_ref(ref)
        if user is None:
            return _not_found("Close user")
        if "manage_customizations" in body:
            user.manage_customizations = bool(body["manage_customizations"])
        return jsonify(vars(user))


@bp.delete("/close/shared_links/<link_id>")
def delete_shared_link_route(link_id: str) -> Any:
    """A shared link deleted by hand in Close."""
    store = current_sandbox().store
    with store.lock:
        if store.close_shared_links.pop(link_id, None) is None:
            return _not_found("shared link")
    return Response(status=204)
