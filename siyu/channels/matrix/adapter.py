"""The Matrix channel: outbox messages become client-server API calls; /sync responses become events.

Outbound, every event-creating call carries a transaction id made from the outbox idempotency key,
so a message sent again after a worker died is the same Matrix event, not a second one.
"""
import html
import logging
import re
from datetime import datetime, timezone
from typing import Any

from django.utils import timezone as dj_timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.channels.base import AdapterError, ChannelAdapter, RateLimit
from siyu.core.kinds import (
    CREATE_GROUP, DELETE_MESSAGE, KINDS, REMOVE_MEMBER, SEND_PRIVATE, SEND_TEXT, SET_ANNOUNCEMENT,
)

from .client import MatrixError, txn_id
from .models import MatrixAccount, MatrixDirectRoom
from .services import account_client

log = logging.getLogger(__name__)

MAX_NAME = 128  # ingest's limit for actor and group names
MAX_TEXT = 4_000  # ingest's limit for data.text
OWNER_LEVEL, ADMIN_LEVEL = 100, 50
ANNOUNCEMENT_KEY = "io.siyu.announcement"  # in m.room.pinned_events: the pin Siyu set last
CREATED_STATE = "io.siyu.created"  # state event in a room Siyu created: {"key": the outbox idempotency key}
IN_ROOM = ("join", "invite", "knock")


def _account(workspace_id):
    account = MatrixAccount.objects.filter(workspace_id=workspace_id).first()
    if account is None:
        raise AdapterError(_("no Matrix bot is connected to this workspace: connect one on the Bot page"), permanent=True)
    if not account.enabled:
        raise AdapterError(_("the workspace's Matrix bot is disabled: enable it on the Bot page"), permanent=True)
    return account


