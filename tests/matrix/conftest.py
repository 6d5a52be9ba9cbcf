"""A real Synapse homeserver for the Matrix tests: configured on a free loopback port with SQLite, started
once per session, killed at its end. Skipped when matrix-synapse is not installed (a failure in CI).

Tests use the `synapse` fixture's helpers, which talk to the server directly (not through Siyu's
client), so what they read back is what a Matrix user would see.
"""
import hashlib
import hmac
import importlib.util
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
from django.utils import translation

from tests.conftest import require

API = "/_matrix/client/v3"
_txn = itertools.count(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _q(value):
    return quote(value, safe="")


class Synapse:
    """One running homeserver and the helpers tests need to act as its users and admin."""

    def __init__(self, url, shared_secret, directory):
        self.url = url
        self.shared_secret = shared_secret
        self.directory = directory
        self.http = httpx.Client(base_url=url, timeout=30)
        self._admin = None

    def call(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    # -- users ---------------------------------------------------------------------------------
    def register(self, username=None, admin=False, password="pw-for-tests-123", displayname=None):
        """A new user through the shared-secret admin API → (user_id, access_token)."""
        username = username or f"u{uuid.uuid4().hex[:10]}"
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), username.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
        body = {"nonce": nonce, "username": username, "password": password, "admin": admin, "mac": mac.hexdigest()}
        if displayname:
            body["displayname"] = displayname
        answer = self.call("POST", "/_synapse/admin/v1/register", json=body)
        return answer["user_id"], answer["access_token"]

    @property
    def admin_token(self):
        if self._admin is None:
            self._admin = self.register(f"admin{uuid.uuid4().hex[:6]}", admin=True)[1]
        return self._admin

    def set_ratelimit(self, user_id, messages_per_second, burst_count):
        """Override Synapse's message rate limit for one user (0, 0 removes the limit)."""
        return self.call(
            "POST", f"/_synapse/admin/v1/users/{_q(user_id)}/override_ratelimit", self.admin_token,
            json={"messages_per_second": messages_per_second, "burst_count": burst_count},
        )

    def set_displayname(self, token, user_id, name):
        return self.call("PUT", f"{API}/profile/{_q(user_id)}/displayname", token, json={"displayname": name})

    # -- rooms ---------------------------------------------------------------------------------
    def create_room(self, token, name, invite=(), bot=None, bot_level=100, power=None):
        """A room created by `token`'s user, inviting `invite`; `bot` gets `bot_level`. Returns the room id."""
        users = dict(power or {})
        if bot:
            users[bot] = bot_level
        body = {"name": name, "preset": "private_chat", "invite": list(invite)}
        if users:
            # Room version 12 (Synapse's default) gives the creator unlimited power outside `users`.
            body["power_level_content_override"] = {"users": users}
        return self.call("POST", f"{API}/createRoom", token, json=body)["room_id"]

    def invite(self, token, room_id, user_id):
        return self.call("POST", f"{API}/rooms/{_q(room_id)}/invite", token, json={"user_id": user_id})

    def join(self, token, room_id):
        return self.call("POST", f"{API}/join/{_q(room_id)}", token, json={})["room_id"]

    def leave(self, token, room_id):
        return self.call("POST", f"{API}/rooms/{_q(room_id)}/leave", token, json={})

    def send_text(self, token, room_id, text, **extra):
        content = {"msgtype": "m.text", "body": text, **extra}
        path = f"{API}/rooms/{_q(room_id)}/send/m.room.message/t{next(_txn)}-{uuid.uuid4().hex[:6]}"
        return self.call("PUT", path, token, json=content)["event_id"]

    def room_messages(self, token, room_id, limit=200, types=("m.room.message",)):
        """The room's events, oldest first (only `types`; None for all)."""
        params = {"dir": "b", "limit": str(limit)}
        if types:
            params["filter"] = '{"types": [%s]}' % ",".join(f'"{t}"' for t in types)
        chunk = self.call("GET", f"{API}/rooms/{_q(room_id)}/messages", token, params=params)["chunk"]
        return list(reversed(chunk))

    def state(self, token, room_id, event_type, state_key=""):
        response = self.http.get(
            f"{API}/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}", headers={"Authorization": f"Bearer {token}"}
        )
        return response.json() if response.status_code == 200 else None

    def membership(self, token, room_id, user_id):
        member = self.state(token, room_id, "m.room.member", user_id)
        return member.get("membership") if member else None

    def event(self, token, room_id, event_id):
        return self.call("GET", f"{API}/rooms/{_q(room_id)}/event/{_q(event_id)}", token)

    def joined_rooms(self, token):
        return self.call("GET", f"{API}/joined_rooms", token)["joined_rooms"]


def _configure(directory, port, shared_secret):
    import yaml

    path = directory / "homeserver.yaml"
    config = yaml.safe_load(path.read_text())
    generous = {"per_second": 1000, "burst_count": 1000}
    config.update(
        listeners=[{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False, "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }],
        database={"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        registration_shared_secret=shared_secret,
        enable_registration=False,
        trusted_key_servers=[],
        suppress_key_server_warning=True,
        report_stats=False,
        presence={"enabled": False},
        url_preview_enabled=False,
        bcrypt_rounds=4,  # registering a user costs milliseconds, not a quarter second
        rc_message=generous,
        rc_joins={"local": generous, "remote": generous},
        rc_joins_per_room=generous,
        rc_login={"address": generous, "account": generous, "failed_attempts": generous},
        rc_invites={"per_room": generous, "per_user": generous, "per_issuer": generous},
        rc_registration=generous,
        rc_admin_redaction=generous,
        rc_room_creation=generous,
        rc_3pid_validation=generous,
    )
    path.write_text(yaml.safe_dump(config))
    # Warnings only, to a file: the tests read the server through its API, not its log.
    (directory / "localhost.log.config").write_text(
        "version: 1\n"
        "formatters: {precise: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}}\n"
        f"handlers: {{file: {{class: logging.FileHandler, formatter: precise, filename: {directory / 'homeserver.log'}}}}}\n"
        "root: {level: WARNING, handlers: [file]}\n"
        "disable_existing_loggers: false\n"
    )
    return path


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    require(importlib.util.find_spec("synapse") is not None, "matrix-synapse is not installed (pip install -e '.[test]')")
    directory = tmp_path_factory.mktemp("synapse")
    port = free_port()
    shared_secret = uuid.uuid4().hex
    generated = subprocess.run(
        [sys.executable, "-m", "synapse.app.homeserver", "--server-name", "localhost",
         "--config-path", str(directory / "homeserver.yaml"), "--generate-config", "--report-stats=no"],
        cwd=directory, capture_output=True, text=True, timeout=120,
    )
    assert generated.returncode == 0, generated.stderr
    config = _configure(directory, port, shared_secret)
    log = open(directory / "stdout.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)],
        cwd=directory, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"Synapse exited with {process.returncode}: {(directory / 'stdout.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/_matrix/client/versions", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Synapse did not answer /versions within 60 s")
            time.sleep(0.1)
        server = Synapse(url, shared_secret, directory)
        yield server
        server.http.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English; the default language is Chinese."""
    with translation.override("en"):
        yield


@pytest.fixture
def bot(synapse):
    """A fresh bot user: (user_id, token)."""
    return synapse.register(f"bot{uuid.uuid4().hex[:8]}", displayname="Siyu Bot")


@pytest.fixture
def matrix_account(workspace, synapse, bot):
    """The test workspace connected to the fresh bot, with send limits that never hold a test back."""
    from siyu.channels.matrix.services import matrix_connect

    account = matrix_connect(workspace=workspace, homeserver=synapse.url, access_token=bot[1])
    account.bot_per_second = account.room_per_second = 1000
    account.bot_burst = account.room_burst = 1000
    account.save()
    return account
