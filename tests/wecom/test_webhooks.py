"""The webhook endpoint with WeCom: verify first, answer, ingest once, dead letters and their replay, bad input."""
import asyncio
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.channels import webhooks
from siyu.channels.base import HookRequest
from siyu.channels.models import DeadLetter
from siyu.channels.webhooks import MAX_BODY_BYTES, dead_letter_replay, webhooks_asgi
from siyu.channels.wecom import events as wecom_events
from siyu.channels.wecom.adapter import accounts_forget
from siyu.channels.wecom.crypto import encrypt, signature
from siyu.channels.wecom.models import WeComAccount
from siyu.core.models import Event, Role
from siyu.members.models import Member
from siyu.members.privacy import member_data_export, member_erase

from .callbacks import CORP_ID, TOKEN, connect, event_xml, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

JOIN = dict(ChatId="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", ChangeType="update", UpdateDetail="add_member", JoinScene="3",
            MemChangeList=["wmJack", "wmRose"])


@pytest.fixture
def account(workspace):
    return connect(workspace)


def _post(client, url, body):
    return client.post(url, data=body, content_type="text/xml")


def test_a_signed_callback_is_answered_and_stored_once(client, account, workspace):
    url, body = signed_post(account, event_xml("change_external_chat", **JOIN))
    first = _post(client, url, body)
    assert (first.status_code, first.content) == (200, b"")
    again = _post(client, url, body)  # WeCom's retry after 5 s: the same request
    assert again.status_code == 200
    assert Event.objects.filter(workspace=workspace, source="wecom").count() == 2
    account.refresh_from_db()
    assert account.last_callback_at is not None and account.last_error == ""


def test_url_verification_answers_the_echo_and_stores_nothing(client, account, workspace):
    keys = account.callback_keys()
    echostr = encrypt(key=keys.key, message=b"1616140317555161061", receive_id=CORP_ID)
    timestamp, nonce = str(int(time.time())), "263014780"
    response = client.get(f"/hooks/wecom/{account.hook_token}/", {
        "msg_signature": signature(TOKEN, timestamp, nonce, echostr), "timestamp": timestamp, "nonce": nonce, "echostr": echostr,
    })
    assert (response.status_code, response.content) == (200, b"1616140317555161061")
    assert not Event.objects.filter(workspace=workspace).exists()


