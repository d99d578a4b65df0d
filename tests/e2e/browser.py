"""A rep's browser, as plain HTTP: schedsync's pages and OAuth redirects, the sandbox's consent
pages, and the CSRF field every schedsync form carries."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

TIMEOUT = 15


class Forms(HTMLParser):
    """Every <form> of a page: its action, its named inputs and the options of its selects."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}, "options": {}})
        elif not self.forms:
            return
        elif tag == "input" and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")
        elif tag == "select":
            self._select = values.get("name")
            self.forms[-1]["options"][self._select] = []
        elif tag == "option" and self._select:
            self.forms[-1]["options"][self._select].append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_of(html: str) -> list[dict]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def expect(answer: requests.Response, *statuses: int) -> requests.Response:
    assert answer.status_code in statuses, (
        f"{answer.request.method} {answer.url} answered {answer.status_code}, expected "
        f"{statuses}:\n{answer.text[:2000]}"
    )
    return answer


class Browser:
    """One rep's browser session on schedsync (cookies kept; the sandbox is visited cookie-free,
    as a provider's consent page on another site would be)."""

    def __init__(self, web: str):
        self.web = web
        self.http = requests.Session()
        self.authorize_urls: dict[str, str] = {}  # provider → the last authorization URL

    def page(self) -> str:
        return expect(self.http.get(f"{self.web}/", timeout=TIMEOUT), 200).text

    def csrf_token(self) -> str:
        for form in forms_of(self.page()):
            if "csrf_token" in form["fields"]:
                return form["fields"]["csrf_token"]
        raise AssertionError("the connect page has no form with a csrf_token")

    def post_form(self, path: str, **fields: str) -> requests.Response:
        data = {"csrf_token": self.csrf_token(), **fields}
        return self.http.post(
            f"{self.web}{path}", data=data, allow_redirects=False, timeout=TIMEOUT
        )

    def authorize(self, start_path: str, user_id: str) -> requests.Response:
        """Start an OAuth flow, allow it on the sandbox's consent page as `user_id`, and come back
        through the callback; returns the callback's answer."""
        start = expect(self.http.get(f"{self.web}{start_path}", allow_redirects=False), 302)
        authorize_url = start.headers["Location"]
        self.authorize_urls[start_path.split("/")[2]] = authorize_url
        consent = expect(requests.get(authorize_url, timeout=TIMEOUT), 200)
        (form,) = forms_of(consent.text)
        assert user_id in form["options"]["user_id"], f"{user_id} is not on the consent page"
        decision = requests.post(
            urljoin(authorize_url, form["action"]),
            data={**form["fields"], "user_id": user_id, "decision": "allow"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        callback = expect(decision, 302).headers["Location"]
        assert callback.startswith(f"{self.web}/oauth/"), callback
        return self.http.get(callback, allow_redirects=False, timeout=TIMEOUT)

    def sign_in(self, close_user_id: str) -> None:
        answer = expect(self.authorize("/oauth/close/start", close_user_id), 302)
        assert answer.headers["Location"] in ("/", f"{self.web}/"), answer.headers["Location"]

    def connect(self, provider: str, user_id: str) -> None:
        answer = expect(self.authorize(f"/oauth/{provider}/start", user_id), 302)
        assert answer.headers["Location"] in ("/", f"{self.web}/"), answer.headers["Location"]

    def connect_savvycal_token(self, token: str) -> None:
        expect(self.post_form("/connections/savvycal/token", token=token), 303)

    def disconnect(self, provider: str) -> None:
        expect(self.post_form(f"/connections/{provider}/disconnect"), 303)
