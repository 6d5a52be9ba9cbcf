"""Connecting a workspace's WeCom app, testing its callback URL, disconnecting it."""
import re
import secrets
import time
from dataclasses import dataclass

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.models import Workspace

from .adapter import accounts_forget
from .crypto import aes_key, encrypt, signature
from .models import WeComAccount

CORP_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
AGENT_ID = re.compile(r"^[0-9]{1,32}$")
TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")  # WeCom's admin: English letters or digits, at most 32
TEST_TIMEOUT = 10.0


def wecom_callback_path(account: WeComAccount) -> str:
    """The account's callback path; the URL to paste into WeCom's admin is the public address + this."""
    return f"/hooks/wecom/{account.hook_token}/"


def _clean(*, corp_id: str, agent_id: str, secret: str, token: str, encoding_aes_key: str) -> dict[str, str]:
    values = {"corp_id": corp_id.strip(), "agent_id": agent_id.strip(), "secret": secret.strip(), "token": token.strip(),
              "encoding_aes_key": encoding_aes_key.strip()}
    errors: dict[str, str] = {}
    if not CORP_ID.match(values["corp_id"]):
        errors["corp_id"] = _("A CorpID is letters and digits, e.g. ww1234567890abcdef (My Company → Company Information).")
    if not AGENT_ID.match(values["agent_id"]):
        errors["agent_id"] = _("An AgentId is a number, shown on the app's page in WeCom's admin.")
    if not values["secret"] or len(values["secret"]) > 255:
        errors["secret"] = _("The app's Secret is required (the app's page in WeCom's admin, at most 255 characters).")
    if not TOKEN.match(values["token"]):
        errors["token"] = _("The Token is 1 to 32 letters or digits, as set under the app's 'Receive messages' settings.")
    try:
        aes_key(values["encoding_aes_key"])
    except ValueError:
        errors["encoding_aes_key"] = _("The EncodingAESKey is 43 letters and digits, as set under the app's 'Receive messages' settings.")
    if errors:
        raise ValidationError(errors)
    return values


def wecom_connect(*, workspace: Workspace, corp_id: str, agent_id: str, secret: str, token: str, encoding_aes_key: str) -> WeComAccount:
    """Store (or replace) the workspace's WeCom app, its secrets encrypted; ValidationError per bad field.

    Idempotent: connecting again with other values updates the account and keeps its callback URL, so
    the URL pasted into WeCom's admin stays right. The last error is cleared.
    """
    values = _clean(corp_id=corp_id, agent_id=agent_id, secret=secret, token=token, encoding_aes_key=encoding_aes_key)
    with transaction.atomic():
        account = WeComAccount.objects.select_for_update().filter(workspace=workspace).first() or WeComAccount(workspace=workspace)
        account.corp_id, account.agent_id = values["corp_id"], values["agent_id"]
        account.secret, account.token, account.encoding_aes_key = values["secret"], values["token"], values["encoding_aes_key"]
        account.enabled, account.last_error, account.last_error_at = True, "", None
        account.save()
    accounts_forget()
    return account


def wecom_disconnect(*, workspace: Workspace) -> bool:
    """Forget the workspace's WeCom app (its callback URL stops answering); False if none was connected."""
    deleted, _rows = WeComAccount.objects.filter(workspace=workspace).delete()
    accounts_forget()
    return bool(deleted)


@dataclass(frozen=True, slots=True)
class CallbackTest:
    url: str
    status: int
    ok: bool
    detail: str


def wecom_callback_test(*, account: WeComAccount, base_url: str) -> CallbackTest:
    """Send the callback URL the signed URL-verification request WeCom's admin sends, and check the answer.

    It goes over the network to `base_url` (the address WeCom would call), so it shows that the URL is
    reachable, that the Token and EncodingAESKey are the ones stored and that the answer is the echo.
    The outcome is also the account's last error (or clears it). Writes no event.
    """
    url = base_url.rstrip("/") + wecom_callback_path(account)
    keys = account.callback_keys()
    echo = secrets.token_hex(8)
    echostr = encrypt(key=keys.key, message=echo.encode(), receive_id=keys.receive_id)
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    params = {"msg_signature": signature(keys.token, timestamp, nonce, echostr), "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
    try:
        response = httpx.get(url, params=params, timeout=TEST_TIMEOUT)
    except httpx.HTTPError as exc:
        result = CallbackTest(url, 0, False, _("Cannot reach %(url)s: %(reason)s") % {"url": url, "reason": exc})
    else:
        ok = response.status_code == 200 and response.content == echo.encode()
        detail = _("The callback URL answered the verification with the right echo.") if ok else _(
            "The callback URL answered %(status)s %(body)s instead of the echo."
        ) % {"status": response.status_code, "body": repr(response.text[:60])}
        result = CallbackTest(url, response.status_code, ok, detail)
    WeComAccount.objects.filter(pk=account.pk).update(
        last_error="" if result.ok else result.detail, last_error_at=None if result.ok else timezone.now()
    )
    return result
