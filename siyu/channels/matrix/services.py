"""Connecting a workspace's Matrix bot, testing it, and the one client per account everyone shares."""
import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.channels.base import AdapterError
from siyu.core.models import Workspace
from siyu.core.secrets import SecretUnreadable
from siyu.members.staff import member_staff_identities_mark

from .client import MatrixClient, MatrixError
from .models import MatrixAccount

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0

_clients: dict[int, tuple[tuple[str, str], MatrixClient]] = {}
_clients_lock = threading.Lock()


def account_client(account: MatrixAccount) -> MatrixClient:
    """A client for the account's homeserver and token, reused across sends (one connection pool).

    A reconnect (new token or server) gets a new client; the old one is closed.
    """
    key = (account.homeserver, account.access_token_encrypted)
    with _clients_lock:
        cached = _clients.get(account.pk)
        if cached and cached[0] == key:
            return cached[1]
        try:
            token = account.access_token
        except SecretUnreadable as exc:
            raise AdapterError(str(exc), permanent=True) from None
        client = MatrixClient(account.homeserver, token)
        if cached:
            cached[1].close()
        _clients[account.pk] = (key, client)
        return client


def homeserver_normalise(url: str | None) -> str:
    """The homeserver's base URL without a trailing slash; ValidationError if it is not http(s)://host."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            _("%(url)r is not a homeserver URL: give its address with http:// or https://, e.g. https://matrix.example.org")
            % {"url": url}
        )
    if parts.query or parts.fragment:
        raise ValidationError(_("A homeserver URL has no ?query or #fragment: %(url)s") % {"url": url})
    return url.rstrip("/")


def _check_matrix_server(client):
    """The client API versions the server offers; ValidationError if it cannot be reached or is not Matrix.

    Asked without a token: a homeserver refuses even /versions to a revoked one.
    """
    try:
        versions = client.versions()
    except MatrixError as exc:
        if exc.permanent:
            raise ValidationError(
                _("%(url)s answered, but it is not a Matrix homeserver (no client API at /_matrix/client/versions).")
                % {"url": client.homeserver}
            ) from None
        raise ValidationError(_("Cannot connect to the homeserver: %(reason)s") % {"reason": exc}) from None
    if not isinstance(versions.get("versions"), list):
        raise ValidationError(
            _("%(url)s answered, but it is not a Matrix homeserver (no client API at /_matrix/client/versions).")
            % {"url": client.homeserver}
        )
    return versions["versions"]


def _whoami(client):
    try:
        me = client.whoami()
    except MatrixError as exc:
        if exc.status == 401 or exc.errcode == "M_UNKNOWN_TOKEN":
            raise ValidationError(
                _("The homeserver does not accept this access token: check it was copied whole and is not logged out.")
            ) from None
        raise ValidationError(_("The homeserver refused to say who the token belongs to: %(reason)s") % {"reason": exc}) from None
    if not isinstance(me.get("user_id"), str) or not me["user_id"].startswith("@"):
        raise ValidationError(_("The homeserver's answer to whoami has no user id."))
    if me.get("is_guest"):
        raise ValidationError(_("This token belongs to a guest; the bot needs a registered user."))
    return me


def matrix_connect(
    *, workspace: Workspace, homeserver: str, access_token: str | None = None, user: str | None = None,
    password: str | None = None,
) -> MatrixAccount:
    """Check the homeserver and the credentials, then store the workspace's bot account (token encrypted).

    Either `access_token`, or `user` and `password` (Siyu logs in and keeps the session it gets).
    Raises ValidationError with a message an operator understands for a wrong URL, an unreachable
    server, a server that is not Matrix, a bad token or a bad password. Connecting again replaces the
    account; a different bot user starts its sync afresh.
    """
    homeserver = homeserver_normalise(homeserver)
    access_token = (access_token or "").strip()
    if not access_token and not (user and password):
        raise ValidationError(_("Give the bot's access token, or its user name and password."))
    with MatrixClient(homeserver, timeout=CONNECT_TIMEOUT) as anonymous:
        _check_matrix_server(anonymous)
        from_login = not access_token
        if from_login:
            try:
                login = anonymous.login_password(user=(user or "").strip(), password=password)
            except MatrixError as exc:
                if exc.status == 403 or exc.errcode == "M_FORBIDDEN":
                    raise ValidationError(_("The homeserver refused the login: wrong user name or password.")) from None
                raise ValidationError(_("Login failed: %(reason)s") % {"reason": exc}) from None
            access_token = login.get("access_token")
            if not isinstance(access_token, str) or not access_token:
                raise ValidationError(_("The homeserver's login answer has no access token."))
    with MatrixClient(homeserver, access_token, timeout=CONNECT_TIMEOUT) as client:
        me = _whoami(client)
    with transaction.atomic():
        account = MatrixAccount.objects.select_for_update().filter(workspace=workspace).first()
        if account is None:
            account = MatrixAccount(workspace=workspace)
        elif account.user_id != me["user_id"] or account.homeserver != homeserver:
            account.since = ""  # another bot: its own stream, from its beginning
            account.direct_rooms.all().delete()
        account.homeserver = homeserver
        account.user_id = me["user_id"]
        account.device_id = me.get("device_id") or ""
        account.access_token = access_token
        account.token_from_login = from_login
        account.enabled = True
        account.last_error = ""
        account.last_error_at = None
        account.save()
        # The bot's own account is staff, should it already be a member (events from before it was the bot).
        member_staff_identities_mark(workspace=workspace, channel="matrix", external_ids=[account.user_id])
    log.info("matrix: workspace %s connected bot %s on %s", workspace.slug, account.user_id, homeserver)
    return account


@dataclass(frozen=True)
class ConnectionReport:
    user_id: str
    device_id: str
    versions: list


def matrix_connection_test(*, account: MatrixAccount) -> "ConnectionReport":
    """Ask the homeserver who the stored token belongs to; ValidationError with the reason if that fails.

    Also fails if the token now belongs to another user than the account's (the bot was replaced).
    """
    try:
        token = account.access_token
    except SecretUnreadable as exc:
        raise ValidationError(str(exc)) from None
    with MatrixClient(account.homeserver, timeout=CONNECT_TIMEOUT) as anonymous:
        versions = _check_matrix_server(anonymous)
    with MatrixClient(account.homeserver, token, timeout=CONNECT_TIMEOUT) as client:
        me = _whoami(client)
    if me["user_id"] != account.user_id:
        raise ValidationError(
            _("The token now belongs to %(other)s, not %(bot)s: connect the bot again.")
            % {"other": me["user_id"], "bot": account.user_id}
        )
    return ConnectionReport(user_id=me["user_id"], device_id=me.get("device_id") or "", versions=versions)


def matrix_disconnect(*, workspace: Workspace) -> bool:
    """Forget the workspace's bot; a session Siyu opened by logging in is logged out (best effort)."""
    account = MatrixAccount.objects.filter(workspace=workspace).first()
    if account is None:
        return False
    if account.token_from_login:
        try:
            with MatrixClient(account.homeserver, account.access_token, timeout=CONNECT_TIMEOUT) as client:
                client.logout()
        except (MatrixError, SecretUnreadable) as exc:
            log.warning("matrix: logging out %s on disconnect failed: %s", account.user_id, exc)
    with _clients_lock:
        cached = _clients.pop(account.pk, None)
    if cached:
        cached[1].close()
    account.delete()
    return True


def matrix_settings_update(
    *, account: MatrixAccount, enabled: bool, bot_per_second: float, bot_burst: int, room_per_second: float,
    room_burst: int,
) -> MatrixAccount:
    """Turn the bot on or off and set how fast it may send (per bot, per room)."""
    account.enabled = enabled
    account.bot_per_second, account.bot_burst = bot_per_second, bot_burst
    account.room_per_second, account.room_burst = room_per_second, room_burst
    account.full_clean(exclude=["workspace", "access_token_encrypted"])
    account.save(update_fields=["enabled", "bot_per_second", "bot_burst", "room_per_second", "room_burst"])
    return account


def matrix_sync_recorded(*, account_id: int, since: str | None = None, error: object = None) -> None:
    """Record a sync outcome: the new `since` token and the time (success), or the error."""
    now = timezone.now()
    if error is None:
        changes = {"last_sync_at": now, "last_error": "", "last_error_at": None}
        if since is not None:
            changes["since"] = since
    else:
        changes = {"last_error": str(error)[:2000], "last_error_at": now}
    MatrixAccount.objects.filter(pk=account_id).update(**changes)
