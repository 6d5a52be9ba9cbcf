"""Signed WeCom callbacks for tests, built as WeCom builds them (the published scheme and XML examples)."""
import secrets
import time
from urllib.parse import urlencode

from siyu.channels.wecom.crypto import encrypt, signature
from siyu.channels.wecom.services import wecom_callback_path, wecom_connect

CORP_ID = "ww5823bf96d3bd56c7"
TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def connect(workspace):
    return wecom_connect(workspace=workspace, corp_id=CORP_ID, agent_id="1000002", secret="app-secret",
                         token=TOKEN, encoding_aes_key=ENCODING_AES_KEY)


def signed_post(account, inner_xml: str, *, token=TOKEN, receive_id=CORP_ID, timestamp=None):
    """(url, body) of the POST WeCom sends for one callback."""
    keys = account.callback_keys()
    encrypted = encrypt(key=keys.key, message=inner_xml.encode(), receive_id=receive_id)
    timestamp = timestamp or str(int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    query = {"msg_signature": signature(token, timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    return f"{wecom_callback_path(account)}?{urlencode(query)}", body.encode()


def event_xml(event: str, *, create_time=None, **fields) -> str:
    """An event callback's decrypted XML, the fields in the published examples' order."""
    parts = [
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>" % CORP_ID,
        f"<CreateTime>{create_time or int(time.time()) - 5}</CreateTime><MsgType><![CDATA[event]]></MsgType>",
        f"<Event><![CDATA[{event}]]></Event>",
    ]
    for name, value in fields.items():
        if isinstance(value, list):
            parts.append(f"<{name}>" + "".join(f"<Item><![CDATA[{item}]]></Item>" for item in value) + f"</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "".join(parts) + "</xml>"