class MatrixAdapter(ChannelAdapter):
    name = "matrix"
    label = gettext_lazy("Matrix")
    kinds = frozenset((*KINDS, CREATE_GROUP))

    # -- outbound --------------------------------------------------------------------------------
    def send(self, *, message):
        account = _account(message.workspace_id)
        client = account_client(account)
        handler = {
            SEND_TEXT: self._send_text,
            SEND_PRIVATE: self._send_private,
            REMOVE_MEMBER: self._remove_member,
            SET_ANNOUNCEMENT: self._set_announcement,
            DELETE_MESSAGE: self._delete_message,
            CREATE_GROUP: self._create_group,
        }.get(message.kind)
        if handler is None:
            raise AdapterError(_("Matrix cannot %(kind)s") % {"kind": message.kind}, permanent=True)
        payload = message.payload if isinstance(message.payload, dict) else {}
        return handler(account, client, message, payload)

    def rate_limits(self, *, message):
        account = MatrixAccount.objects.filter(workspace_id=message.workspace_id).first()
        if account is None:
            return ()
        return (
            RateLimit(f"matrix:{account.pk}", account.bot_per_second, account.bot_burst),
            RateLimit(f"matrix:{account.pk}:{message.target}", account.room_per_second, account.room_burst),
        )

    @staticmethod
    def _send_text(account, client, message, payload):
        content = text_content(payload.get("text", ""), payload.get("mentions") or [])
        return client.send_event(message.target, "m.room.message", content, txn=txn_id(message.idempotency_key))

    @staticmethod
    def _send_private(account, client, message, payload):
        room_id = direct_room_ensure(account=account, client=client, user_id=message.target)
        content = {"msgtype": "m.text", "body": payload.get("text", "")}
        return client.send_event(room_id, "m.room.message", content, txn=txn_id(message.idempotency_key))

    @staticmethod
    def _remove_member(account, client, message, payload):
        user_id = payload.get("user", "")
        try:
            return client.kick(message.target, user_id, reason=payload.get("reason", ""))
        except MatrixError as exc:
            if not exc.permanent:
                raise
            # A resend after the first kick went through, or they left on their own: the goal is met.
            member = client.member_get(message.target, user_id) if exc.status in (403, 404) else {"membership": "join"}
            if member is None or member.get("membership") not in IN_ROOM:
                return {}
            raise

    @staticmethod
    def _set_announcement(account, client, message, payload):
        room_id = message.target
        content = {"msgtype": "m.notice", "body": payload.get("text", "")}
        event_id = client.send_event(room_id, "m.room.message", content, txn=txn_id(message.idempotency_key))["event_id"]
        pins = client.state_get(room_id, "m.room.pinned_events") or {}
        pinned = [e for e in pins.get("pinned", []) if isinstance(e, str)]
        previous = pins.get(ANNOUNCEMENT_KEY)
        if pinned[:1] == [event_id]:
            return {"event_id": event_id}  # a resend: already pinned
        # The new announcement replaces Siyu's previous one; pins people set by hand stay.
        kept = [e for e in pinned if e not in (event_id, previous)]
        client.state_put(room_id, "m.room.pinned_events", {"pinned": [event_id, *kept], ANNOUNCEMENT_KEY: event_id})
        return {"event_id": event_id}

    @staticmethod
    def _delete_message(account, client, message, payload):
        event_id = payload.get("message_id", "")
        if not event_id:
            raise AdapterError(_("delete_message needs the message's event id"), permanent=True)
        return client.redact(message.target, event_id, txn=txn_id(message.idempotency_key), reason=payload.get("reason", ""))

    @staticmethod
    def _create_group(account, client, message, payload):
        """A public room named after the code, anyone with the link may join; the bot is its owner.

        createRoom has no transaction id, so the room carries the outbox key in an `io.siyu.created`
        state event, and a second attempt first looks for a room it already made.
        """
        name = _name(payload.get("name", ""), "Siyu")
        room_id = _created_room_find(client, message.idempotency_key) if message.attempts > 1 else None
        if room_id is None:
            room_id = client.room_create({
                "name": name, "preset": "public_chat", "visibility": "private",
                "initial_state": [{"type": CREATED_STATE, "state_key": "", "content": {"key": message.idempotency_key}}],
            })["room_id"]
        group = {"id": room_id, "name": name}
        group.update({k: payload[k] for k in ("kind", "capacity") if k in payload})
        server = account.user_id.partition(":")[2]
        return {"group": group, "url": f"https://matrix.to/#/{room_id}" + (f"?via={server}" if server else "")}

    # -- inbound ---------------------------------------------------------------------------------
    def parse(self, *, workspace, payload, names=None):
        """One /sync response → raw ingest events. A malformed event is logged and skipped.

        `names` ({room id: {user id: display name}}, what the sync knows of each room's member state)
        names the people whose member event is not in this response.
        """
        names = names or {}
        account = MatrixAccount.objects.filter(workspace=workspace).first()
        bot_user = account.user_id if account else ""
        direct_rooms = set(account.direct_rooms.values_list("room_id", flat=True)) if account else set()
        rooms = payload.get("rooms") if isinstance(payload, dict) else None
        if not isinstance(rooms, dict):
            return []
        events = []
        for section in ("join", "leave"):
            entries = rooms.get(section)
            if not isinstance(entries, dict):
                continue
            for room_id, room in entries.items():
                if room_id in direct_rooms or not isinstance(room, dict):
                    continue
                events += room_events(room_id, room, bot_user=bot_user, names=names.get(room_id))
        return events


