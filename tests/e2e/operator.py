"""The operator's side of the running service: the admin API (CONTRACT §3)."""

from __future__ import annotations

from typing import Any

import requests

from tests.processes import wait_for

TIMEOUT = 10


class Admin:
    def __init__(self, web: str, token: str, timeout: float = TIMEOUT):
        self.web = web
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def account(self, close_user_id: str) -> dict[str, Any]:
        answer = self.http.get(f"{self.web}/admin/accounts/{close_user_id}", timeout=self.timeout)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def accounts(self) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.web}/admin/accounts", timeout=self.timeout)
        assert answer.status_code == 200, answer.text
        return answer.json()["accounts"]

    def resync(self, close_user_id: str | None = None) -> dict[str, Any]:
        body = {} if close_user_id is None else {"account": close_user_id}
        answer = self.http.post(f"{self.web}/admin/resync", json=body, timeout=self.timeout)
        assert answer.status_code == 202, answer.text
        return answer.json()

    def resynced(self, close_user_id: str, requested_at: str) -> dict[str, Any] | None:
        """The account once the resync asked for at `requested_at` has finished (the contract's
        rule: last_sync.started_at >= requested_at and outcome not running), else None."""
        account = self.account(close_user_id)
        last = account["last_sync"]
        if last and last["started_at"] >= requested_at and last["outcome"] != "running":
            return account
        return None

    def wait_resynced(self, close_user_id: str, requested_at: str, timeout: float = 20) -> dict:
        return wait_for(
            lambda: self.resynced(close_user_id, requested_at),
            timeout,
            0.1,
            what=f"the resync of {close_user_id} asked for at {requested_at}",
        )

    def wait_idle(self, close_user_id: str, timeout: float = 20) -> dict[str, Any]:
        """The account once no full sync of it is running."""

        def idle() -> dict[str, Any] | None:
            account = self.account(close_user_id)
            last = account["last_sync"]
            return account if last and last["outcome"] != "running" else None

        return wait_for(idle, timeout, 0.1, what=f"no sync of {close_user_id} running")
