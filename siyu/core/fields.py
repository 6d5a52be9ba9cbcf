"""Model fields shared by apps."""
import hashlib
import hmac
import logging
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

from .secret_key import LEGACY_KEY
from .secrets import SecretUnreadable, secret_decrypt, secret_encrypt

log = logging.getLogger(__name__)

UNREADABLE = "\ufffd"  # what an EncryptedTextField reads as when no current key opens the stored value


class EncryptedTextField(models.TextField):
    """Text stored encrypted (Fernet, key from SECRET_KEY; see core.secrets), read back as plain text.

    The database holds only ciphertext, so a copy of it does not leak phone numbers. Ciphertext is not
    comparable: look values up by a digest column (`contact_digest`) instead. A value encrypted under a
    key that is gone reads as UNREADABLE (logged), so a page still renders; saving it again keeps it so.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        if not value:
            return ""
        try:
            return secret_decrypt(value)
        except SecretUnreadable:
            log.warning("%s: a stored value cannot be decrypted with the current secret key", self)
            return UNREADABLE

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value or value == UNREADABLE:
            return value or ""
        return secret_encrypt(value)


@lru_cache(maxsize=8)
def _digest_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"siyu.core.fields", info=b"contact digest v1").derive(
        secret_key.encode()
    )


def _digest(secret_key: str, value: str) -> str:
    return hmac.new(_digest_key(secret_key), value.encode(), hashlib.sha256).hexdigest()


def contact_digest(value: str) -> str:
    """A keyed hash of a normalised contact value (phone, e-mail), to store for equality lookups; "" for "".

    Keyed with the current SECRET_KEY. Look values up with `contact_digests`, which also matches digests
    stored under an earlier key.
    """
    if not value:
        return ""
    return _digest(settings.SECRET_KEY, value)


def contact_digests(value: str) -> list[str]:
    """The digests `value` may be stored under: the current key's first, then SECRET_KEY_FALLBACKS' and the
    old fixed key's (a local install before it had a key of its own), so a lookup by phone still finds a member
    after a key rotation, before their contacts are saved again. [] for ""."""
    if not value:
        return []
    keys = dict.fromkeys([settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()), LEGACY_KEY])
    return [_digest(key, value) for key in keys]
