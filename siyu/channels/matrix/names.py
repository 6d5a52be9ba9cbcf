"""Room members' display names, as the rooms' member state says.

A /sync response carries a member's m.room.member event only when it changed since the last one, so
a message from someone who joined an hour ago comes without their name. The sync keeps every name it
sees in `MatrixMemberName` and asks /joined_members for a room whose message sender it does not know
yet (once per room and response), so the bot's warnings and replies mention "@Carol", not
"@carol:example.org".
"""
import logging

from siyu.core.db import chunked

from .client import MatrixError
from .models import MatrixMemberName

log = logging.getLogger(__name__)

MAX_NAME = 255


def _events(room, part):
    block = room.get(part) if isinstance(room, dict) else None
    listed = block.get("events") if isinstance(block, dict) else None
    return [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []


def _response_names(room, bot_user):
    """(names this room's member events set, in order: a name or None when it has none, senders of messages)."""
    names, senders = {}, set()
    for event in _events(room, "state") + _events(room, "timeline"):
        user_id, content = event.get("state_key"), event.get("content")
        if event.get("type") == "m.room.member" and isinstance(user_id, str) and isinstance(content, dict):
            name = content.get("displayname")
            joined = content.get("membership") == "join" and isinstance(name, str) and name.strip()
            names[user_id] = name.strip()[:MAX_NAME] if joined and isinstance(name, str) else None
        elif event.get("type") == "m.room.message" and isinstance(event.get("sender"), str) and event["sender"] != bot_user:
            senders.add(event["sender"])
    return names, senders


def member_names_resolve(*, account, client, response):
    """What the sync knows of each joined room's member names, and what to write to the cache.

    Returns ({room id: {user id: name}}, {room id: {user id: name or None}}): the names for parsing
    this response (the cache, refreshed from /joined_members where a message's sender is named
    neither there nor by a member event of the response; the response's own member events come
    first when parsing) and the cache's changes (None: forget the name). Reads only; a failed
    /joined_members is logged and the sender keeps their user id as a name.
    """
    rooms = (response.get("rooms") or {}).get("join") if isinstance(response, dict) else None
    if not isinstance(rooms, dict) or not rooms:
        return {}, {}
    known: dict[str, dict[str, str]] = {room_id: {} for room_id in rooms}
    for chunk in chunked(list(rooms), 500):
        for room_id, user_id, name in MatrixMemberName.objects.filter(account=account, room_id__in=chunk).values_list(
            "room_id", "user_id", "display_name"
        ):
            known[room_id][user_id] = name
    changes = {}
    for room_id, room in rooms.items():
        names, senders = _response_names(room, account.user_id)
        changes[room_id] = dict(names)
        if not senders - known[room_id].keys() - {user_id for user_id, name in names.items() if name}:
            continue
        try:
            current = client.joined_members(room_id)
        except MatrixError as exc:
            log.warning("matrix: could not read the members of %s (%s); unknown senders keep their user id", room_id, exc)
            continue
        fetched = {u: n.strip()[:MAX_NAME] for u, n in current.items() if u != account.user_id and n and n.strip()}
        changes[room_id].update(fetched)
        known[room_id].update(fetched)
    return known, {room_id: change for room_id, change in changes.items() if change}


def member_names_record(*, account, changes):
    """Write the changes `member_names_resolve` returned to the cache (call inside the sync's transaction)."""
    for room_id, change in changes.items():
        for users in chunked(list(change), 500):
            MatrixMemberName.objects.filter(account=account, room_id=room_id, user_id__in=users).delete()
        MatrixMemberName.objects.bulk_create([
            MatrixMemberName(account=account, room_id=room_id, user_id=user_id, display_name=name)
            for user_id, name in change.items() if name
        ])
