"""Migration 0004 records, as due now, every clean-up that the old fire-and-forget disconnect gave
up on (disconnected, tokens still stored), so the sweep finishes it after the upgrade."""

from sqlalchemy import create_engine, text

from worker.storage import migrate


def test_upgrade_records_the_clean_ups_left_unfinished_before_it(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (id, close_user_id, sync_requested_seq, "
                "sync_taken_seq, sync_failures, created_at) "
                "VALUES (1, 'user_A', 0, 0, 0, '2026-01-01 00:00:00')"
            )
        )
        for cid, provider, state, token in (
            (1, "calendly", "disconnected", "ciphertext"),  # given up on: still holds tokens
            (2, "savvycal", "disconnected", None),  # finished: tokens erased
            (3, "close", "active", "ciphertext"),
        ):
            conn.execute(
                text(
                    "INSERT INTO connections (id, account_id, provider, auth_kind, state, "
                    "refresh_token, token_generation, webhook_state, connect_count, created_at, "
                    "updated_at) VALUES (:id, 1, :provider, 'oauth', :state, :token, 1, 'none', 1, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"id": cid, "provider": provider, "state": state, "token": token},
            )

    migrate.upgrade(engine)

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, cleanup_next_at IS NOT NULL, cleanup_attempts FROM connections "
                "ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [(1, 1, 0), (2, 0, 0), (3, 0, 0)]
