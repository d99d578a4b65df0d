"""Calendly API v2: the user, event types, webhook subscriptions (reference/calendly-api.md)."""

from __future__ import annotations

from typing import Any

import requests

from worker.providers.errors import BadResponse, NotFound
from worker.providers.http import HttpClient, header_number, json_object
from worker.providers.schemas import (
    CalendlyEventTypeSchema,
    CalendlyUserSchema,
    CalendlyWebhookSchema,
    load,
    load_many,
)

PAGE_SIZE = 100
EVENT_TYPE_EVENTS = ("event_type.created", "event_type.updated", "event_type.deleted")
_event_types = CalendlyEventTypeSchema()
_users = CalendlyUserSchema()
_webhooks = CalendlyWebhookSchema()


def uuid_of(uri: str) -> str:
    """The last path segment of a Calendly resource URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


class CalendlyClient(HttpClient):
    provider = "calendly"

    def rate_limit_state(self, response: requests.Response) -> tuple[int | None, float | None]:
        remaining = header_number(response.headers.get("X-RateLimit-Remaining"))
        reset = header_number(response.headers.get("X-RateLimit-Reset"))
        return (None if remaining is None else int(remaining)), reset

    def retry_after(self, response: requests.Response) -> float:
        reset = header_number(response.headers.get("X-RateLimit-Reset"))
        if reset is not None:
            return max(reset, 0.0)
        # Calendly documents X-RateLimit-Reset only; its window is typically 60 s.
        return header_number(response.headers.get("Retry-After")) or 60.0

    def rate_key(self, group: str) -> str:
        # Calendly limits per user, across all endpoints.
        return f"calendly:{self.rate_owner}:api"

    def me(self) -> dict[str, Any]:
        body = self.get_json("/users/me")
        return load(_users, body.get("resource"), "calendly", "user")

    def event_types(self, user_uri: str) -> list[dict[str, Any]]:
        """All event types of the user, personal and team ones, following `page_token`."""
        return self.paginate(
            "/event_types",
            {"user": user_uri, "count": PAGE_SIZE},
            items_of=lambda body: load_many(
                _event_types, body.get("collection"), "calendly", "event type"
            ),
            cursor_of=_next_page_token,
            cursor_param="page_token",
        )

    def event_type(self, uuid: str) -> dict[str, Any]:
        body = self.get_json(f"/event_types/{uuid}")
        return load(_event_types, body.get("resource"), "calendly", "event type")

    def create_webhook(
        self, *, url: str, organization: str, user: str, signing_key: str
    ) -> dict[str, Any]:
        response = self.request(
            "POST",
            "/webhook_subscriptions",
            json={
                "url": url,
                "events": list(EVENT_TYPE_EVENTS),
                "organization": organization,
                "user": user,
                "scope": "user",
                "signing_key": signing_key,
            },
        )
        body = json_object(response, "calendly")
        return load(_webhooks, body.get("resource"), "calendly", "webhook subscription")

    def webhook(self, uuid: str) -> dict[str, Any]:
        body = self.get_json(f"/webhook_subscriptions/{uuid}")
        return load(_webhooks, body.get("resource"), "calendly", "webhook subscription")

    def webhooks(self, *, organization: str, user: str) -> list[dict[str, Any]]:
        return self.paginate(
            "/webhook_subscriptions",
            {"organization": organization, "user": user, "scope": "user", "count": PAGE_SIZE},
            items_of=lambda body: load_many(
                _webhooks, body.get("collection"), "calendly", "webhook"
            ),
            cursor_of=_next_page_token,
            cursor_param="page_token",
        )

    def delete_webhook(self, uuid: str) -> bool:
        """False when Calendly says it is already gone."""
        try:
            self.request("DELETE", f"/webhook_subscriptions/{uuid}")
        except NotFound:
            return False
        return True


def _next_page_token(body: dict[str, Any]) -> Any:
    pagination = body.get("pagination")
    if not isinstance(pagination, dict):
        raise BadResponse("calendly sent a page without pagination", provider="calendly")
    return pagination.get("next_page_token")