def text_content(text, mentions):
    """An m.text message: mentions as HTML pills in formatted_body and listed in m.mentions."""
    content = {"msgtype": "m.text", "body": text}
    mentioned = [m for m in mentions if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
    if not mentioned:
        return content
    pills = {}
    for mention in mentioned:
        name = str(mention.get("name") or mention["id"])
        pills[f"@{name}"] = f'<a href="https://matrix.to/#/{html.escape(mention["id"])}">{html.escape(name)}</a>'
    # Longest first, so "@Ann Lee" wins over "@Ann"; each "@name" is replaced in one pass.
    pattern = re.compile("|".join(re.escape(key) for key in sorted(pills, key=len, reverse=True)))
    parts, end = [], 0
    for match in pattern.finditer(text):
        parts += [html.escape(text[end : match.start()]), pills[match.group(0)]]
        end = match.end()
    parts.append(html.escape(text[end:]))
    formatted = "".join(parts)
    missing = [pill for key, pill in pills.items() if key not in text]
    if missing:
        formatted = " ".join([formatted, *missing]) if text else " ".join(missing)
    content["format"] = "org.matrix.custom.html"
    content["formatted_body"] = formatted.replace("\n", "<br>")
    content["m.mentions"] = {"user_ids": list(dict.fromkeys(m["id"] for m in mentioned))}
    return content


def _created_room_find(client, key):
    """The room an earlier attempt of this outbox message created, or None."""
    for room_id in client.joined_rooms():
        try:
            state = client.state_get(room_id, CREATED_STATE)
        except MatrixError:
            continue
        if isinstance(state, dict) and state.get("key") == key:
            return room_id
    return None


def direct_room_ensure(*, account, client, user_id):
    """The room for talking to `user_id` alone: the one created before if they are still in it, else a new one.

    Not idempotent across a crash between creating the room and saving it (a second room is created
    then); Matrix offers no transaction id for createRoom.
    """
    direct = MatrixDirectRoom.objects.filter(account=account, user_id=user_id).first()
    if direct is not None:
        member = client.member_get(direct.room_id, user_id)
        if member is not None and member.get("membership") in ("join", "invite"):
            return direct.room_id
    room_id = client.room_create(
        {"is_direct": True, "invite": [user_id], "preset": "trusted_private_chat"}
    )["room_id"]
    MatrixDirectRoom.objects.update_or_create(account=account, user_id=user_id, defaults={"room_id": room_id})
    return room_id


# -- /sync parsing ---------------------------------------------------------------------------------
def _name(value, fallback):
    text = value.strip() if isinstance(value, str) else ""
    return (text or fallback)[:MAX_NAME]


def role_for_level(level):
    if level >= OWNER_LEVEL:
        return "owner"
    if level >= ADMIN_LEVEL:
        return "admin"
    return "member"


def _level(power_levels, user_id):
    users = power_levels.get("users") if isinstance(power_levels.get("users"), dict) else {}
    level = users.get(user_id, power_levels.get("users_default", 0))
    return level if isinstance(level, int) and not isinstance(level, bool) else 0


def _moment(event):
    ts = event.get("origin_server_ts")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        raise ValueError("no origin_server_ts")
    # A homeserver whose clock runs ahead must not make ingest refuse the whole batch as "future".
    return min(datetime.fromtimestamp(ts / 1000, tz=timezone.utc), dj_timezone.now())


def _previous_content(event):
    unsigned = event.get("unsigned") if isinstance(event.get("unsigned"), dict) else {}
    previous = unsigned.get("prev_content", event.get("prev_content"))
    return previous if isinstance(previous, dict) else None


def room_events(room_id, room, *, bot_user, names=None):
    """Raw events for one room's state and timeline, in that order; bad events are logged and skipped.

    A sender is named by their member event in this response, else by `names` (the room's member state
    as known from earlier responses), else by their user id.
    """
    raw = []
    for part in ("state", "timeline"):
        block = room.get(part)
        listed = block.get("events") if isinstance(block, dict) else None
        if isinstance(listed, list):
            raw += [(part, e) for e in listed]
    # What this response says about the room: its name, its members' names and power levels.
    context: dict[str, Any] = {"name": None, "names": {}, "power": None, "creators": set()}
    for _part, event in raw:
        if not isinstance(event, dict) or not isinstance(event.get("content"), dict):
            continue
        kind, content = event.get("type"), event["content"]
        if kind == "m.room.name" and isinstance(content.get("name"), str) and content["name"].strip():
            context["name"] = content["name"]
        elif kind == "m.room.member" and isinstance(event.get("state_key"), str) and content.get("displayname"):
            context["names"].setdefault(event["state_key"], content["displayname"])
        elif kind == "m.room.power_levels" and context["power"] is None:
            context["power"] = content
        elif kind == "m.room.create" and isinstance(event.get("sender"), str):
            # Room version 12 gives creators unlimited power outside power_levels.users.
            extra = content.get("additional_creators")
            context["creators"] |= {event["sender"], *(u for u in extra if isinstance(u, str))} if isinstance(extra, list) else {event["sender"]}
    context["names"] = {**(names or {}), **context["names"]}
    group = {"id": room_id, "name": _name(context["name"], room_id)}
    arrived = _bot_arrival(raw, bot_user)
    events, seen = [], set()
    for position, (part, event) in enumerate(raw):
        try:
            event_id = event.get("event_id")
            if event_id in seen:
                continue
            made = _event(event, group=group, context=context, bot_user=bot_user)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("matrix: skipped a malformed %s event in %s (%s): %.300r", part, room_id, exc, event)
            continue
        seen.add(event_id)
        if position < arrived:
            # What happened before the bot was in the room: recorded, but nobody is welcomed or answered.
            for made_event in made:
                made_event["data"] = {**made_event.get("data", {}), "history": True}
        events += made
    return events


def _bot_arrival(raw, bot_user):
    """The position of the bot's own join in this response (state first, then timeline), or -1.

    When the bot has just accepted an invite, the room's state and the timeline before its join are
    the room's past, not things happening in front of it."""
    for position, (part, event) in enumerate(raw):
        if (
            part == "timeline" and isinstance(event, dict) and event.get("type") == "m.room.member"
            and event.get("state_key") == bot_user and isinstance(event.get("content"), dict)
            and event["content"].get("membership") == "join"
            and (_previous_content(event) or {}).get("membership") != "join"
        ):
            return position
    return -1


def _event(event, *, group, context, bot_user):
    """The raw ingest events one Matrix event becomes (usually one or none)."""
    kind = event["type"]
    if not isinstance(kind, str):
        raise TypeError("type is not a string")
    event_id = event["event_id"]
    if not isinstance(event_id, str) or not event_id or len(event_id) > 191:
        raise ValueError("bad event_id")
    content = event["content"]
    if not isinstance(content, dict):
        raise TypeError("content is not an object")
    sender = event.get("sender")
    base = {"source_id": event_id, "occurred_at": _moment(event).isoformat(), "group": group}
    if kind == "m.room.member":
        return _membership(event, content, base, context=context, bot_user=bot_user)
    if kind == "m.room.message":
        if sender == bot_user or not isinstance(sender, str):
            return []
        body = content.get("body")
        new_content = content.get("m.new_content")
        if isinstance(new_content, dict) and isinstance(new_content.get("body"), str):
            body = new_content["body"]  # an edit: moderation must see what the message says now
        if not isinstance(body, str):
            return []  # redacted, or not a message a person wrote
        data = {"text": body[:MAX_TEXT], "message_id": event_id, "msgtype": str(content.get("msgtype", ""))[:64]}
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace" and isinstance(relates.get("event_id"), str):
            data["replaces"] = relates["event_id"]
        actor = {"id": sender, "name": _name(context["names"].get(sender), sender)}
        return [{**base, "type": "group.message", "actor": actor, "data": data}]
    if kind == "m.room.name":
        name = content.get("name")
        if not isinstance(name, str) or not name.strip():
            return []
        return [{**base, "type": "group.updated", "data": {"name": name.strip()[:MAX_NAME]}}]
    if kind == "m.room.power_levels":
        return _role_changes(event, content, base, context=context, bot_user=bot_user)
    return []


def _membership(event, content, base, *, context, bot_user):
    user_id = event["state_key"]
    if not isinstance(user_id, str) or not user_id or user_id == bot_user:
        return []
    membership = content.get("membership")
    previous = _previous_content(event)
    was = previous.get("membership") if previous else None
    actor = {"id": user_id, "name": _name(content.get("displayname") or context["names"].get(user_id), user_id)}
    if membership == "join":
        if was == "join":
            return []  # a display name or avatar change, not a join
        data = {}
        if user_id in context["creators"]:
            data["role"] = "owner"
        elif context["power"] is not None:
            data["role"] = role_for_level(_level(context["power"], user_id))
        return [{**base, "type": "group.joined", "actor": actor, "data": data}]
    if membership in ("leave", "ban") and was in ("join", None):
        data = {"membership": membership}
        sender = event.get("sender")
        if isinstance(sender, str) and sender != user_id:
            data["by"] = sender  # kicked or banned
        if isinstance(content.get("reason"), str) and content["reason"]:
            data["reason"] = content["reason"][:500]
        return [{**base, "type": "group.left", "actor": actor, "data": data}]
    return []


def _role_changes(event, content, base, *, context, bot_user):
    users = content.get("users", {})
    if not isinstance(users, dict):
        raise TypeError("users is not an object")
    previous = _previous_content(event)
    before = previous if isinstance(previous, dict) else None
    changed = []
    for user_id in sorted(set(users) | set((before or {}).get("users", {}) or {})):
        if not isinstance(user_id, str) or user_id == bot_user or user_id in context["creators"]:
            continue
        role = role_for_level(_level(content, user_id))
        if before is not None and role == role_for_level(_level(before, user_id)):
            continue
        changed.append((user_id, role))
    return [
        {
            **base, "source_id": f"{base['source_id']}|{user_id}"[:191], "type": "group.role_changed",
            "actor": {"id": user_id, "name": _name(context["names"].get(user_id), user_id)}, "data": {"role": role},
        }
        for user_id, role in changed
    ]