def _refused(url, body, account):
    keys = account.callback_keys()
    stale = str(int(time.time()) - 3600)
    good_url, good_body = signed_post(account, event_xml("change_external_chat", **JOIN))
    query = dict(part.split("=", 1) for part in urlsplit(good_url).query.split("&"))
    other = encrypt(key=keys.key, message=b"<xml/>", receive_id="wwother")
    return {
        "wrong signature": (good_url.replace(query["msg_signature"], "0" * 40), good_body, 401),
        "no signature": (urlsplit(good_url).path, good_body, 401),
        "signed with another token": signed_post(account, event_xml("change_external_chat", **JOIN), token="other") + (401,),
        "stale timestamp": signed_post(account, event_xml("change_external_chat", **JOIN), timestamp=stale) + (401,),
        "wrong receive id": signed_post(account, event_xml("change_external_chat", **JOIN), receive_id="wwother") + (400,),
        "bad base64": _signed_raw(account, "%%%%"),
        "bad padding": _signed_raw(account, other[:-8] + "AAAAAAA="),
        "entities": (good_url, b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>', 400),
        "over the limit": (good_url, good_body + b" " * MAX_BODY_BYTES, 400),
        "unknown account": (good_url.replace(account.hook_token, "nope"), good_body, 404),
    }


def _signed_raw(account, encrypted):
    timestamp, nonce = str(int(time.time())), "1"
    query = f"msg_signature={signature(TOKEN, timestamp, nonce, encrypted)}&timestamp={timestamp}&nonce={nonce}"
    return f"/hooks/wecom/{account.hook_token}/?{query}", f"<xml><Encrypt>{encrypted}</Encrypt></xml>".encode(), 400


def test_bad_input_is_refused_logged_and_nothing_stored(client, account, workspace, caplog):
    for name, (url, body, status) in _refused(None, None, account).items():
        response = _post(client, url, body)
        assert response.status_code == status, name
    assert not Event.objects.filter(workspace=workspace).exists()
    assert not DeadLetter.objects.exists()
    assert sum("refused" in r.getMessage() for r in caplog.records) == 10


def test_a_disabled_account_answers_nothing(client, account):
    WeComAccount.objects.filter(pk=account.pk).update(enabled=False)
    accounts_forget()  # as if another process disabled it CACHE_SECONDS ago
    url, body = signed_post(account, event_xml("change_external_chat", **JOIN))
    assert _post(client, url, body).status_code == 404


def test_a_payload_that_does_not_parse_goes_to_the_dead_letters_and_replays_after_the_fix(client, account, workspace, monkeypatch):
    new_detail = dict(JOIN, UpdateDetail="change_member_nick")  # a kind of update this parser does not know yet
    url, body = signed_post(account, event_xml("change_external_chat", **new_detail))
    assert _post(client, url, body).status_code == 200  # still acknowledged: WeCom must not retry it forever
    letter = DeadLetter.objects.get()
    assert (letter.workspace, letter.channel, letter.account) == (workspace, "wecom", f"{CORP_ID}/1000002")
    assert "unknown UpdateDetail 'change_member_nick'" in letter.error
    assert "change_member_nick" in letter.payload and letter.body == body.decode()
    assert set(letter.query) == {"msg_signature", "timestamp", "nonce"}
    account.refresh_from_db()
    assert "change_member_nick" in account.last_error
    with pytest.raises(webhooks.ReplayFailed, match="unknown UpdateDetail"):
        dead_letter_replay(letter=letter)
    assert letter.replayed_at is None and "unknown UpdateDetail" in letter.replay_error

    # The parser learns the new detail (a code fix); the kept payload now replays, once.
    monkeypatch.setattr(wecom_events, "GROUP_DETAIL_CHANGES", (*wecom_events.GROUP_DETAIL_CHANGES, "change_member_nick"))
    result = dead_letter_replay(letter=letter)
    assert (result.stored, letter.replay_error) == (1, "")
    assert letter.replayed_at is not None
    assert dead_letter_replay(letter=letter).stored == 0
    assert Event.objects.get(workspace=workspace, source="wecom").data == {"change": "change_member_nick"}


def test_the_webhooks_command_lists_and_replays(account, workspace, client, capsys):
    url, body = signed_post(account, event_xml("change_external_chat", ChatId="wr1", ChangeType="update", UpdateDetail="add_member"))
    _post(client, url, body)
    letter = DeadLetter.objects.get()
    call_command("webhooks", "list", "--workspace", workspace.slug)
    out = capsys.readouterr().out
    assert f"#{letter.pk}" in out and "no MemChangeList" in out
    call_command("webhooks", "replay", "--workspace", workspace.slug, str(letter.pk))
    assert "still fails" in capsys.readouterr().out


def _asgi_call(app, *, method, path, query=b"", body=b""):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    async def passed_on(scope, receive, send):
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": [(b"host", b"x")]}
    asyncio.run(webhooks_asgi(app or passed_on)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_the_production_path_answers_then_ingests(account, workspace):
    url, body = signed_post(account, event_xml("change_external_chat", **JOIN))
    path, _, query = url.partition("?")
    assert _asgi_call(None, method="POST", path=path, query=query.encode(), body=body) == (200, b"")
    assert Event.objects.filter(workspace=workspace, source="wecom").count() == 2
    assert _asgi_call(None, method="POST", path=path, query=query.encode(), body=body + b" " * MAX_BODY_BYTES) == (400, b"")
    assert _asgi_call(None, method="GET", path="/hooks/wecom/", query=b"") == (599, b"")  # not a hook URL: Django's


MUTATIONS = st.sampled_from(["signature", "token", "timestamp", "nonce", "drop", "body", "encrypt", "receive_id", "random_query"])


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation=MUTATIONS, junk=st.text(max_size=40), raw=st.binary(max_size=300), position=st.integers(0, 39))
def test_fuzz_unsigned_or_mis_signed_input_never_500_and_never_stores(client, account, workspace, mutation, junk, raw, position):
    keys = account.callback_keys()
    timestamp, nonce = str(int(time.time())), "42"
    encrypted = encrypt(key=keys.key, message=event_xml("change_external_chat", **JOIN).encode(), receive_id=CORP_ID)
    query = {"msg_signature": signature(TOKEN, timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
    body = f"<xml><Encrypt>{encrypted}</Encrypt></xml>".encode()
    if mutation == "signature":
        sig = query["msg_signature"]
        query["msg_signature"] = sig[:position] + ("0" if sig[position] != "0" else "1") + sig[position + 1:]
    elif mutation == "token":
        query["msg_signature"] = signature(TOKEN + (junk or "x"), timestamp, nonce, encrypted)
    elif mutation == "timestamp":
        query["timestamp"] = junk or "1"
    elif mutation == "nonce":
        query["nonce"] = nonce + (junk or "1")
    elif mutation == "drop":
        query.pop(sorted(query)[position % 3])
    elif mutation == "body":
        body = raw
    elif mutation == "encrypt":  # the body changed after signing
        body = f"<xml><Encrypt>{encrypted[:-4] + junk}</Encrypt></xml>".encode() if junk else raw
    elif mutation == "receive_id":  # signed with the right token, for another corp
        other = encrypt(key=keys.key, message=raw, receive_id=CORP_ID + (junk or "x"))
        query["msg_signature"] = signature(TOKEN, timestamp, nonce, other)
        body = f"<xml><Encrypt>{other}</Encrypt></xml>".encode()
    else:
        query = {"msg_signature": junk, "timestamp": junk, "nonce": junk, "echostr": junk}
    response = client.generic("POST", f"/hooks/wecom/{account.hook_token}/", body, content_type="text/xml", QUERY_STRING=_qs(query))
    assert response.status_code in (400, 401), (mutation, response.status_code)
    assert not Event.objects.filter(workspace=workspace).exists()
    assert not DeadLetter.objects.exists()


def _qs(query):
    return urlencode(query)


def test_a_members_dead_letters_are_in_their_export_and_go_with_their_erasure(client, account, workspace, make_staff):
    joined = dict(JOIN, MemChangeList=["wmJack"])
    url, body = signed_post(account, event_xml("change_external_chat", **joined))
    _post(client, url, body)
    url, body = signed_post(account, event_xml("change_external_chat", **dict(joined, UpdateDetail="change_member_nick")))
    _post(client, url, body)
    other_url, other_body = signed_post(account, event_xml("change_external_chat", ChatId="wr2", ChangeType="update", UpdateDetail="x", MemChangeList=["wmRose"]))
    _post(client, other_url, other_body)
    member = Member.objects.get(identities__external_id="wmJack")
    export = json.loads(member_data_export(member=member))
    assert [letter["error"] for letter in export["webhook_dead_letters"]] == [DeadLetter.objects.filter(payload__contains="wmJack").get().error]
    member_erase(member=member, by=make_staff(workspace, role=Role.ADMIN), reason="asked")
    assert list(DeadLetter.objects.values_list("payload", flat=True)) == [DeadLetter.objects.get(payload__contains="wmRose").payload]


def test_a_batch_stores_the_good_ones_and_dead_letters_each_bad_one_alone(account, workspace):
    keys_of = {"good": [], "bad": []}
    pending = []
    for n, state in enumerate(["a", "b", "c", None, "x" * 17_000]):
        fields = dict(JOIN, ChatId=f"wr{n}", MemChangeList=[f"wm{n}"], **({"State": state} if state else {}))
        if state is None:
            fields.pop("MemChangeList")  # does not parse
        url, body = signed_post(account, event_xml("change_external_chat", **fields))
        path, _, query = url.partition("?")
        request = HookRequest(method="POST", query=dict(part.split("=", 1) for part in query.split("&")), headers={}, body=body)
        answer = webhooks.webhook_answer(channel="wecom", token=account.hook_token, request=request)
        pending.append(webhooks.Pending("wecom", answer.verified, request))
        keys_of["good" if state in ("a", "b", "c") else "bad"].append(f"wr{n}")
    # The 17,000-character State makes ingest refuse the whole batch: then each is ingested alone.
    assert webhooks.webhooks_ingest_batch(pending=pending) == 3
    assert sorted(Event.objects.filter(workspace=workspace).values_list("group__external_id", flat=True)) == keys_of["good"]
    errors = sorted(DeadLetter.objects.values_list("error", flat=True))
    assert len(errors) == 2 and "no MemChangeList" in errors[0] and "16384" in errors[1].replace(",", "")
    assert webhooks.webhooks_ingest_batch(pending=pending[:3]) == 0  # a retry: stored once


def test_a_known_account_is_verified_without_a_query_and_a_disconnect_is_seen_at_once(client, account, workspace, django_assert_num_queries):
    from siyu.channels.wecom.services import wecom_disconnect

    url, body = signed_post(account, event_xml("change_external_chat", **JOIN))
    request = HookRequest(method="POST", query=dict(p.split("=", 1) for p in url.partition("?")[2].split("&")), headers={}, body=body)
    assert webhooks.webhook_answer(channel="wecom", token=account.hook_token, request=request).status == 200
    with django_assert_num_queries(0):
        assert webhooks.webhook_answer(channel="wecom", token=account.hook_token, request=request).status == 200
    wecom_disconnect(workspace=workspace)
    assert webhooks.webhook_answer(channel="wecom", token=account.hook_token, request=request).status == 404
