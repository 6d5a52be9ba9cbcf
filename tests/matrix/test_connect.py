"""Connecting a bot: every wrong input gives a message that says what is wrong; a right one is stored encrypted."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from siyu.channels.matrix.models import MatrixAccount
from siyu.channels.matrix.services import matrix_connect, matrix_connection_test, matrix_disconnect
from tests.matrix.conftest import free_port

pytestmark = pytest.mark.django_db


def connect_error(**kwargs):
    with pytest.raises(ValidationError) as refused:
        matrix_connect(**kwargs)
    return " ".join(refused.value.messages)


@pytest.fixture
def web_server():
    """A loopback web server that is not Matrix: every path is a 404 page."""

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<h1>Not found</h1>")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("url", ["matrix.example.org", "ftp://127.0.0.1", "http://", "javascript:alert(1)"])
def test_a_url_that_is_not_http_is_refused_before_any_request(workspace, url):
    assert "is not a homeserver URL" in connect_error(workspace=workspace, homeserver=url, access_token="t")


def test_an_unreachable_server_says_so(workspace):
    message = connect_error(workspace=workspace, homeserver=f"http://127.0.0.1:{free_port()}", access_token="t")
    assert "Cannot connect to the homeserver" in message


def test_a_web_server_that_is_not_matrix_says_so(workspace, web_server):
    message = connect_error(workspace=workspace, homeserver=web_server, access_token="t")
    assert "is not a Matrix homeserver" in message


def test_a_bad_token_says_so(workspace, synapse):
    message = connect_error(workspace=workspace, homeserver=synapse.url, access_token="syt_not_a_real_token")
    assert "does not accept this access token" in message
    assert not MatrixAccount.objects.exists()


def test_a_bad_password_says_so(workspace, synapse):
    user_id, _token = synapse.register()
    message = connect_error(workspace=workspace, homeserver=synapse.url, user=user_id, password="wrong-password")
    assert "wrong user name or password" in message


def test_neither_token_nor_password_says_what_to_give(workspace, synapse):
    assert "access token, or its user name and password" in connect_error(workspace=workspace, homeserver=synapse.url)


def test_password_login_stores_the_token_encrypted_and_disconnect_logs_it_out(workspace, synapse):
    user_id, _token = synapse.register(password="bot-password-1")
    localpart = user_id[1:].split(":")[0]
    account = matrix_connect(workspace=workspace, homeserver=synapse.url + "/", user=localpart, password="bot-password-1")

    stored = MatrixAccount.objects.get()
    assert (stored.user_id, stored.homeserver, stored.token_from_login) == (user_id, synapse.url, True)
    assert stored.access_token.startswith("syt_")
    assert stored.access_token not in stored.access_token_encrypted
    assert matrix_connection_test(account=stored).user_id == user_id

    token = account.access_token
    assert matrix_disconnect(workspace=workspace)
    assert not MatrixAccount.objects.exists()
    assert synapse.http.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_connection_test_reports_a_revoked_token(workspace, synapse):
    user_id, token = synapse.register()
    account = matrix_connect(workspace=workspace, homeserver=synapse.url, access_token=token)
    synapse.call("POST", "/_matrix/client/v3/logout", token, json={})
    with pytest.raises(ValidationError) as refused:
        matrix_connection_test(account=account)
    assert "does not accept this access token" in refused.value.messages[0]


def test_connecting_another_bot_starts_its_stream_afresh(workspace, synapse):
    first = matrix_connect(workspace=workspace, homeserver=synapse.url, access_token=synapse.register()[1])
    first.since = "s1_2_3"
    first.save()
    second = matrix_connect(workspace=workspace, homeserver=synapse.url, access_token=synapse.register()[1])
    assert second.pk == first.pk and second.since == "" and second.user_id != first.user_id


def test_the_matrix_command_connects_tests_and_reports(workspace, synapse, capsys):
    from django.core.management import CommandError, call_command

    user_id, token = synapse.register()
    call_command("matrix", "connect", "--workspace", workspace.slug, "--homeserver", synapse.url, "--token", token)
    call_command("matrix", "test", "--workspace", workspace.slug)
    call_command("matrix", "status", "--workspace", workspace.slug)
    out = capsys.readouterr().out
    assert f"connected {user_id}" in out and f"ok: {user_id}" in out and "last sync never" in out
    with pytest.raises(CommandError, match="does not accept this access token"):
        call_command("matrix", "connect", "--workspace", workspace.slug, "--homeserver", synapse.url, "--token", "bad")
