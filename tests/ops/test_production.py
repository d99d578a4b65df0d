"""SCHEDSYNC_ENV=production refuses an unsafe configuration; development makes its own keys once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import session

from worker import config
from worker.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
ALL_MISSING = "SECRET_KEY, ENCRYPTION_KEYS, ADMIN_TOKEN, an https PUBLIC_URL"
PRODUCTION = {
    "SCHEDSYNC_ENV": "production",
    "SECRET_KEY": "prod-secret-key",
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ADMIN_TOKEN": "prod-admin-token",
    "PUBLIC_URL": "https://schedsync.example.com",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}
SETTING_NAMES = ("SECRET_KEY", "ENCRYPTION_KEYS", "ADMIN_TOKEN", "PUBLIC_URL", "SCHEDSYNC_ENV")


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    monkeypatch.setattr(config, "INSTANCE_DIR", path)
    return path


@pytest.fixture
def clean_environ(tmp_path, monkeypatch):
    """The real environment without any schedsync setting, and no .env file to read."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_production_names_everything_that_is_missing_in_one_message(instance_dir):
    with pytest.raises(ConfigError) as caught:
        load_settings({"SCHEDSYNC_ENV": "production"}, dotenv=False)
    assert str(caught.value) == (
        f"SCHEDSYNC_ENV=production refuses to start without: {ALL_MISSING}"
    )
    assert not instance_dir.exists()  # nothing is generated in production


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SECRET_KEY", "", "SECRET_KEY"),
        ("ENCRYPTION_KEYS", " , ", "ENCRYPTION_KEYS"),
        ("ADMIN_TOKEN", "", "ADMIN_TOKEN"),
        ("PUBLIC_URL", "http://schedsync.example.com", "an https PUBLIC_URL"),
        ("PUBLIC_URL", "", "an https PUBLIC_URL"),  # the default is http://localhost:5000
    ],
)
def test_production_refuses_each_missing_setting_alone(instance_dir, name, value, named):
    with pytest.raises(ConfigError) as caught:
        load_settings({**PRODUCTION, name: value}, dotenv=False)
    assert str(caught.value) == f"SCHEDSYNC_ENV=production refuses to start without: {named}"


def test_create_app_refuses_to_start_in_production_without_its_settings(
    clean_environ, instance_dir
):
    from web import create_app

    clean_environ.setenv("SCHEDSYNC_ENV", "production")
    clean_environ.setenv("PUBLIC_URL", "http://schedsync.example.com")
    with pytest.raises(ConfigError, match=ALL_MISSING):
        create_app()


def test_create_app_starts_in_production_with_its_settings(clean_environ, fake_redis):
    from web import create_app

    for name, value in PRODUCTION.items():
        clean_environ.setenv(name, value)
    app = create_app(redis_client=fake_redis)
    assert app.config["SCHEDSYNC"].is_production
    assert app.config["SECRET_KEY"] == "prod-secret-key"


def session_cookie(settings, fake_redis) -> str:
    """The Set-Cookie header of a response that stores something in the session."""
    from web import create_app

    app = create_app(settings, redis_client=fake_redis)

    @app.get("/_test/remember")
    def remember():
        session["seen"] = True
        return "ok"

    response = app.test_client().get("/_test/remember")
    cookies = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    assert len(cookies) == 1
    return cookies[0]


def test_the_session_cookie_is_secure_httponly_and_samesite_in_production(fake_redis, db):
    settings = load_settings(PRODUCTION, dotenv=False)
    cookie = session_cookie(settings, fake_redis)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes
    assert "SameSite=Lax" in cookie


def test_the_session_cookie_is_not_secure_only_in_development(settings, fake_redis, db):
    cookie = session_cookie(settings, fake_redis)  # plain http://localhost works in development
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "secure" not in attributes
    assert {"httponly", "samesite"} <= attributes


def test_development_generates_its_keys_once_into_the_instance_folder(instance_dir):
    first = load_settings({"SCHEDSYNC_ENV": "development"}, dotenv=False)
    second = load_settings({"SCHEDSYNC_ENV": "development"}, dotenv=False)

    assert first.secret_key and first.secret_key == second.secret_key
    assert len(first.encryption_keys) == 1
    assert first.encryption_keys == second.encryption_keys
    Fernet(first.encryption_keys[0].encode())  # a usable key
    assert sorted(p.name for p in instance_dir.iterdir()) == ["encryption_key", "secret_key"]
    for path in instance_dir.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


def test_explicit_keys_win_over_the_generated_ones_in_development(instance_dir):
    key = Fernet.generate_key().decode()
    settings = load_settings(
        {"SCHEDSYNC_ENV": "development", "SECRET_KEY": "mine", "ENCRYPTION_KEYS": key},
        dotenv=False,
    )
    assert settings.secret_key == "mine"
    assert settings.encryption_keys == (key,)
    assert not instance_dir.exists()


def test_a_key_written_first_by_another_process_wins(instance_dir, monkeypatch):
    real_link = config.os.link

    def another_process_gets_there_first(src, dst):
        Path(dst).write_text("theirs")
        real_link(src, dst)

    monkeypatch.setattr(config.os, "link", another_process_gets_there_first)
    settings = load_settings({"SCHEDSYNC_ENV": "development"}, dotenv=False)
    assert settings.secret_key == "theirs"
    assert settings.encryption_keys == ("theirs",)
    assert sorted(p.name for p in instance_dir.iterdir()) == ["encryption_key", "secret_key"]


ROUNDS = 20
STARTER = """
import importlib.util, sys, time
from pathlib import Path
# worker/config.py alone: importing the worker package would start Celery, which is slow.
spec = importlib.util.spec_from_file_location("schedsync_config", "worker/config.py")
config = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(config)
base, rounds = Path(sys.argv[1]), int(sys.argv[2])
for n in range(rounds):
    config.INSTANCE_DIR = base / f"instance{n}"
    gate = base / f"go{n}"
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while not gate.exists() and time.monotonic() < deadline:
        pass  # spin, so that every starter leaves the gate at the same moment
    settings = config.load_settings({"SCHEDSYNC_ENV": "development"}, dotenv=False)
    print(settings.secret_key, settings.encryption_keys[0], flush=True)
"""


def test_processes_starting_together_agree_on_the_generated_keys(tmp_path):
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(tmp_path), str(ROUNDS)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for n in range(ROUNDS):
            for proc in starters:
                assert proc.stdout.readline().strip() == "ready"
            (tmp_path / f"go{n}").touch()
            answers = {proc.stdout.readline().strip() for proc in starters}
            assert len(answers) == 1, f"round {n}: {answers}"
            secret_key, encryption_key = answers.pop().split()
            instance = tmp_path / f"instance{n}"
            assert (instance / "secret_key").read_text() == secret_key
            assert (instance / "encryption_key").read_text() == encryption_key
            assert sorted(p.name for p in instance.iterdir()) == ["encryption_key", "secret_key"]
        for proc in starters:
            assert proc.wait(timeout=10) == 0
    finally:
        for proc in starters:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
