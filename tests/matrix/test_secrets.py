"""siyu.core.secrets: what the Matrix bot's token is stored with."""
import pytest

from siyu.core.secrets import SecretUnreadable, secret_decrypt, secret_encrypt


def test_a_secret_round_trips_and_is_not_readable_in_the_database():
    stored = secret_encrypt("syt_token_密")
    assert "syt_token" not in stored and stored.isascii()
    assert secret_decrypt(stored) == "syt_token_密"
    assert secret_encrypt("same") != secret_encrypt("same")  # a fresh nonce each time


def test_a_changed_secret_key_says_so(settings):
    stored = secret_encrypt("syt_token")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-for-this-test"
    with pytest.raises(SecretUnreadable, match="secret key"):
        secret_decrypt(stored)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY, old_key]
    assert secret_decrypt(stored) == "syt_token"


def test_a_damaged_value_says_so():
    with pytest.raises(SecretUnreadable):
        secret_decrypt("not-a-fernet-token")
