"""The WeCom page (connect, callback URL, status, test the callback) and the dead letters page, by role."""
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from siyu.channels.models import DeadLetter
from siyu.channels.wecom.adapter import accounts_forget
from siyu.channels.wecom.models import WeComAccount
from siyu.core.models import Event, Role

from .callbacks import CORP_ID, ENCODING_AES_KEY, TOKEN, connect, event_xml, signed_post

pytestmark = pytest.mark.django_db(transaction=True)
VALUES = {"corp_id": CORP_ID, "agent_id": "1000002", "secret": "app-secret", "token": TOKEN, "encoding_aes_key": ENCODING_AES_KEY}


@pytest.fixture
def client(client):
    client.cookies["django_language"] = "en"
    return client


def url(workspace, name="wecom", *args):
    return reverse(f"console:{name}", args=[workspace.slug, *args])


def test_an_admin_connects_sees_the_callback_url_and_the_secrets_are_stored_encrypted(client, workspace, make_staff):
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    assert "No WeCom app is connected" in client.get(url(workspace)).content.decode()
    done = client.post(url(workspace, "wecom_connect"), VALUES, follow=True).content.decode()
    account = WeComAccount.objects.get(workspace=workspace)
    assert "WeCom app connected" in done and "Waiting for the first callback" in done
    assert f"http://testserver/hooks/wecom/{account.hook_token}/" in done
    stored = " ".join(str(v) for v in WeComAccount.objects.filter(pk=account.pk).values().get().values())
    assert "app-secret" not in stored and ENCODING_AES_KEY not in stored and TOKEN not in stored
    assert (account.secret, account.token, account.encoding_aes_key) == ("app-secret", TOKEN, ENCODING_AES_KEY)
    # Connecting again (a new secret) keeps the callback URL pasted into WeCom's admin.
    client.post(url(workspace, "wecom_connect"), {**VALUES, "secret": "rotated"})
    again = WeComAccount.objects.get(workspace=workspace)
    assert (again.hook_token, again.secret) == (account.hook_token, "rotated")


def test_bad_values_say_which_field_and_store_nothing(client, workspace, make_staff):
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    page = client.post(url(workspace, "wecom_connect"), {**VALUES, "corp_id": "ww 1!", "encoding_aes_key": "short", "token": "to-ken"})
    text = page.content.decode()
    assert page.status_code == 400
    assert "A CorpID is letters and digits" in text and "The EncodingAESKey is 43 letters" in text
    assert "The Token is 1 to 32 letters or digits" in text
    too_long = client.post(url(workspace, "wecom_connect"), {**VALUES, "token": "t" * 33})
    assert too_long.status_code == 400 and "at most 32 characters" in too_long.content.decode()
    assert not WeComAccount.objects.exists()


def test_only_owners_and_admins_change_it(client, workspace, make_staff):
    connect(workspace)
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    page = client.get(url(workspace)).content.decode()
    assert CORP_ID in page and "Test the callback" not in page
    assert client.post(url(workspace, "wecom_connect"), VALUES).status_code == 403
    assert client.post(url(workspace, "wecom_disconnect")).status_code == 403
    assert client.post(url(workspace, "wecom_test")).status_code == 403
    assert WeComAccount.objects.filter(workspace=workspace).exists()


def test_the_callback_test_reaches_the_url_over_the_network(client, workspace, make_staff, live_server):
    account = connect(workspace)
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    host = urlsplit(live_server.url).netloc
    done = client.post(url(workspace, "wecom_test"), follow=True, HTTP_HOST=host).content.decode()
    assert "answered the verification with the right echo" in done
    assert not Event.objects.filter(workspace=workspace).exists()
    # A disabled app's URL answers 404: the test says so, on the page and as the account's last error.
    WeComAccount.objects.filter(pk=account.pk).update(enabled=False)
    accounts_forget()  # as if another process disabled it CACHE_SECONDS ago
    failed = client.post(url(workspace, "wecom_test"), follow=True, HTTP_HOST=host).content.decode()
    assert "answered 404" in failed
    assert "answered 404" in WeComAccount.objects.get(pk=account.pk).last_error


def test_dead_letters_are_read_and_replayed_by_operators_not_viewers(client, workspace, make_staff):
    account = connect(workspace)
    hook, body = signed_post(account, event_xml("change_external_chat", ChatId="wr1", ChangeType="update", UpdateDetail="add_member"))
    client.post(hook, data=body, content_type="text/xml")
    letter = DeadLetter.objects.get()
    client.force_login(make_staff(workspace, role=Role.VIEWER))
    assert client.get(url(workspace, "dead_letters")).status_code == 403
    assert client.post(url(workspace, "dead_letter_replay", letter.pk)).status_code == 403
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    page = client.get(url(workspace, "dead_letters")).content.decode()
    assert "no MemChangeList" in page and "change_external_chat" in page
    replayed = client.post(url(workspace, "dead_letter_replay", letter.pk), follow=True).content.decode()
    assert "Replay failed" in replayed and "no MemChangeList" in replayed
    assert client.get(url(workspace, "wecom")).status_code == 200


def test_the_wecom_command_connects_reports_and_disconnects(workspace, capsys, monkeypatch):
    monkeypatch.setenv("SIYU_WECOM_SECRET", "app-secret")
    monkeypatch.setenv("SIYU_WECOM_TOKEN", TOKEN)
    monkeypatch.setenv("SIYU_WECOM_AES_KEY", ENCODING_AES_KEY)
    call_command("wecom", "connect", "--workspace", workspace.slug, "--corp-id", CORP_ID, "--agent-id", "1000002",
                 "--base-url", "https://siyu.example.com/")
    account = WeComAccount.objects.get(workspace=workspace)
    assert f"callback URL https://siyu.example.com/hooks/wecom/{account.hook_token}/" in capsys.readouterr().out
    call_command("wecom", "status", "--workspace", workspace.slug)
    assert "last callback never" in capsys.readouterr().out
    with pytest.raises(CommandError, match="did not verify"):
        call_command("wecom", "test", "--workspace", workspace.slug, "--base-url", "http://127.0.0.1:9")
    assert "Cannot reach" in capsys.readouterr().out
    monkeypatch.setenv("SIYU_WECOM_AES_KEY", "short")
    with pytest.raises(CommandError, match="encoding_aes_key: The EncodingAESKey is 43"):
        call_command("wecom", "connect", "--workspace", workspace.slug, "--corp-id", CORP_ID, "--agent-id", "1000002")
    call_command("wecom", "disconnect", "--workspace", workspace.slug)
    assert "disconnected" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No WeCom app"):
        call_command("wecom", "status", "--workspace", workspace.slug)
