"""A small, synchronous client for the Matrix client-server API: only the endpoints the bot uses.

Every failure is an AdapterError (`MatrixError`), so the outbox and the sync loop treat all of them
alike: HTTP 429 is temporary and carries the server's wait, network errors, timeouts and 5xx are
temporary, and refusals (bad token, no permission, unknown room) are permanent with a message an
operator can act on.
"""
import base64
import json
import logging
from urllib.parse import quote

import httpx
from django.utils.translation import gettext as _

from siyu.channels.base import AdapterError

log = logging.getLogger(__name__)

API = "/_matrix/client/v3"
DEFAULT_TIMEOUT = 20.0  # seconds for one ordinary request; /sync adds its long-poll time


class MatrixError(AdapterError):
    """An AdapterError with what the homeserver said: HTTP status and Matrix errcode (both may be None)."""

    def __init__(self, message, *, permanent, retry_after=None, status=None, errcode=None):
        super().__init__(message, permanent=permanent, retry_after=retry_after)
        self.status = status
        self.errcode = errcode


def txn_id(key):
    """A transaction id for an idempotency key: URL-safe, so any key fits in the path unchanged.

    The homeserver remembers transaction ids per device, so a resend with the same key returns the
    first event instead of posting again.
    """
    return base64.urlsafe_b64encode(key.encode()).decode("ascii").rstrip("=")


def _path(*parts):
    return "/".join(quote(part, safe="") for part in parts)


def retry_after_seconds(response, body):
    """The wait a 429 asks for: retry_after_ms in the body, else the Retry-After header (seconds)."""
    milliseconds = body.get("retry_after_ms") if isinstance(body, dict) else None
    if isinstance(milliseconds, (int, float)) and not isinstance(milliseconds, bool) and milliseconds >= 0:
        return milliseconds / 1000
    header = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


