"""What each WeCom callback becomes in Siyu's ledger (the published XML of 客户联系 and 客户群 events).

A callback is one decrypted XML document. Customer groups (change_external_chat) map onto the group
events ingest knows; customer contact (change_external_contact) onto `member.profile_updated` carrying
what happened in `data.contact` (the person is known to Siyu from then on; their profile fields are not
in the callback); tag library changes (change_external_tag) and anything else become nothing.

The callback alone does not say a group's name, owner or notice, a contact's name or tags: it says that
they changed. docs/wecom.md lists what needs the API (later steps of issue 20).

WeCom sends no event id, so `source_id` is a digest of the callback's fields: a retry of the same
callback is the same document and is stored once.
"""
import hashlib
from datetime import datetime, timezone
from typing import Any

from django.utils import timezone as dj_timezone

from .crypto import xml_fields, xml_parse

MAX_ID = 191
JOIN_SCENES = {"0": "invited", "1": "invited_by_link", "3": "qr"}  # JoinScene: 0 invited directly, 1 by a link, 3 scanned a QR code
QUIT_SCENES = {"0": "left", "1": "removed"}  # QuitScene: 0 left on their own, 1 removed by the owner or an admin
CONTACT_CHANGES = (
    "add_external_contact", "edit_external_contact", "add_half_external_contact",
    "del_external_contact", "del_follow_user", "transfer_fail",
)
GROUP_DETAIL_CHANGES = ("change_owner", "change_name", "change_notice")


class CallbackUnparsable(ValueError):
    """A verified callback whose content is not what the published event says (it goes to the dead letters)."""


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise CallbackUnparsable(f"{fields.get('Event') or fields.get('MsgType') or 'callback'}: no {name}")
    if len(value) > MAX_ID:
        raise CallbackUnparsable(f"{name} is longer than {MAX_ID} characters")
    return value


def _moment(fields: dict[str, str]) -> datetime:
    try:
        seconds = int(fields.get("CreateTime", ""))
    except ValueError:
        raise CallbackUnparsable("CreateTime is not a number") from None
    if seconds <= 0:
        raise CallbackUnparsable("CreateTime is not a time")
    # A clock ahead of Siyu's must not make ingest refuse the event as "future".
    return min(datetime.fromtimestamp(seconds, tz=timezone.utc), dj_timezone.now())


def _digest(fields: dict[str, str], items: list[str]) -> str:
    canonical = "\x1f".join(f"{key}={fields[key]}" for key in sorted(fields)) + "\x1e" + "\x1f".join(items)
    return hashlib.sha1(canonical.encode()).hexdigest()


def callback_events(text: str) -> list[dict[str, Any]]:
    """The raw ingest events of one decrypted callback; CallbackUnparsable if it is not what WeCom publishes."""
    try:
        root = xml_parse(text)
    except ValueError as exc:
        raise CallbackUnparsable(str(exc)) from None
    fields = xml_fields(root)
    if fields.get("MsgType") != "event":
        return []  # a staff member writing to the app: not a customer's message (those need 会话存档)
    event = fields.get("Event", "")
    if event == "change_external_chat":
        items = [(item.text or "").strip() for item in root.iterfind("MemChangeList/Item")]
        if not items:  # some SDKs' samples list the members as one comma-separated text
            items = [part.strip() for part in fields.get("MemChangeList", "").split(",")]
        return _chat_events(fields, [item for item in items if item])
    if event == "change_external_contact":
        return _contact_events(fields)
    return []  # change_external_tag (the corp tag library), app events: nothing of a member or a group


def _chat_events(fields: dict[str, str], items: list[str]) -> list[dict[str, Any]]:
    chat = _required(fields, "ChatId")
    change = _required(fields, "ChangeType")
    base = {"occurred_at": _moment(fields).isoformat(), "group": {"id": chat}, "source_id": _digest(fields, items)}
    if change in ("create", "dismiss"):
        return [{**base, "type": "group.updated", "data": {"change": change}}]
    if change != "update":
        raise CallbackUnparsable(f"change_external_chat: unknown ChangeType {change!r}")
    detail = _required(fields, "UpdateDetail")
    if detail in GROUP_DETAIL_CHANGES:
        return [{**base, "type": "group.updated", "data": {"change": detail}}]
    if detail not in ("add_member", "del_member"):
        raise CallbackUnparsable(f"change_external_chat: unknown UpdateDetail {detail!r}")
    if not items:
        raise CallbackUnparsable(f"{detail}: no MemChangeList")
    events = []
    for user in dict.fromkeys(items):
        if len(user) > MAX_ID:
            raise CallbackUnparsable(f"MemChangeList item longer than {MAX_ID} characters")
        source_id = f"{base['source_id']}|{hashlib.sha1(user.encode()).hexdigest()[:16]}"
        if detail == "add_member":
            scene = fields.get("JoinScene", "")
            data: dict[str, Any] = {"scene": JOIN_SCENES.get(scene, scene)}
            if fields.get("State"):
                data["code"] = fields["State"]
            events.append({**base, "source_id": source_id, "type": "group.joined", "actor": {"id": user}, "data": data})
        else:
            scene = fields.get("QuitScene", "")
            data = {"membership": "leave", "scene": QUIT_SCENES.get(scene, scene)}
            events.append({**base, "source_id": source_id, "type": "group.left", "actor": {"id": user}, "data": data})
    return events


def _contact_events(fields: dict[str, str]) -> list[dict[str, Any]]:
    change = _required(fields, "ChangeType")
    if change not in CONTACT_CHANGES:
        raise CallbackUnparsable(f"change_external_contact: unknown ChangeType {change!r}")
    customer = _required(fields, "ExternalUserID")
    data = {"contact": change, "staff": _required(fields, "UserID")}
    if fields.get("State") and change in ("add_external_contact", "add_half_external_contact"):
        data["code"] = fields["State"][:MAX_ID]
    if change == "transfer_fail" and fields.get("FailReason"):
        data["reason"] = fields["FailReason"][:200]
    if change == "del_external_contact" and fields.get("Source"):
        data["reason"] = fields["Source"][:200]
    return [{
        "type": "member.profile_updated", "source_id": _digest(fields, []), "occurred_at": _moment(fields).isoformat(),
        "actor": {"id": customer}, "data": data,
    }]
