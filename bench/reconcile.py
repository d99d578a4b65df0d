"""Requests made by a first sync and by a no-op sync of one generated account, next to the
lower bound: the pages that must be read plus the links that must be written.

    .venv/bin/python bench/reconcile.py [--event-types 200] [--savvycal-links 150]

Runs the real sync code in-process against bench/stub.py on 127.0.0.1, with a temporary SQLite
database and fakeredis (the sync lock and pacing state are not what is measured here).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fakeredis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from bench.stub import World, serve  # noqa: E402
from worker import runtime  # noqa: E402
from worker.config import Settings  # noqa: E402
from worker.storage import migrate  # noqa: E402
from worker.storage.models import Account, Connection, utcnow  # noqa: E402
from worker.sync.full import full_sync  # noqa: E402

PAGE = 100


def setup(base: str, tmp: Path) -> int:
    settings = Settings(
        env="bench",
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        encryption_keys=(Fernet.generate_key().decode(),),
        secret_key="bench",
        close_api_url=f"{base}/close",
        calendly_api_url=f"{base}/calendly",
        savvycal_api_url=f"{base}/savvycal",
        savvycal_booking_url="https://savvycal.example",
        http_retry_backoff_seconds=0.0,
    )
    runtime.configure(settings, redis_client=fakeredis.FakeRedis())
    migrate.upgrade(runtime.engine())
    expires = utcnow() + timedelta(hours=1)
    with runtime.session_scope() as session:
        account = Account(close_user_id="user_bench", organization_id="orga_bench")
        for provider in ("close", "calendly", "savvycal"):
            account.connections.append(
                Connection(
                    provider=provider,
                    external_user_id=f"{provider}-user",
                    access_token=f"{provider}-token",
                    refresh_token=f"{provider}-refresh",
                    token_expires_at=expires,
                )
            )
        session.add(account)
        session.flush()
        return account.id


def measure(world: World, account_id: int) -> tuple[int, int, float]:
    world.requests.clear()
    started = time.perf_counter()
    full_sync(account_id)
    elapsed = time.perf_counter() - started
    writes = sum(n for k, n in world.requests.items() if not k.startswith("GET"))
    return sum(world.requests.values()), writes, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-types", type=int, default=200)
    parser.add_argument("--savvycal-links", type=int, default=150)
    args = parser.parse_args()
    world = World()
    server, base = serve(world)
    world.seed(base, args.event_types, args.savvycal_links)
    links = args.event_types + args.savvycal_links
    provider_pages = max(1, math.ceil(args.event_types / PAGE)) + max(
        1, math.ceil(args.savvycal_links / PAGE)
    )
    with tempfile.TemporaryDirectory() as tmp:
        account_id = setup(base, Path(tmp))
        first_total, first_writes, first_s = measure(world, account_id)
        noop_total, noop_writes, noop_s = measure(world, account_id)
    server.shutdown()
    first_bound = provider_pages + 1 + links  # Close holds nothing yet: one page to read
    noop_bound = provider_pages + max(1, math.ceil(links / PAGE))
    print(f"account: {args.event_types} Calendly event types, {args.savvycal_links} SavvyCal links")
    print(f"{'sync':<10}{'requests':>10}{'writes':>8}{'lower bound':>13}{'seconds':>9}")
    print(f"{'first':<10}{first_total:>10}{first_writes:>8}{first_bound:>13}{first_s:>9.2f}")
    print(f"{'no-op':<10}{noop_total:>10}{noop_writes:>8}{noop_bound:>13}{noop_s:>9.2f}")
    ok = noop_total == noop_bound and noop_writes == 0 and first_total == first_bound
    print("no-op sync equals the lower bound" if ok else "ABOVE the lower bound")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
