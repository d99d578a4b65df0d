"""The JSON each provider answers, built from store records (shapes from shared/reference/)."""

from __future__ import annotations

import html
from typing import Any

from .ids import iso_close, iso_utc
from .store import (
    BASE_PLACEHOLDER,
    CalendlyUser,
    CloseLink,
    CloseUser,
    EventType,
    SavvyLink,
    SavvyUser,
    Store,
    WebhookSubscription,
)

KIND_DESCRIPTIONS = {
    "round_robin": "Round Robin",
    "collective": "Collective",
    "multi_pool": "Multi-Pool",
}


# Close ---------------------------------------------------------------------------------------


def close_link_json(link: CloseLink, base: str) -> dict[str, Any]:
    url = link.url.replace(BASE_PLACEHOLDER, base) if link.url else link.url
    return {
        "description": link.description,
        "duration_in_minutes": link.duration_in_minutes,
        "id": link.id,
        "name": link.name,
        "oauth_client_id": link.oauth_client_id,
        "organization_id": link.organization_id,
        "source": link.source,
        "source_id": link.source_id,
        "source_type": link.source_type,
        "template_tag": None,
        "type": "USER",
        "url": url,
        "user_id": link.user_id,
    }


def close_me_json(store: Store, user: CloseUser) -> dict[str, Any]:
    org = store.close_orgs[user.organization_id]
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image": None,
        "last_used_timezone": "America/New_York",
        "date_created": iso_close(user.created_at),
        "date_updated": iso_close(user.created_at),
        "organizations": [{"id": org.id, "name": org.name}],
        "memberships": [
            {
                "id": "memb_" + user.id.split("_", 1)[1][:22],
                "organization_id": org.id,
                "user_id": user.id,
                "role_id": "admin",
            }
        ],
        "email_accounts": [],
        "phone_numbers": [],
    }


# Calendly ------------------------------------------------------------------------------------


def calendly_api(base: str) -> str:
    return f"{base}/calendly/api"


def calendly_user_uri(base: str, uuid: str) -> str:
    return f"{calendly_api(base)}/users/{uuid}"


def calendly_org_uri(base: str, uuid: str) -> str:
    return f"{calendly_api(base)}/organizations/{uuid}"


def calendly_user_json(user: CalendlyUser, base: str) -> dict[str, Any]:
    return {
        "uri": calendly_user_uri(base, user.uuid),
        "name": user.name,
        "slug": user.slug,
        "email": user.email,
        "scheduling_url": f"{base}/calendly/book/{user.slug}",
        "timezone": user.timezone,
        "avatar_url": None,
        "locale": "en",
        "resource_type": "User",
        "created_at": iso_utc(user.created_at),
        "updated_at": iso_utc(user.updated_at),
        "current_organization": calendly_org_uri(base, user.organization_uuid),
    }


def scheduling_url(event_type: EventType, base: str) -> str:
    return f"{base}/calendly/book/{event_type.owner_slug}/{event_type.slug}"


def event_type_json(event_type: EventType, base: str) -> dict[str, Any]:
    et = event_type
    description_html = (
        f"<p>{html.escape(et.description_plain)}</p>" if et.description_plain else None
    )
    if et.pooling_type:
        kind_description = KIND_DESCRIPTIONS[et.pooling_type]
    else:
        kind_description = "One-on-One" if et.kind == "solo" else "Group"
    return {
        "uri": f"{calendly_api(base)}/event_types/{et.uuid}",
        "name": et.name,
        "active": et.active,
        "booking_method": et.booking_method,
        "slug": et.slug,
        "scheduling_url": scheduling_url(et, base),
        "duration": et.duration,
        "duration_options": None,
        "kind": et.kind,
        "pooling_type": et.pooling_type,
        "type": et.type,
        "color": et.color,
        "created_at": iso_utc(et.created_at),
        "updated_at": iso_utc(et.updated_at),
        "internal_note": et.internal_note,
        "description_plain": et.description_plain,
        "description_html": description_html,
        "profile": {
            "type": et.profile_type,
            "name": et.profile_name,
            "owner": f"{calendly_api(base)}/{et.profile_owner_path}",
        },
        "secret": et.secret,
        "deleted_at": iso_utc(et.deleted_at) if et.deleted_at is not None else None,
        "admin_managed": et.admin_managed,
        "custom_questions": et.custom_questions,
        "kind_description": kind_description,
        "position": et.position,
        "locations": None,
    }


def subscription_json(sub: WebhookSubscription, base: str) -> dict[str, Any]:
    """Calendly never returns the signing key, so neither does this."""
    return {
        "uri": f"{calendly_api(base)}/webhook_subscriptions/{sub.uuid}",
        "callback_url": sub.callback_url,
        "created_at": iso_utc(sub.created_at),
        "updated_at": iso_utc(sub.updated_at),
        "retry_started_at": iso_utc(sub.retry_started_at) if sub.retry_started_at else None,
        "state": sub.state,
        "events": list(sub.events),
        "scope": sub.scope,
        "organization": calendly_org_uri(base, sub.organization_uuid),
        "user": calendly_user_uri(base, sub.user_uuid) if sub.user_uuid else None,
        "group": None,
        "creator": calendly_user_uri(base, sub.creator_uuid),
    }


# SavvyCal ------------------------------------------------------------------------------------


def savvy_me_json(user: SavvyUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "avatar_url": None,
        "first_day_of_week": user.first_day_of_week,
        "time_format": user.time_format,
        "time_zone": user.time_zone,
        "plan": user.plan,
    }


def savvy_link_json(store: Store, link: SavvyLink) -> dict[str, Any]:
    scope = store.savvy_scopes.get(link.scope_id) if link.scope_id else None
    return {
        "id": link.id,
        "state": link.state,
        "slug": link.slug,
        "name": link.name,
        "private_name": link.private_name,
        "description": link.description,
        "durations": list(link.durations),
        "default_duration": link.default_duration,
        "scope": {"id": scope.id, "name": scope.name, "slug": scope.slug} if scope else None,
        "fields": list(link.fields),
    }


def savvy_booking_url(store: Store, link: SavvyLink, base: str) -> str | None:
    scope = store.savvy_scopes.get(link.scope_id) if link.scope_id else None
    return f"{base}/savvycal/book/{scope.slug}/{link.slug}" if scope else None
