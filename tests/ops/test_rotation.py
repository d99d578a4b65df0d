"""`flask --app web rotate-keys`: every stored secret ends up under the first key, once."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text

from tests.conftest import TEST_KEY, add_account
from worker import runtime
from worker.auth.rotation import rotate_secrets
from worker.storage.models import Connection, WebhookSubscription

KEY_A = TEST_KEY  # what the `db` fixture encrypts with
KEY_B = Fernet.generate_key().decode()


def add_subscription(connection_id: int, hook_id: str, signing_key: str) -> None:
    with runtime.session_scope() as session:
        session.add(
            WebhookSubscription(
                connection_id=connection_id, hook_id=hook_id, signing_key=signing_key
            )
        )


def secrets_as_read() -> dict[str, str | None]:
    """Every secret decrypted through the models, as the running service reads them."""
    with runtime.session_scope() as session:
        values = {}
        for conn in session.scalars(select(Connection)):
            values[f"{conn.account_id}/{conn.provider}/access"] = conn.access_token
            values[f"{conn.account_id}/{conn.provider}/refresh"] = conn.refresh_token
        for sub in session.scalars(select(WebhookSubscription)):
            values[f"hook/{sub.hook_id}"] = sub.signing_key
        return values


def raw_ciphertexts() -> list[str]:
    with runtime.engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT access_token, refresh_token FROM connections "
                "UNION ALL SELECT signing_key, NULL FROM webhook_subscriptions"
            )
        )
        return [value for row in rows for value in row if value is not None]


def reconfigure(settings, fake_redis, *keys: str) -> None:
    runtime.configure(settings.with_overrides(encryption_keys=keys), redis_client=fake_redis)


@pytest.fixture
def secrets_under_a(db):
    """Three accounts' tokens (one SavvyCal token erased) and two signing keys, under key A."""
    for user in ("user_A", "user_B", "user_C"):
        add_account(user)
    with runtime.session_scope() as session:
        conns = list(session.scalars(select(Connection).order_by(Connection.id)))
        conns[-1].refresh_token = None  # a personal token has none
        calendly_ids = [c.id for c in conns if c.provider == "calendly"]
    add_subscription(calendly_ids[0], "hook_1", "signing-key-one")
    add_subscription(calendly_ids[1], "hook_2", "signing-key-two")
    return secrets_as_read()


def test_rotation_puts_every_secret_under_the_new_first_key(secrets_under_a, settings, fake_redis):
    from web import create_app

    app = create_app(
        settings.with_overrides(encryption_keys=(KEY_B, KEY_A)), redis_client=fake_redis
    )
    result = app.test_cli_runner().invoke(args=["rotate-keys", "--batch-size", "2"])

    assert result.exit_code == 0, result.output
    assert "connections.access_token: 9 re-encrypted, 0 already current" in result.output
    assert "connections.refresh_token: 8 re-encrypted, 0 already current" in result.output
    assert "webhook_subscriptions.signing_key: 2 re-encrypted, 0 already current" in result.output
    assert "done: 19 secret(s) now under the first key" in result.output

    reconfigure(settings, fake_redis, KEY_B)
    assert secrets_as_read() == secrets_under_a
    only_a, only_b = Fernet(KEY_A.encode()), Fernet(KEY_B.encode())
    for ciphertext in raw_ciphertexts():
        only_b.decrypt(ciphertext.encode())
        with pytest.raises(InvalidToken):
            only_a.decrypt(ciphertext.encode())
    reconfigure(settings, fake_redis, KEY_A)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        secrets_as_read()


def test_a_second_rotation_writes_nothing(secrets_under_a, settings, fake_redis):
    keys = (KEY_B, KEY_A)
    first = rotate_secrets(runtime.engine(), keys, batch_size=3)
    after_first = raw_ciphertexts()

    second = rotate_secrets(runtime.engine(), keys, batch_size=3)

    assert first.rotated == 19
    assert second.rotated == 0
    assert sum(c.current for c in second.columns.values()) == 19
    assert raw_ciphertexts() == after_first


def test_rotation_reads_and_writes_the_raw_ciphertext_not_the_plaintext(secrets_under_a):
    # With only key B configured for the models, the rotation must still work on what is
    # stored: it never goes through the Encrypted column type.
    runtime.configure(
        runtime.settings().with_overrides(encryption_keys=(KEY_B,)),
        redis_client=runtime.redis_client(),
    )
    report = rotate_secrets(runtime.engine(), (KEY_B, KEY_A))
    assert report.rotated == 19
    for ciphertext in raw_ciphertexts():
        Fernet(KEY_B.encode()).decrypt(ciphertext.encode())
    assert secrets_as_read() == secrets_under_a


def test_a_secret_no_key_opens_is_left_alone_and_the_command_fails(
    secrets_under_a, settings, fake_redis
):
    from web import create_app

    stranger = Fernet(Fernet.generate_key()).encrypt(b"from elsewhere").decode()
    with runtime.engine().begin() as conn:
        conn.execute(
            text("UPDATE webhook_subscriptions SET signing_key = :v WHERE hook_id = 'hook_2'"),
            {"v": stranger},
        )
    app = create_app(
        settings.with_overrides(encryption_keys=(KEY_B, KEY_A)), redis_client=fake_redis
    )

    result = app.test_cli_runner().invoke(args=["rotate-keys"])

    assert result.exit_code == 1
    assert "webhook_subscriptions.signing_key: 1 re-encrypted, 0 already current, 1 unreadable" in (
        result.output
    )
    assert "1 secret(s) could not be opened" in result.output
    assert stranger in raw_ciphertexts()
    assert "from elsewhere" not in result.output


def test_a_token_refreshed_during_the_rotation_is_not_overwritten(secrets_under_a, monkeypatch):
    from worker.auth import rotation

    real = rotation._rotated
    refreshed = {}

    def refresh_lands_meanwhile(value, box, first, count):
        rotated = real(value, box, first, count)
        if not refreshed:
            # Another process stores a new token pair under the new key between read and write.
            refreshed["value"] = Fernet(KEY_B.encode()).encrypt(b"fresh-token").decode()
            with runtime.engine().begin() as conn:
                conn.execute(
                    text("UPDATE connections SET access_token = :v WHERE id = 1"),
                    {"v": refreshed["value"]},
                )
        return rotated

    monkeypatch.setattr(rotation, "_rotated", refresh_lands_meanwhile)

    report = rotate_secrets(runtime.engine(), (KEY_B, KEY_A))

    assert report.columns["connections.access_token"].changed_meanwhile == 1
    assert refreshed["value"] in raw_ciphertexts()


def test_every_encrypted_column_of_the_models_is_rotated():
    from worker.auth.rotation import SECRET_COLUMNS
    from worker.storage.models import Base, Encrypted

    encrypted = {
        (table.name, col.name)
        for table in Base.metadata.tables.values()
        for col in table.columns
        if isinstance(col.type, Encrypted)
    }
    rotated = {(t, c) for t, cols in SECRET_COLUMNS.items() for c in cols}
    assert encrypted == rotated
