"""Marshmallow schemas for the provider payloads we read. Unknown fields are ignored: every
provider documents that it adds fields over time. A payload that fails to load is a BadResponse."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from worker.providers.errors import BadResponse


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


def _opt_str() -> fields.Field:
    return fields.String(allow_none=True, load_default=None)


class CalendlyProfileSchema(_Lenient):
    """Whose event type it is: `type` "User" (a personal one, `owner` the user's URI) or "Team"."""

    type = _opt_str()
    name = _opt_str()
    owner = _opt_str()


class CalendlyEventTypeSchema(_Lenient):
    uri = fields.String(required=True)
    name = _opt_str()
    active = fields.Boolean(required=True)
    scheduling_url = _opt_str()
    duration = fields.Integer(allow_none=True, load_default=None)
    kind = _opt_str()
    pooling_type = _opt_str()
    type = _opt_str()
    description_plain = _opt_str()
    slug = _opt_str()  # what a team link's calendly_slug is matched against (CONTRACT §6)
    deleted_at = _opt_str()
    secret = fields.Boolean(allow_none=True, load_default=None)
    profile = fields.Nested(CalendlyProfileSchema, allow_none=True, load_default=None)


class CalendlyUserSchema(_Lenient):
    uri = fields.String(required=True)
    email = _opt_str()
    name = _opt_str()
    current_organization = _opt_str()


class CalendlyWebhookSchema(_Lenient):
    uri = fields.String(required=True)
    callback_url = fields.String(required=True)
    state = fields.String(required=True)
    events = fields.List(fields.String(), load_default=list)


class SavvyCalScopeSchema(_Lenient):
    id = _opt_str()
    name = _opt_str()
    slug = _opt_str()


class SavvyCalLinkSchema(_Lenient):
    id = fields.String(required=True)
    state = fields.String(required=True)
    slug = _opt_str()
    name = _opt_str()
    description = _opt_str()
    durations = fields.List(fields.Integer(), allow_none=True, load_default=None)
    default_duration = fields.Integer(allow_none=True, load_default=None)
    scope = fields.Nested(SavvyCalScopeSchema, allow_none=True, load_default=None)


class SavvyCalUserSchema(_Lenient):
    id = fields.String(required=True)
    email = _opt_str()
    display_name = _opt_str()


class CloseLinkSchema(_Lenient):
    id = fields.String(required=True)
    source = fields.String(required=True)
    type = _opt_str()
    user_id = _opt_str()
    source_id = _opt_str()
    oauth_client_id = _opt_str()
    name = _opt_str()
    url = _opt_str()
    description = _opt_str()
    source_type = _opt_str()
    duration_in_minutes = fields.Integer(allow_none=True, load_default=None)


class CloseSharedLinkSchema(_Lenient):
    id = fields.String(required=True)
    name = _opt_str()
    description = _opt_str()
    template_tag = _opt_str()
    organization_id = _opt_str()
    type = _opt_str()


def load(schema: Schema, data: Any, provider: str, what: str) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        fields_named = ", ".join(sorted(exc.messages)) if isinstance(exc.messages, dict) else ""
        raise BadResponse(
            f"{provider} sent a {what} that cannot be read ({fields_named or 'bad shape'})",
            provider=provider,
        ) from exc


def load_many(schema: Schema, items: Any, provider: str, what: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise BadResponse(f"{provider} sent a {what} page without a list", provider=provider)
    return [load(schema, item, provider, what) for item in items]
