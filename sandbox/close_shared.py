"""Close shared scheduling links and their per-user mappings (reference/close-api.md §1.5).

Only a user with Manage Customizations may create, change or delete a shared link; a mapping may
be made (or removed) by such a user or by the owner of the user link (Close's scheduling-links
guide). Everyone else is answered 403. Statuses as documented: 201 on create and map, 200 on
update and unmap, 204 on delete; 404 for an unknown link or a user who is not mapped.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request

from .close import bp, close_api
from .context import current_sandbox
from .ids import close_id
from .store import CloseSharedLink, CloseUser, Store

_FORBIDDEN = "You need the Manage Customizations permission to do this."
_MISSING = "Object does not exist."


def shared_link_json(link: CloseSharedLink) -> dict[str, Any]:
    return {
        "description": link.description,
        "duration_in_minutes": None,
        "id": link.id,
        "name": link.name,
        "organization_id": link.organization_id,
        "source": "MANUAL",
        "source_id": None,
        "source_type": None,
        "template_tag": link.template_tag,
        "type": "SHARED",
        "url": None,
        "user_id": None,
    }


def _template_tag(store: Store, organization_id: str, name: str) -> str:
    """ "Name" → "name" (Close's example); made unique within the organization."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "link"
    taken = {
        s.template_tag
        for s in store.close_shared_links.values()
        if s.organization_id == organization_id
    }
    tag, n = base, 1
    while tag in taken:
        n += 1
        tag = f"{base}_{n}"
    return tag


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True) if request.is_json else None
    return body if isinstance(body, dict) else None


def _shared(store: Store, user: CloseUser, link_id: str) -> CloseSharedLink | None:
    link = store.close_shared_links.get(link_id)
    return link if link is not None and link.organization_id == user.organization_id else None


@bp.get("/api/v1/shared_scheduling_link/")
@close_api
def list_shared(user: CloseUser) -> Any:
    store = current_sandbox().store
    with store.lock:
        links = [
            shared_link_json(s)
            for s in store.close_shared_links.values()
            if s.organization_id == user.organization_id
        ]
    return jsonify(data=links, has_more=False)


@bp.post("/api/v1/shared_scheduling_link/")
@close_api
def create_shared(user: CloseUser) -> Any:
    body = _body()
    if body is None or not isinstance(body.get("name"), str) or not body["name"].strip():
        return jsonify({"errors": [], "field-errors": {"name": "This field is required."}}), 400
    if not user.manage_customizations:
        return jsonify(error=_FORBIDDEN), 403
    store = current_sandbox().store
    with store.lock:
        link = CloseSharedLink(
            id=close_id(store.rng, "schlnk"),
            organization_id=user.organization_id,
            name=body["name"],
            description=body.get("description"),
            template_tag=_template_tag(store, user.organization_id, body["name"]),
        )
        store.close_shared_links[link.id] = link
        return jsonify(shared_link_json(link)), 201


@bp.get("/api/v1/shared_scheduling_link/<link_id>/")
@close_api
def get_shared(user: CloseUser, link_id: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        link = _shared(store, user, link_id)
        if link is None:
            return jsonify(error=_MISSING), 404
        return jsonify(shared_link_json(link))


@bp.put("/api/v1/shared_scheduling_link/<link_id>/")
@close_api
def update_shared(user: CloseUser, link_id: str) -> Any:
    body = _body()
    if body is None:
        return jsonify({"errors": ["Request body must be a JSON object."], "field-errors": {}}), 400
    store = current_sandbox().store
    with store.lock:
        link = _shared(store, user, link_id)
        if link is None:
            return jsonify(error=_MISSING), 404
        if not user.manage_customizations:
            return jsonify(error=_FORBIDDEN), 403
        # Close's PUT behaves as a PATCH.
        for name in ("name", "description"):
            if name in body:
                setattr(link, name, body[name])
        return jsonify(shared_link_json(link))


@bp.delete("/api/v1/shared_scheduling_link/<link_id>/")
@close_api
def delete_shared(user: CloseUser, link_id: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        link = _shared(store, user, link_id)
        if link is None:
            return jsonify(error=_MISSING), 404
        if not user.manage_customizations:
            return jsonify(error=_FORBIDDEN), 403
        del store.close_shared_links[link_id]
    return Response(status=204)


@bp.post("/api/v1/shared_scheduling_link_association/")
@close_api
def map_shared(user: CloseUser) -> Any:
    body = _body()
    required = ("organization_id", "shared_scheduling_link_id", "user_id")
    if body is None or any(not isinstance(body.get(k), str) for k in required):
        return jsonify(
            {"errors": [], "field-errors": {k: "This field is required." for k in required}}
        ), 400
    if not isinstance(body.get("user_scheduling_link_id"), str):
        # The URL form of a mapping exists in Close; schedsync maps user links only.
        return jsonify(error="The sandbox maps to user scheduling links only."), 400
    store = current_sandbox().store
    with store.lock:
        link = _shared(store, user, body["shared_scheduling_link_id"])
        target = store.close_links.get(body["user_scheduling_link_id"])
        if link is None or target is None or target.user_id != body["user_id"]:
            return jsonify(error=_MISSING), 404
        if not user.manage_customizations and target.user_id != user.id:
            return jsonify(error=_FORBIDDEN), 403
        link.mappings[body["user_id"]] = target.id
    answer = {k: body[k] for k in required} | {
        "url": None,
        "user_scheduling_link_id": body["user_scheduling_link_id"],
    }
    return jsonify(answer), 201


@bp.post("/api/v1/shared_scheduling_link_association/unmap/")
@close_api
def unmap_shared(user: CloseUser) -> Any:
    body = _body()
    required = ("organization_id", "shared_scheduling_link_id", "user_id")
    if body is None or any(not isinstance(body.get(k), str) for k in required):
        return jsonify(
            {"errors": [], "field-errors": {k: "This field is required." for k in required}}
        ), 400
    store = current_sandbox().store
    with store.lock:
        link = _shared(store, user, body["shared_scheduling_link_id"])
        if link is None or body["user_id"] not in link.mappings:
            return jsonify(error=_MISSING), 404
        if not user.manage_customizations and body["user_id"] != user.id:
            return jsonify(error=_FORBIDDEN), 403
        del link.mappings[body["user_id"]]
    return jsonify({})
