"""The console's Bot page: owners and admins connect, test and disconnect the bot; others only look."""
import pytest
from django.urls import reverse

from siyu.channels.matrix.models import MatrixAccount
from siyu.core.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.cookies["django_language"] = "en"
    return client


def url(workspace, name="bot"):
    return reverse(f"console:{name}", args=[workspace.slug])


def test_an_admin_connects_with_a_token_sees_the_account_tests_it_and_disconnects(client, workspace, make_staff, synapse, bot):
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    page = client.get(url(workspace))
    assert page.status_code == 200 and "No bot is connected" in page.content.decode()

    done = client.post(url(workspace, "bot_connect"), {"homeserver": synapse.url, "access_token": bot[1]}, follow=True)
    text = done.content.decode()
    assert f"Connected as {bot[0]}" in text and "Waiting for the first sync" in text

    tested = client.post(url(workspace, "bot_test"), follow=True).content.decode()
    assert "knows the token as" in tested

    saved = client.post(url(workspace, "bot_settings"), {"enabled": "on", "bot_per_second": "2", "bot_burst": "20",
                                                         "room_per_second": "0.5", "room_burst": "3"}, follow=True)
    assert "Bot settings saved" in saved.content.decode()
    assert MatrixAccount.objects.get(workspace=workspace).bot_per_second == 2

    client.post(url(workspace, "bot_disconnect"))
    assert not MatrixAccount.objects.filter(workspace=workspace).exists()


def test_a_wrong_token_is_explained_on_the_page(client, workspace, make_staff, synapse):
    client.force_login(make_staff(workspace, role=Role.OWNER))
    page = client.post(url(workspace, "bot_connect"), {"homeserver": synapse.url, "access_token": "nope"})
    assert page.status_code == 200
    assert "does not accept this access token" in page.content.decode()


def test_the_last_sync_error_is_shown(client, workspace, make_staff, matrix_account):
    matrix_account.last_error = "cannot reach http://127.0.0.1:1: connection refused"
    matrix_account.save()
    client.force_login(make_staff(workspace, role=Role.VIEWER))
    text = client.get(url(workspace)).content.decode()
    assert "Failing" in text and "connection refused" in text
    assert "Test connection" not in text  # a viewer cannot act


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.VIEWER])
def test_only_owners_and_admins_may_change_the_bot(client, workspace, make_staff, matrix_account, role):
    client.force_login(make_staff(workspace, role=role))
    for name in ("bot_connect", "bot_test", "bot_settings", "bot_disconnect"):
        assert client.post(url(workspace, name), {"homeserver": "http://x", "access_token": "t"}).status_code == 403
    assert MatrixAccount.objects.filter(pk=matrix_account.pk).exists()
