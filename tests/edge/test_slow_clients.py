"""Dozens of slow clients do not take the web process away from anyone else: while 50 of them
are held (reopened whenever the server drops one), /healthz and a signed Calendly delivery are
answered within a second; the server cuts each slow request off at its deadline (issue 14)."""

from __future__ import annotations

import time

import pytest

from tests.edge.conftest import ADMIN_TOKEN, exchange, signed_delivery
from tests.edge.slow_clients import SlowClients, healthz_request, timed_request
from web.gunicorn_worker import READ_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_fifty_slow_clients_leave_healthz_and_the_webhook_answering_within_a_second(web):
    with SlowClients(web.port, 50) as held:
        time.sleep(1.5)  # every slow connection open and in the middle of its request
        healthz = [timed_request(web.port, healthz_request(web.port), 10) for _ in range(5)]
        webhook = [
            timed_request(web.port, signed_delivery(web.port, created_at=f"slow-{i}"), 10)
            for i in range(3)
        ]
        held_while_measuring = held.opened
    assert held_while_measuring >= 50
    assert [status for status, _ in healthz] == [200] * 5, healthz
    assert [status for status, _ in webhook] == [200] * 3, webhook
    # One probe may be slowed by the machine itself (2 shared cores), not by the slow clients.
    for probes in (healthz, webhook):
        seconds = sorted(s for _, s in probes)
        assert seconds[-2] < 1.0 and seconds[-1] < 5.0, probes


def test_a_request_that_trickles_is_cut_off_at_its_deadline(web):
    with SlowClients(web.port, 4, kinds=("trickled form body", "trickled head")) as held:
        deadline = time.monotonic() + REQUEST_TIMEOUT_SECONDS + 20
        while held.dropped_by_server < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
    assert held.dropped_by_server >= 4


def test_a_body_that_stops_arriving_is_408_on_a_machine_route(web, clean_log):
    body = b'{"account": "user_'  # of a declared 100: then nothing, and no half-close
    request = (
        f"POST /admin/resync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    ).encode() + body
    answer = exchange(web.port, request, half_close=False, timeout=30)
    assert answer.status == 408
    assert answer.json()["error"] == "request_timeout"
    assert READ_TIMEOUT_SECONDS - 1 < answer.seconds < REQUEST_TIMEOUT_SECONDS + 5
