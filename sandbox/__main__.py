"""`python -m sandbox --host 127.0.0.1 --port 5050 [--public-url URL] [--seed demo|empty]
[--state-file PATH]`."""

from __future__ import annotations

import argparse
import logging
import os

from . import create_app
from .settings import env_block, env_lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "5050")))
    parser.add_argument(
        "--public-url",
        help="base URL clients reach the sandbox at (default: the host of each request)",
    )
    parser.add_argument("--seed", choices=("demo", "empty"), default=None)
    parser.add_argument(
        "--state-file",
        help="keep the sandbox's data and grants in this file across restarts (default: memory)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no per-request log lines (benchmarks)"
    )
    args = parser.parse_args(argv)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    config: dict[str, object] = {}
    if args.public_url:
        config["SANDBOX_PUBLIC_URL"] = args.public_url.rstrip("/")
    if args.seed:
        config["SANDBOX_SEED"] = args.seed
    if args.state_file:
        config["SANDBOX_STATE_FILE"] = args.state_file
    app = create_app(config)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    base = app.config.get("SANDBOX_PUBLIC_URL") or f"http://{shown_host}:{args.port}"
    print("schedsync sandbox: point schedsync at it with this environment\n", flush=True)
    print(env_lines(env_block(base, app.config)), flush=True)
    print(f"\nPage: {base}/   Control API: {base}/_sandbox/   (Ctrl-C stops)\n", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
