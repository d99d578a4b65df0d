"""Why Calendly refused a webhook subscription, read from its 403 answer (issue 9.11).

Calendly answers a refused `POST /webhook_subscriptions` with 403 and one of a few bodies
(reference/calendly-api.md §2.1, §5): a missing OAuth scope (the body's `required_scopes`, or a
message naming scopes), a plan without webhooks ("Please upgrade your Calendly account to
Standard"), or a user who may not subscribe there ("You do not have permission…"). Since
Calendly's 2026-11-03 release webhooks are on every plan, so a scope is now the likelier cause;
each needs a different person to act, so the connect page and /admin/accounts say which.

Whatever the reason, the connection stays `polling_only`: the periodic resync keeps it in step
and the hourly check asks Calendly again. The reason is stored on the connection as one short
string: the code, then the scopes for a missing scope (`"missing_scope webhooks:write"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MISSING_SCOPE = "missing_scope"
PLAN = "plan"
PERMISSION = "permission"
UNKNOWN = "unknown"

# What creating our subscription needs (CONTRACT §5 Scopes; reference/calendly-api.md §2.1-2.2):
# the create itself, and the event family it delivers. Named when Calendly names none.
SUBSCRIPTION_SCOPES = ("webhooks:write", "event_types:read")

_SCOPE_NAME = re.compile(r"\b[a-z_]+:(?:read|write)\b")
# "scope" as in OAuth scope; "organization scope" and the like are a subscription's own scope
# (only owners and admins may create organization-scoped ones): a permission matter.
_OAUTH_SCOPE_WORD = re.compile(r"(?<!organization )(?<!user )(?<!group )\bscopes?\b")


@dataclass(frozen=True)
class Refusal:
    code: str
    scopes: tuple[str, ...] = ()

    def stored(self) -> str:
        return " ".join((self.code, *self.scopes))

    @classmethod
    def from_stored(cls, value: str | None) -> Refusal | None:
        if not value:
            return None
        code, *scopes = value.split()
        return cls(code, tuple(scopes))

    def words(self) -> str:
        """The reason in a sentence, for an operator or a rep."""
        if self.code == MISSING_SCOPE:
            return (
                "Calendly refused the webhook subscription because schedsync's Calendly app "
                f"lacks the scope {' and '.join(self.scopes or SUBSCRIPTION_SCOPES)}: an "
                "administrator must add it to the app in Calendly's developer console, then "
                "Calendly must be reconnected."
            )
        if self.code == PLAN:
            return (
                "Calendly refused the webhook subscription because this Calendly account's plan "
                "does not include webhooks."
            )
        if self.code == PERMISSION:
            return (
                "Calendly refused the webhook subscription because this Calendly user is not "
                "allowed to create one for their account."
            )
        return "Calendly refused the webhook subscription without saying why."

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "scopes": list(self.scopes), "message": self.words()}


def _texts(body: dict[str, Any]) -> str:
    # Not the title: Calendly titles every 403 "Permission Denied", whatever the reason.
    parts = [body.get("message"), body.get("error"), body.get("error_description")]
    details = body.get("details")
    if isinstance(details, list):
        parts.extend(d.get("message") for d in details if isinstance(d, dict))
    return " ".join(p for p in parts if isinstance(p, str)).lower()


def classify(body: dict[str, Any] | None) -> Refusal:
    """The reason behind a 403 on creating a subscription, from the answer's JSON body."""
    if not isinstance(body, dict):
        return Refusal(UNKNOWN)
    required = body.get("required_scopes")
    if isinstance(required, list):
        scopes = tuple(s for s in required if isinstance(s, str) and _SCOPE_NAME.fullmatch(s))
        if scopes:
            return Refusal(MISSING_SCOPE, scopes)
    text = _texts(body)
    if _OAUTH_SCOPE_WORD.search(text):
        named = tuple(dict.fromkeys(_SCOPE_NAME.findall(text)))
        return Refusal(MISSING_SCOPE, named or SUBSCRIPTION_SCOPES)
    if re.search(r"\bupgrade\b|\bplan\b|\bpaid\b", text):
        return Refusal(PLAN)
    if re.search(r"\bpermission\b|\bnot allowed\b|\bonly subscribe\b", text):
        return Refusal(PERMISSION)
    return Refusal(UNKNOWN)
