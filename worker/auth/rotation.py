"""Key rotation: re-encrypt every stored secret under the first key of ENCRYPTION_KEYS.

Works on the raw ciphertext through plain Text columns, so no secret is ever decrypted into a
Python string here beyond what Fernet does inside `rotate`. A value that the first key already
opens is left alone, which makes a second run write nothing. Each batch is its own transaction,
so a large table is never locked for the whole run and an interrupted run can simply be repeated.

Steps for an operator (docs/operations.md): put the new key first in ENCRYPTION_KEYS, keeping the
old ones after it; restart every process; run `flask --app web rotate-keys`; then the old keys can
be dropped from ENCRYPTION_KEYS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Integer, Text, column, select, table, update
from sqlalchemy.engine import Engine

from worker.auth.crypto import SecretBox

# (table, encrypted columns) — every Encrypted column in worker/storage/models.py.
SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    "connections": ("access_token", "refresh_token"),
    "webhook_subscriptions": ("signing_key",),
    "retired_grants": ("access_token", "refresh_token"),
}
BATCH_SIZE = 500


@dataclass
class RotationCount:
    rotated: int = 0
    current: int = 0  # already under the first key
    unreadable: int = 0  # no key of ENCRYPTION_KEYS opens it: left as it is
    changed_meanwhile: int = 0  # rewritten by another process during the run: left as it is


@dataclass
class RotationReport:
    columns: dict[str, RotationCount] = field(default_factory=dict)

    @property
    def unreadable(self) -> int:
        return sum(c.unreadable for c in self.columns.values())

    @property
    def rotated(self) -> int:
        return sum(c.rotated for c in self.columns.values())


def rotate_secrets(
    engine: Engine,
    keys: tuple[str, ...],
    *,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt every secret column under `keys[0]`; returns counts per `table.column`."""
    box = SecretBox(keys)
    first = Fernet(keys[0].encode())
    report = RotationReport()
    for table_name, columns in SECRET_COLUMNS.items():
        raw = table(table_name, column("id", Integer), *(column(name, Text) for name in columns))
        counts = {name: RotationCount() for name in columns}
        last_id = 0
        while True:
            with engine.begin() as conn:
                rows = conn.execute(
                    select(raw)
                    .where(raw.c.id > last_id)
                    .order_by(raw.c.id)
                    .limit(batch_size)
                    .with_for_update()
                ).all()
                for row in rows:
                    changes = {
                        name: new
                        for name in columns
                        if (new := _rotated(getattr(row, name), box, first, counts[name]))
                    }
                    if not changes:
                        continue
                    # Compare-and-swap on the old ciphertext: a token refreshed meanwhile was
                    # written under the current keys already and must not be overwritten.
                    swapped = conn.execute(
                        update(raw)
                        .where(raw.c.id == row.id, *(raw.c[n] == getattr(row, n) for n in changes))
                        .values(**changes)
                    ).rowcount
                    if not swapped:
                        for name in changes:
                            counts[name].rotated -= 1
                            counts[name].changed_meanwhile += 1
            if not rows:
                break
            last_id = rows[-1].id
            if on_batch:
                on_batch(table_name, len(rows))
        for name, count in counts.items():
            report.columns[f"{table_name}.{name}"] = count
    return report


def _rotated(value: str | None, box: SecretBox, first: Fernet, count: RotationCount) -> str | None:
    """The value re-encrypted under the first key, or None when nothing is to be written."""
    if value is None:
        return None
    try:
        first.decrypt(value.encode())
        count.current += 1
        return None
    except InvalidToken:
        pass
    try:
        rotated = box.rotate(value)
    except InvalidToken:
        count.unreadable += 1
        return None
    count.rotated += 1
    return rotated
