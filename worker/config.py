"""Settings from the environment (CONTRACT §2), shared by the web app, the worker and beat.

A `.env` file in the working directory is read too; the real environment wins. In development the
Flask secret and the Fernet key are generated once into `instance/` so that web, worker and beat,
started together, agree on them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from cryptography.fernet import Fernet
from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


DEFAULT_WORKER_CONCURRENCY = 32
# Past this, one process's GIL and its database pool are the limit, not the providers' latency:
# run more worker processes instead.
MAX_WORKER_CONCURRENCY = 256
WORKER_POOLS = ("threads", "prefork", "solo")


class ConfigError(RuntimeError):
    """The configuration cannot run: the message names what is missing."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    public_url: str = "http://localhost:5000"
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'schedsync.db'}"
    redis_url: str = "redis://localhost:6379/0"
    secret_key: str = ""
    encryption_keys: tuple[str, ...] = ()
    admin_token: str = ""
    close_client_id: str = ""
    close_client_secret: str = field(default="", repr=False)
    close_api_url: str = "https://api.close.com/api/v1"
    close_authorize_url: str = "https://app.close.com/oauth2/authorize/"
    close_token_url: str = "https://api.close.com/oauth2/token/"
    close_revoke_url: str = "https://api.close.com/oauth2/revoke/"
    calendly_client_id: str = ""
    calendly_client_secret: str = field(default="", repr=False)
    calendly_webhook_signing_key: str = field(default="", repr=False)
    calendly_api_url: str = "https://api.calendly.com"
    calendly_auth_url: str = "https://auth.calendly.com"
    savvycal_client_id: str = ""
    savvycal_client_secret: str = field(default="", repr=False)
    savvycal_api_url: str = "https://api.savvycal.com/v1"
    savvycal_auth_url: str = "https://savvycal.com/oauth"
    savvycal_booking_url: str = "https://savvycal.com"
    resync_interval_seconds: int = 900
    token_refresh_margin_seconds: int = 900
    log_format: str = "text"
    # Errors go to Sentry through its Flask and Celery integrations when set (the `sentry` extra).
    sentry_dsn: str = field(default="", repr=False)
    # Where a refreshed token pair is kept when Redis cannot take it either (worker/auth/
    # pending_pairs.py): a persistent folder of the worker's host, readable by its workers only.
    pending_tokens_dir: str = str(INSTANCE_DIR / "pending_tokens")
    # Accounts one `celery -A worker worker` process reconciles at once (threads: the work waits
    # on providers, not the CPU; README "Sizing workers").
    worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY
    # Not in the contract's table: tuning knobs with safe defaults, overridden by tests.
    # The pool of `celery -A worker worker`: threads (the default) or prefork, which benchmarks
    # use as the baseline (a `-P prefork` on the command line would not win over the app's
    # configured pool: Celery reads its own default "prefork" as "not given").
    worker_pool: str = "threads"
    http_timeout_seconds: float = 15.0
    http_retry_backoff_seconds: float = 0.5
    # How long a SQLite writer waits for another's write lock before "database is locked".
    database_busy_timeout_seconds: float = 30.0
    celery_always_eager: bool = False
    # Where Close shows one scheduling link to a person, `{id}` standing for its Close id; empty:
    # Close documents no such page, so the rep's page links none (the sandbox has one).
    close_link_page_url: str = ""

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def provider_configured(self, provider: str) -> bool:
        return bool(getattr(self, f"{provider}_client_id", ""))

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_url.rstrip('/')}/oauth/{provider}/callback"

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **overrides)


_ENV_NAMES = {
    "env": "SCHEDSYNC_ENV",
    "public_url": "PUBLIC_URL",
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "secret_key": "SECRET_KEY",
    "encryption_keys": "ENCRYPTION_KEYS",
    "admin_token": "ADMIN_TOKEN",
    "log_format": "LOG_FORMAT",
}


def _env_name(attr: str) -> str:
    return _ENV_NAMES.get(attr, attr.upper())


def _convert(attr: str, raw: str) -> object:
    if attr == "encryption_keys":
        return tuple(k.strip() for k in raw.split(",") if k.strip())
    if attr in ("resync_interval_seconds", "token_refresh_margin_seconds"):
        return int(raw)
    if attr == "worker_concurrency":
        return _worker_concurrency(raw)
    if attr in (
        "http_timeout_seconds",
        "http_retry_backoff_seconds",
        "database_busy_timeout_seconds",
    ):
        return float(raw)
    if attr == "worker_pool":
        if raw.strip() not in WORKER_POOLS:
            raise ConfigError(f"WORKER_POOL must be one of {', '.join(WORKER_POOLS)}, not {raw!r}")
        return raw.strip()
    if attr == "celery_always_eager":
        return raw.lower() in ("1", "true", "yes")
    return raw.strip()


def _worker_concurrency(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKER_CONCURRENCY:
        raise ConfigError(
            f"WORKER_CONCURRENCY must be a whole number from 1 to {MAX_WORKER_CONCURRENCY}, "
            f"not {raw.strip()!r}"
        )
    return value


def load_settings(environ: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Build settings from `environ` (default: os.environ, over `.env`)."""
    source: dict[str, str] = {}
    if dotenv and Path(".env").is_file():
        source.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
    source.update(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = source.get(_env_name(f.name))
        if raw is not None and raw != "":
            values[f.name] = _convert(f.name, raw)
    settings = Settings(**values)  # type: ignore[arg-type]
    settings = replace(settings, savvycal_booking_url=settings.savvycal_booking_url.rstrip("/"))
    return _complete(settings)


def _complete(settings: Settings) -> Settings:
    if settings.is_production:
        check_production(settings)
        return settings
    if settings.env == "development":
        # oauthlib refuses http redirect URIs unless told this is a development setup.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    secret_key = settings.secret_key or _instance_secret("secret_key", secrets.token_urlsafe(48))
    keys = settings.encryption_keys or (
        _instance_secret("encryption_key", Fernet.generate_key().decode()),
    )
    return replace(settings, secret_key=secret_key, encryption_keys=keys)


def check_production(settings: Settings) -> None:
    missing = [
        name
        for name, value in (
            ("SECRET_KEY", settings.secret_key),
            ("ENCRYPTION_KEYS", settings.encryption_keys),
            ("ADMIN_TOKEN", settings.admin_token),
        )
        if not value
    ]
    if not settings.public_url.startswith("https://"):
        missing.append("an https PUBLIC_URL")
    if missing:
        raise ConfigError(
            "SCHEDSYNC_ENV=production refuses to start without: " + ", ".join(missing)
        )


def _instance_secret(name: str, candidate: str) -> str:
    """Read `instance/<name>`, creating it atomically if absent so concurrent starters agree."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / name
    if not path.exists():
        tmp = INSTANCE_DIR / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        tmp.write_text(candidate)
        tmp.chmod(0o600)
        try:
            # link() fails if another process created the file first; theirs wins.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()
