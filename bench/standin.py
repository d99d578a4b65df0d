"""A stand-in for the three provider APIs holding many accounts at once, with a configurable
delay added to every call (the distance to the real providers), and a record of any call whose
token belongs to another account than the data it asks for or writes.

Account n authenticates as `{provider}-tok-{n}` and is Close user `user_{n:05d}`. Only what full
and targeted syncs read and write is served: Calendly event types (list and by uuid), SavvyCal
links, Close scheduling links (list, upsert, delete). Loopback only.

    .venv/bin/python -m bench.standin --port 0 --accounts 300 [--event-types 5 --links 5]

prints `standin http://127.0.0.1:PORT` once it listens. Control: `POST /_standin/latency`
`{"ms": 100}`, `GET /_standin/stats` (request counts, leaks), `DELETE /_standin/stats`,
`POST /_standin/close_links` (links as a first sync leaves them, for a benchmark's short mode).
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

OUR_CLIENT = "oa2client_standin"
TOKEN = re.compile(r"^Bearer (close|calendly|savvycal)-tok-(\d+)$")


def close_user(n: int) -> str:
    return f"user_{n:05d}"


def calendly_user_uri(base: str, n: int) -> str:
    return f"{base}/calendly/users/U{n:05d}"


def event_type_uuid(n: int, i: int) -> str:
    return f"E{n:05d}X{i:03d}"


class World:
    def __init__(self, base: str = "", accounts: int = 0, event_types: int = 5, links: int = 5):
        self.lock = threading.Lock()
        self.base = base
        self.latency = 0.0
        self.requests: Counter[str] = Counter()
        self.leaks: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most calls answered at once: proof of concurrency
        self.event_types: dict[int, list[dict]] = {}
        self.savvycal_links: dict[int, list[dict]] = {}
        self.close_links: dict[int, dict[str, dict]] = {}
        self.seed(accounts, event_types, links)

    def seed(self, accounts: int, event_types: int, links: int) -> None:
        for n in range(accounts):
            self.seed_one(n, event_types, links)

    def seed_one(self, n: int, event_types: int, links: int) -> None:
        owner = calendly_user_uri(self.base, n)
        self.event_types[n] = [
            {
                "uri": f"{self.base}/calendly/event_types/{event_type_uuid(n, i)}",
                "name": f"Meeting {i} of {n}",
                "active": True,
                "slug": f"meeting-{i}",
                "scheduling_url": f"https://calendly.example/u{n}/meeting-{i}",
                "duration": 15 + 15 * i,
                "kind": "solo",
                "pooling_type": None,
                "type": "StandardEventType",
                "description_plain": f"Meeting {i} with rep {n}",
                "deleted_at": None,
                "secret": False,
                "profile": {"type": "User", "name": f"Rep {n}", "owner": owner},
            }
            for i in range(event_types)
        ]
        self.savvycal_links[n] = [
            {
                "id": f"link_{n:05d}_{i:03d}",
                "state": "active",
                "slug": f"chat-{i}",
                "name": f"Chat {i} of {n}",
                "description": "",
                "durations": [20, 40],
                "default_duration": None,
                "scope": {"id": f"scope_{n}", "name": f"Rep {n}", "slug": f"rep{n}"},
            }
            for i in range(links)
        ]
        self.close_links.setdefault(n, {})

    def upsert(self, n: int, body: dict) -> dict:
        """Close's upsert by source_id, into account n's links."""
        with self.lock:
            links = self.close_links.setdefault(n, {})
            link = links.setdefault(
                body["source_id"],
                {
                    "id": f"schlnk_{n:05d}_{len(links):03d}",
                    "source": "THIRD_PARTY",
                    "type": "USER",
                    "user_id": close_user(n),
                    "oauth_client_id": OUR_CLIENT,
                },
            )
            link.update(body)
            return dict(link)

    def leak(self, what: str) -> None:
        with self.lock:
            self.leaks.append(what)

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "leaks": list(self.leaks),
                "max_in_flight": self.max_in_flight,
            }


def make_handler(world: World):
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as the real providers: a pooled connection serves many calls. Headers and
        # body leave in two writes; with Nagle's algorithm on, the body would wait for the
        # client's delayed ACK (40 ms on Linux) and "0 ms added" would be 40.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: object | None = None) -> None:
            if getattr(self, "_counted", False):
                self._counted = False
                with world.lock:
                    world.in_flight -= 1
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else {}

        def _caller(self, provider: str) -> int | None:
            """The account whose token came with the call; None (after a 401) for another
            provider's token or none."""
            found = TOKEN.match(self.headers.get("Authorization", ""))
            if found is None or found.group(1) != provider:
                self._send(401, {"error": "invalid_token"})
                return None
            return int(found.group(2))

        def _begin(self) -> tuple[str, dict]:
            parts = urlsplit(self.path)
            if not parts.path.startswith("/_standin/"):
                template = re.sub(r"/integration/.+/$", "/integration/{id}/", parts.path)
                template = re.sub(r"/event_types/.+$", "/event_types/{uuid}", template)
                with world.lock:
                    world.requests[f"{self.command} {template}"] += 1
                    world.in_flight += 1
                    world.max_in_flight = max(world.max_in_flight, world.in_flight)
                    delay = world.latency
                self._counted = True
                if delay:
                    time.sleep(delay)
            return parts.path, parse_qs(parts.query)

        def do_GET(self) -> None:
            path, qs = self._begin()
            if path == "/_standin/stats":
                self._send(200, world.stats())
            elif path == "/calendly/event_types":
                n = self._caller("calendly")
                if n is None:
                    return
                user = qs.get("user", [""])[0]
                if user != calendly_user_uri(world.base, n):
                    world.leak(f"calendly token of {n} listed {user}")
                    self._send(403, {"title": "Permission Denied"})
                    return
                page = world.event_types.get(n, [])
                self._send(200, {"collection": page, "pagination": {"next_page_token": None}})
            elif path.startswith("/calendly/event_types/"):
                n = self._caller("calendly")
                if n is None:
                    return
                uuid = path.rsplit("/", 1)[-1]
                found = [e for e in world.event_types.get(n, []) if e["uri"].endswith(uuid)]
                if not found:
                    if not uuid.startswith(f"E{n:05d}"):
                        world.leak(f"calendly token of {n} read event type {uuid}")
                    self._send(404, {"title": "Resource Not Found"})
                    return
                self._send(200, {"resource": found[0]})
            elif path == "/savvycal/links":
                n = self._caller("savvycal")
                if n is not None:
                    entries = world.savvycal_links.get(n, [])
                    self._send(200, {"entries": entries, "metadata": {"after": None}})
            elif path == "/close/scheduling_link/":
                n = self._caller("close")
                if n is None:
                    return
                with world.lock:
                    links = list(world.close_links.get(n, {}).values())
                skip = int(qs.get("_skip", ["0"])[0])
                limit = int(qs.get("_limit", ["100"])[0])
                page = links[skip : skip + limit]
                self._send(200, {"data": page, "has_more": skip + len(page) < len(links)})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            path, _ = self._begin()
            body = self._body()
            if path == "/_standin/latency":
                with world.lock:
                    world.latency = float(body.get("ms", 0)) / 1000.0
                self._send(200, {"latency_ms": body.get("ms", 0)})
                return
            if path == "/_standin/close_links":
                # Links as a first sync would have left them: {"accounts": {n: [payload, ...]}}
                for n, payloads in body["accounts"].items():
                    for payload in payloads:
                        world.upsert(int(n), payload)
                self._send(200, {"accounts": len(body["accounts"])})
                return
            if path != "/close/scheduling_link/integration/":
                self._send(404, {"error": "not found"})
                return
            n = self._caller("close")
            if n is None:
                return
            source_id = str(body.get("source_id", ""))
            if not source_id.endswith(":" + close_user(n)):
                world.leak(f"close token of {n} upserted {source_id}")
                self._send(400, {"error": "source_id of another user"})
                return
            self._send(200, world.upsert(n, body))

        def do_DELETE(self) -> None:
            path, _ = self._begin()
            if path == "/_standin/stats":
                with world.lock:
                    world.requests.clear()
                    world.leaks.clear()
                    world.max_in_flight = 0
                self._send(200, {})
                return
            n = self._caller("close")
            if n is None:
                return
            source_id = unquote(path.rstrip("/").rsplit("/", 1)[-1])
            with world.lock:
                gone = world.close_links.get(n, {}).pop(source_id, None)
            self._send(204 if gone else 404)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def serve(
    accounts: int, event_types: int = 5, links: int = 5, port: int = 0
) -> tuple[Server, World]:
    """Serve `accounts` accounts from a thread of this process; `world.base` is the URL."""
    server = Server(("127.0.0.1", port), BaseHTTPRequestHandler)
    world = World(f"http://127.0.0.1:{server.server_address[1]}", accounts, event_types, links)
    server.RequestHandlerClass = make_handler(world)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--event-types", type=int, default=5)
    parser.add_argument("--links", type=int, default=5)
    args = parser.parse_args()
    server, world = serve(args.accounts, args.event_types, args.links, args.port)
    print(f"standin {world.base}", flush=True)
    threading.Event().wait()  # until the bench stops this process


if __name__ == "__main__":
    main()
