"""Secrets Siyu must store to act for a workspace (a bot's access token), encrypted at rest.

The key is derived from settings.SECRET_KEY with HKDF, so a database copy alone does not leak the
tokens. New values are encrypted under the current key; keys in Django's SECRET_KEY_FALLBACKS
(SIYU_SECRET_KEY_FALLBACKS) still decrypt, so the secret key can be rotated; a value encrypted under a
key that is gone cannot be read: `SecretUnreadable` says so, and the operator reconnects the bot.
"""
import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _

from .secret_key import LEGACY_KEY


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: it was encrypted under another SECRET_KEY, or damaged."""


@lru_cache(maxsize=8)
def _fernet_for(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"siyu.core.secrets", info=b"fernet v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet() -> MultiFernet:
    # MultiFernet encrypts with the first key and decrypts with any. The last one is Siyu's old fixed key, so what a
    # local install stored before it had a key of its own still reads (it is public: it protected nothing anyway).
    keys = dict.fromkeys([settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()), LEGACY_KEY])
    return MultiFernet([_fernet_for(key) for key in keys])


def secret_encrypt(plain: str) -> str:
    """Encrypt (and authenticate) a text under the current SECRET_KEY; the result is ASCII."""
    return _fernet().encrypt(plain.encode()).decode("ascii")


def secret_decrypt(token: str) -> str:
    """The text `secret_encrypt` was given; SecretUnreadable if no current or fallback key opens it."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretUnreadable(
            _(
                "A stored secret cannot be decrypted: the secret key (SIYU_SECRET_KEY) changed since it was saved, "
                "or the value is damaged. Connect the bot again to store a new one."
            )
        ) from None
