"""WeCom's callback crypto (企业微信 "加解密方案"), from the published scheme and its sample code's vectors.

- Signature: SHA1 of the sorted strings token, timestamp, nonce and the encrypted text, concatenated;
  hex, compared in constant time.
- Cipher: AES-256-CBC, key = Base64-decode(EncodingAESKey + "="), IV = the key's first 16 bytes,
  PKCS#7 padding to a 32-byte block (WeCom pads to 32, so pad values run 1..32).
- Plaintext: 16 random bytes + the message's length (4 bytes, big-endian) + the message + the receive id
  (the CorpID for an internal app), which must be this account's.

Every refusal is a `HookRefused` (channels.base) carrying the HTTP status to answer (401: not signed by this
account's token or too old; 400: signed but malformed) and a reason for the log; nothing is stored.
"""
import base64
import binascii
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from siyu.channels.base import HookRefused

BLOCK = 32
# WeCom signs each callback with its send time; one older or newer than this is a replay (or a clock far off).
MAX_SKEW_SECONDS = 300


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey; ValueError if it is not one."""
    if len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("an EncodingAESKey is Base64 (letters, digits, + and /)") from None
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature: the hex SHA1 of the four strings sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()


def signature_check(*, token: str, timestamp: str, nonce: str, encrypted: str, msg_signature: str,
                    now: float | None = None, max_skew: float | None = MAX_SKEW_SECONDS) -> None:
    """HookRefused(401) unless msg_signature is the token's (constant-time) and the timestamp is recent."""
    expected = signature(token, timestamp, nonce, encrypted)
    if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode("utf-8", "replace")):
        raise HookRefused("wrong msg_signature", status=401)
    if max_skew is not None:
        try:
            sent = int(timestamp)
        except ValueError:
            raise HookRefused("timestamp is not a number", status=401) from None
        if abs((time.time() if now is None else now) - sent) > max_skew:
            raise HookRefused("stale timestamp", status=401)


def decrypt(*, key: bytes, encrypted: str, receive_id: str) -> bytes:
    """The message inside `encrypted`; HookRefused(400) for bad Base64, padding, length or receive id."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise HookRefused("Encrypt is not Base64", status=400) from None
    if not data or len(data) % 16:
        raise HookRefused("Encrypt is not whole AES blocks", status=400)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= BLOCK or pad > len(padded) or padded[-pad:] != bytes([pad]) * pad:
        raise HookRefused("bad padding", status=400)
    plain = padded[:-pad]
    if len(plain) < 20:
        raise HookRefused("plaintext too short", status=400)
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise HookRefused("message length past the end", status=400)
    message, rest = plain[20 : 20 + length], plain[20 + length :]
    if not hmac.compare_digest(rest, receive_id.encode()):
        raise HookRefused("wrong receive id", status=400)
    return message


def encrypt(*, key: bytes, message: bytes, receive_id: str, random: bytes | None = None) -> str:
    """Base64 of the encrypted plaintext (the reverse of decrypt: replies, the console's self-test, tests)."""
    plain = (random if random is not None else os.urandom(16)) + struct.pack(">I", len(message)) + message + receive_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()


def xml_parse(text: bytes | str) -> Element:
    """An XML document with DTDs, entities and external references refused (XXE, billion laughs): ValueError."""
    try:
        return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError) as exc:
        raise ValueError(f"not acceptable XML: {exc}") from None


def xml_fields(root: Element) -> dict[str, str]:
    """The text of each direct child element, by tag (a callback's fields)."""
    return {child.tag: (child.text or "").strip() for child in root}


@dataclass(frozen=True, slots=True)
class CallbackKeys:
    """What verifies one WeCom app's callbacks: the Token, the AES key and the receive id (CorpID)."""

    token: str
    key: bytes
    receive_id: str

    def url_verify(self, *, msg_signature: str, timestamp: str, nonce: str, echostr: str, now: float | None = None) -> bytes:
        """The GET that WeCom's admin sends when the callback URL is saved: the decrypted echostr to answer."""
        signature_check(token=self.token, timestamp=timestamp, nonce=nonce, encrypted=echostr, msg_signature=msg_signature, now=now)
        return decrypt(key=self.key, encrypted=echostr, receive_id=self.receive_id)

    def message_decrypt(self, *, msg_signature: str, timestamp: str, nonce: str, body: bytes, now: float | None = None) -> bytes:
        """A POSTed callback (`<xml><ToUserName/><Encrypt/><AgentID/></xml>`): the decrypted inner XML."""
        try:
            encrypted = xml_fields(xml_parse(body)).get("Encrypt", "")
        except ValueError as exc:
            raise HookRefused(str(exc), status=400) from None
        if not encrypted:
            raise HookRefused("no Encrypt element", status=400)
        signature_check(token=self.token, timestamp=timestamp, nonce=nonce, encrypted=encrypted, msg_signature=msg_signature, now=now)
        return decrypt(key=self.key, encrypted=encrypted, receive_id=self.receive_id)
