"""WeCom's callback crypto against the official sample vectors (WXBizMsgCrypt's Sample), round trips, bad input."""
import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.channels.base import HookRefused
from siyu.channels.wecom.crypto import CallbackKeys, aes_key, decrypt, encrypt, signature, xml_parse

# The official sample (WeCom's callback documentation, path/90968, and every WXBizMsgCrypt sample).
TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589", "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUk"
    "SUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekU"
    "NXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rU"
    "PA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+"
    "qN+E7Q=="
)
SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[" + SAMPLE_ENCRYPT
    + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
).encode()
SAMPLE_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE = "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
SAMPLE_PLAIN = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)
KEYS = CallbackKeys(token=TOKEN, key=aes_key(ENCODING_AES_KEY), receive_id=CORP_ID)


def test_official_verify_url_sample():
    assert KEYS.url_verify(**VERIFY, now=1409659589) == b"1616140317555161061"


def test_official_decrypt_msg_sample():
    plain = KEYS.message_decrypt(
        msg_signature=SAMPLE_SIGNATURE, timestamp=SAMPLE_TIMESTAMP, nonce=SAMPLE_NONCE, body=SAMPLE_BODY, now=1409659813,
    )
    assert plain.decode() == SAMPLE_PLAIN


def test_official_sample_pads_to_32_bytes():
    # The sample is padded with 30 bytes of 30: a 16-byte PKCS#7 unpadder would refuse it.
    key = aes_key(ENCODING_AES_KEY)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(base64.b64decode(SAMPLE_ENCRYPT)) + decryptor.finalize()
    assert padded[-30:] == bytes([30]) * 30


@settings(max_examples=300, deadline=None)
@given(message=st.binary(max_size=3000), random=st.binary(min_size=16, max_size=16), nonce=st.text("0123456789", min_size=1, max_size=12))
def test_round_trip_with_random_messages(message, random, nonce):
    encrypted = encrypt(key=KEYS.key, message=message, receive_id=CORP_ID, random=random)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert decrypt(key=KEYS.key, encrypted=encrypted, receive_id=CORP_ID) == message
    body = f"<xml><ToUserName>{CORP_ID}</ToUserName><Encrypt>{encrypted}</Encrypt></xml>".encode()
    msg_signature = signature(TOKEN, "1700000000", nonce, encrypted)
    assert KEYS.message_decrypt(msg_signature=msg_signature, timestamp="1700000000", nonce=nonce, body=body, now=1700000000) == message


def _sample(**overrides):
    args = {"msg_signature": SAMPLE_SIGNATURE, "timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE, "body": SAMPLE_BODY, "now": 1409659813}
    return {**args, **overrides}


@pytest.mark.parametrize("overrides, status, reason", [
    ({"msg_signature": "0" * 40}, 401, "wrong msg_signature"),
    ({"nonce": "1372623148"}, 401, "wrong msg_signature"),
    ({"now": 1409659813 + 301}, 401, "stale timestamp"),
    ({"now": 1409659813 - 301}, 401, "stale timestamp"),
    ({"body": b"<xml><Encrypt></Encrypt></xml>"}, 400, "no Encrypt element"),
    ({"body": b"not xml"}, 400, "not acceptable XML"),
])
def test_refusals(overrides, status, reason):
    with pytest.raises(HookRefused, match=reason) as refused:
        KEYS.message_decrypt(**_sample(**overrides))
    assert refused.value.status == status


def test_wrong_receive_id_is_refused():
    other = CallbackKeys(token=TOKEN, key=KEYS.key, receive_id="wwsomeothercorp")
    with pytest.raises(HookRefused, match="wrong receive id") as refused:
        other.message_decrypt(**_sample())
    assert refused.value.status == 400


def _signed(encrypted):
    body = f"<xml><Encrypt>{encrypted}</Encrypt></xml>".encode()
    return {"msg_signature": signature(TOKEN, "1700000000", "1", encrypted), "timestamp": "1700000000", "nonce": "1", "body": body, "now": 1700000000}


def _raw_encrypt(plain: bytes) -> str:
    encryptor = Cipher(algorithms.AES(KEYS.key), modes.CBC(KEYS.key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@pytest.mark.parametrize("encrypted, reason", [
    ("%%%not base64", "not Base64"),
    (base64.b64encode(b"short").decode(), "whole AES blocks"),
    (_raw_encrypt(b"x" * 31 + bytes([33])), "bad padding"),  # 33 is past the 32-byte block
    (_raw_encrypt(b"x" * 30 + bytes([1, 2])), "bad padding"),
    (_raw_encrypt(b"r" * 16 + struct.pack(">I", 999) + b"abc" + CORP_ID.encode() + bytes([7]) * 7), "length past the end"),
])
def test_signed_but_malformed_is_400(encrypted, reason):
    with pytest.raises(HookRefused, match=reason) as refused:
        KEYS.message_decrypt(**_signed(encrypted))
    assert refused.value.status == 400


@pytest.mark.parametrize("document", [
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>',
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>',
    b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><Encrypt>x</Encrypt></xml>',
])
def test_xml_with_entities_or_a_dtd_is_refused(document):
    with pytest.raises(ValueError, match="not acceptable XML"):
        xml_parse(document)
    with pytest.raises(HookRefused) as refused:
        KEYS.message_decrypt(msg_signature="0", timestamp="1", nonce="1", body=document)
    assert refused.value.status == 400


@pytest.mark.parametrize("value", ["short", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2!", ""])
def test_bad_encoding_aes_key(value):
    with pytest.raises(ValueError):
        aes_key(value)
