"""Secrets at rest: Fernet under `ENCRYPTION_KEYS` (the first key encrypts, every key decrypts)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    def __init__(self, keys: tuple[str, ...] | list[str]):
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            # Never echo the ciphertext: the message names the cause only.
            raise ValueError("stored secret cannot be decrypted with ENCRYPTION_KEYS") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the first key (for `flask --app web rotate-keys`)."""
        return self._fernet.rotate(ciphertext.encode()).decode()
