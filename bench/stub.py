"""A minimal local stand-in for the three provider APIs, counting every request it answers.

Only what a full sync reads and writes: Calendly event types (keyset pages), SavvyCal links
(cursor pages), Close scheduling links (list with _skip/_limit, upsert, delete). Loopback only.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

OUR_CLIENT = "oa2client_bench"


class World:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.event_types: list[dict] = []
        self.savvycal_links: list[dict] = []
        self.close_links: dict[str, dict] = {}  # source_id -> link
        self.requests: Counter[str] = Counter()

    def seed(self, base: str, event_types: int, savvycal_links: int) -> None:
        self.event_types = [
            {
                "uri": f"{base}/calendly/event_types/ET{i:05d}",
                "name": f"Event type {i}",
                "active": True,
                "scheduling_url": f"https://calendly.example/acme/et{i}",
                "duration": 30,
                "kind": "solo",
                "pooling_type": None,
                "type": "StandardEventType",
                "description_plain": f"Description {i}",
                "deleted_at": None,
                "secret": False,
            }
            for i in range(event_types)
        ]
        self.savvycal_links = [
            {
                "id": f"link_{i:05d}",
                "state": "active",
                "slug": f"l{i}",
                "name": f"Link {i}",
                "description": "",
                "durations": [15, 30],
                "default_duration": None,
                "scope": {"id": "scope_1", "name": "Acme", "slug": "acme"},
            }
            for i in range(savvycal_links)
        ]


def make_handler(world: World):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: object | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _count(self) -> tuple[str, dict]:
            parts = urlsplit(self.path)
            template = re.sub(r"/integration/.+/$", "/integration/{source_id}/", parts.path)
            with world.lock:
                world.requests[f"{self.command} {template}"] += 1
            return parts.path, parse_qs(parts.query)

        def do_GET(self) -> None:
            path, qs = self._count()
            if path == "/calendly/event_types":
                start = int(qs.get("page_token", ["0"])[0])
                count = int(qs.get("count", ["20"])[0])
                page = world.event_types[start : start + count]
                nxt = str(start + count) if start + count < len(world.event_types) else None
                self._send(200, {"collection": page, "pagination": {"next_page_token": nxt}})
            elif path.startswith("/calendly/event_types/"):
                with world.lock:
                    found = [e for e in world.event_types if e["uri"].endswith(path[9:])]
                self._send(200, {"resource": found[0]}) if found else self._send(404, {})
            elif path == "/savvycal/links":
                start = int(qs.get("after", ["0"])[0])
                limit = int(qs.get("limit", ["20"])[0])
                page = world.savvycal_links[start : start + limit]
                after = str(start + limit) if start + limit < len(world.savvycal_links) else None
                self._send(200, {"entries": page, "metadata": {"after": after, "limit": limit}})
            elif path == "/close/scheduling_link/":
                skip = int(qs.get("_skip", ["0"])[0])
                limit = int(qs.get("_limit", ["100"])[0])
                with world.lock:
                    links = list(world.close_links.values())
                page = links[skip : skip + limit]
                self._send(200, {"data": page, "has_more": skip + len(page) < len(links)})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            path, _ = self._count()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if path != "/close/scheduling_link/integration/":
                self._send(404, {"error": "not found"})
                return
            with world.lock:
                link = world.close_links.setdefault(
                    body["source_id"],
                    {
                        "id": f"schlnk_{len(world.close_links)}",
                        "source": "THIRD_PARTY",
                        "type": "USER",
                        "user_id": "user_bench",
                        "oauth_client_id": OUR_CLIENT,
                    },
                )
                link.update(body)
            self._send(200, link)

        def do_DELETE(self) -> None:
            path, _ = self._count()
            source_id = unquote(path.rstrip("/").rsplit("/", 1)[-1])
            with world.lock:
                gone = world.close_links.pop(source_id, None)
            self._send(204 if gone else 404)

    return Handler


def serve(world: World) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(world))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