class MatrixClient:
    """One homeserver, one access token (None before login). Thread-safe: httpx.Client is."""

    def __init__(self, homeserver, access_token=None, *, timeout=DEFAULT_TIMEOUT, transport=None):
        self.homeserver = homeserver.rstrip("/")
        self.access_token = access_token
        self.timeout = timeout
        headers = {"User-Agent": "Siyu-bot"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        self._http = httpx.Client(base_url=self.homeserver, headers=headers, timeout=timeout, transport=transport)

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- transport -------------------------------------------------------------------------------
    def request(self, method, path, *, json_body=None, params=None, timeout=None, refusals=None):
        """Send one request and return its JSON body, or raise MatrixError.

        `refusals` maps an HTTP status or errcode to the message an operator should see for it
        (e.g. {"M_FORBIDDEN": "the bot lacks permission…"}); the server's own text is appended.
        """
        try:
            response = self._http.request(method, path, json=json_body, params=params, timeout=timeout or self.timeout)
        except httpx.TimeoutException:
            raise MatrixError(_("%(server)s did not answer in time") % {"server": self.homeserver}, permanent=False) from None
        except httpx.HTTPError as exc:
            raise MatrixError(
                _("cannot reach %(server)s: %(reason)s") % {"server": self.homeserver, "reason": exc or type(exc).__name__},
                permanent=False,
            ) from None
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        if response.is_success:
            if not isinstance(body, dict):
                raise MatrixError(
                    _("%(server)s answered %(path)s with something that is not Matrix JSON")
                    % {"server": self.homeserver, "path": path.split("?")[0]},
                    permanent=True, status=response.status_code,
                )
            return body
        raise self._error(response, body, refusals or {})

    def _error(self, response, body, refusals):
        status = response.status_code
        errcode = body.get("errcode") if isinstance(body, dict) else None
        said = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else ""
        detail = f" ({errcode}: {said})" if errcode else ""
        if status == 429 or errcode == "M_LIMIT_EXCEEDED":
            wait = retry_after_seconds(response, body)
            return MatrixError(
                _("%(server)s asks the bot to slow down (rate limited)") % {"server": self.homeserver},
                permanent=False, retry_after=wait, status=status, errcode=errcode,
            )
        if status >= 500:
            return MatrixError(
                _("%(server)s had an internal error (HTTP %(status)s)") % {"server": self.homeserver, "status": status}
                + detail, permanent=False, status=status, errcode=errcode,
            )
        message = refusals.get(errcode) or refusals.get(status)
        if message is None and (status == 401 or errcode == "M_UNKNOWN_TOKEN"):
            message = _(
                "the homeserver rejected the bot's access token (it was logged out or revoked): connect the bot again"
            )
        if message is None and status == 404 and errcode in (None, "M_UNRECOGNIZED"):
            message = _("%(server)s does not offer this Matrix endpoint") % {"server": self.homeserver}
        if message is None:
            message = _("the homeserver refused the request (HTTP %(status)s)") % {"status": status}
        return MatrixError(message + detail, permanent=True, status=status, errcode=errcode)

    # -- endpoints -------------------------------------------------------------------------------
    def versions(self):
        return self.request("GET", "/_matrix/client/versions")

    def whoami(self):
        return self.request("GET", f"{API}/account/whoami")

    def login_password(self, *, user, password, device_name="Siyu bot"):
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            "initial_device_display_name": device_name,
        }
        refusals = {"M_FORBIDDEN": _("wrong user name or password"), "M_USER_DEACTIVATED": _("this user is deactivated")}
        return self.request("POST", f"{API}/login", json_body=body, refusals=refusals)

    def logout(self):
        return self.request("POST", f"{API}/logout", json_body={})

    def sync(self, *, since=None, filter=None, timeout_ms=30_000):
        params = {"timeout": str(int(timeout_ms))}
        if since:
            params["since"] = since
        if filter is not None:
            params["filter"] = filter if isinstance(filter, str) else json.dumps(filter, separators=(",", ":"))
        return self.request("GET", f"{API}/sync", params=params, timeout=self.timeout + timeout_ms / 1000)

    def join(self, room_id_or_alias):
        refusals = {
            "M_FORBIDDEN": _("the bot may not join %(room)s (not invited, or banned)") % {"room": room_id_or_alias},
            404: _("room %(room)s was not found") % {"room": room_id_or_alias},
        }
        return self.request("POST", f"{API}/join/{_path(room_id_or_alias)}", json_body={}, refusals=refusals)

    def kick(self, room_id, user_id, *, reason=""):
        refusals = {
            "M_FORBIDDEN": _(
                "the bot lacks permission to remove members in %(room)s: give it power level 50 or more"
            ) % {"room": room_id},
            404: _("room %(room)s was not found") % {"room": room_id},
        }
        body = {"user_id": user_id, **({"reason": reason} if reason else {})}
        return self.request("POST", f"{API}/rooms/{_path(room_id)}/kick", json_body=body, refusals=refusals)

    def send_event(self, room_id, event_type, content, *, txn):
        refusals = {
            "M_FORBIDDEN": _("the bot may not post in %(room)s (not a member, or its power level is too low)")
            % {"room": room_id},
            404: _("room %(room)s was not found") % {"room": room_id},
        }
        path = f"{API}/rooms/{_path(room_id)}/send/{_path(event_type)}/{_path(txn)}"
        return self.request("PUT", path, json_body=content, refusals=refusals)

    def redact(self, room_id, event_id, *, txn, reason=""):
        refusals = {
            "M_FORBIDDEN": _(
                "the bot lacks permission to delete messages in %(room)s: give it power level 50 or more"
            ) % {"room": room_id},
            404: _("message %(event)s was not found in %(room)s") % {"event": event_id, "room": room_id},
        }
        path = f"{API}/rooms/{_path(room_id)}/redact/{_path(event_id)}/{_path(txn)}"
        return self.request("PUT", path, json_body={"reason": reason} if reason else {}, refusals=refusals)

    def state_get(self, room_id, event_type, state_key=""):
        """The content of one state event, or None if the room has none of that type and key."""
        try:
            return self.request("GET", f"{API}/rooms/{_path(room_id)}/state/{_path(event_type)}/{_path(state_key)}")
        except MatrixError as exc:
            if exc.status == 404 and exc.errcode == "M_NOT_FOUND":
                return None
            raise

    def state_put(self, room_id, event_type, content, state_key=""):
        refusals = {
            "M_FORBIDDEN": _(
                "the bot lacks permission to change %(type)s in %(room)s: give it power level 50 or more"
            ) % {"type": event_type, "room": room_id},
        }
        path = f"{API}/rooms/{_path(room_id)}/state/{_path(event_type)}/{_path(state_key)}"
        return self.request("PUT", path, json_body=content, refusals=refusals)

    def member_get(self, room_id, user_id):
        """A member's m.room.member content in a room, or None if they never had one."""
        return self.state_get(room_id, "m.room.member", user_id)

    def joined_members(self, room_id):
        """{user id: display name or ""} of the room's joined members (the bot must be one of them)."""
        joined = self.request("GET", f"{API}/rooms/{_path(room_id)}/joined_members").get("joined")
        if not isinstance(joined, dict):
            return {}
        return {
            user_id: (member.get("display_name") if isinstance(member.get("display_name"), str) else "")
            for user_id, member in joined.items() if isinstance(user_id, str) and isinstance(member, dict)
        }

    def room_create(self, body):
        return self.request("POST", f"{API}/createRoom", json_body=body)

    def joined_rooms(self):
        return [r for r in self.request("GET", f"{API}/joined_rooms").get("joined_rooms", []) if isinstance(r, str)]

    def messages(self, room_id, *, start, end=None, direction="b", limit=100, filter=None):
        params = {"from": start, "dir": direction, "limit": str(limit)}
        if end:
            params["to"] = end
        if filter is not None:
            params["filter"] = json.dumps(filter, separators=(",", ":"))
        return self.request("GET", f"{API}/rooms/{_path(room_id)}/messages", params=params)
