"""Event types of the ledger, one IntEnum grouped by app in ranges of 100.

A raw event names its type by key ("group.joined"); the ledger stores the small integer.
Numbers are permanent: never renumber or reuse one.
"""
from collections.abc import Mapping
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

    from .projections import Batch


class EventType(IntEnum):
    # 1xx core: what Siyu itself did
    OUTBOX_SENT = 101
    OUTBOX_RETRY = 102
    OUTBOX_FAILED = 103

    # 2xx members
    MEMBER_PROFILE_UPDATED = 201
    MEMBER_BARRED = 202  # barred workspace-wide (cannot enroll in new campaigns); data.reason, data.rule
    MEMBER_UNBARRED = 203
    MEMBER_TAGGED = 204  # data.tag (id), data.via (manual/import/rule/questionnaire/merge), data.rule, data.by
    MEMBER_UNTAGGED = 205  # data.tag, data.via, data.rule, data.by
    MEMBER_SEGMENT_ENTERED = 206  # data.segment (id): a saved segment's live list gained the member
    MEMBER_SEGMENT_LEFT = 207  # data.segment
    # data.owner (user id or null), data.previous, data.by (user id or null), data.via ("manual", "handover",
    # or absent: an import, data.import), data.handover (id or null), data.handover_kind ("leaving" or "active")
    MEMBER_OWNER_CHANGED = 208
    MEMBER_IMPORTED = 209  # created or updated by an import: data.import (id), data.file, data.line, data.created (bool)
    # marked as staff or as not staff: data.staff (bool), data.via ("operator", "bot"), data.by (user id or null)
    MEMBER_STAFF_CHANGED = 210

    # 3xx groups
    GROUP_UPDATED = 301
    GROUP_JOINED = 302
    GROUP_LEFT = 303
    GROUP_MESSAGE = 304
    GROUP_ROLE_CHANGED = 305
    GROUP_STRIKE_ADDED = 306  # the bot's moderation: data.rule, data.strike, data.actions, data.message_id
    GROUP_STRIKE_UNDONE = 307  # an admin took a strike back; data.strike (the strike event's source_id)
    # data.staff (user id or null), data.previous, data.by, data.via, data.handover, data.handover_kind (as 208)
    GROUP_STAFF_CHANGED = 308

    # 4xx links and channel codes
    LINK_EXPOSED = 401
    LINK_CLICKED = 402  # a visit of a short link or channel code, spooled by links.redirect (see links.spool)

    # 5xx orders
    ORDER_PAID = 501
    ORDER_REFUNDED = 502
    COST_RECORDED = 503  # money spent on a group or campaign (ads, fees); data.amount_cents

    # 6xx campaigns
    CAMPAIGN_TOUCHED = 601  # a member was reached by a conversion campaign; data.campaign

    @property
    def key(self) -> str:
        prefix, _, rest = self.name.partition("_")
        return f"{prefix.lower()}.{rest.lower()}"


# Siyu's own events (outbox outcomes, strikes and bars, tags, segment entries, owner changes) have this
# source. Their references name a platform in "channel", so they resolve to the member that platform's
# events created, or name the member itself (MEMBER_REF: a member who may have no identity on any
# channel, such as an imported one).
OWN_SOURCE = "siyu"
MEMBER_REF = "siyu.member"


def member_ref(member_id: int, *, name: str | None = None) -> dict[str, str]:
    """The reference Siyu's own events use for a member: {"id": str(member id), "channel": MEMBER_REF}."""
    ref = {"id": str(member_id), "channel": MEMBER_REF}
    if name is not None:
        ref["name"] = name[:128]
    return ref


def ref_channel(batch: "Batch", ref: Mapping[str, Any]) -> str:
    """The channel a reference's id belongs to: the batch's source, or the named one for Siyu's own events."""
    if batch.source == OWN_SOURCE and isinstance(ref.get("channel"), str) and ref["channel"]:
        return ref["channel"]
    return batch.source


def own_member_event(
    kind: "EventType", *, member_id: int, source_id: str, occurred_at: datetime, data: dict[str, Any],
) -> dict[str, Any]:
    """A raw event of Siyu's own about a member, to ingest with source OWN_SOURCE."""
    return {"type": kind.key, "source_id": source_id, "occurred_at": occurred_at, "actor": member_ref(member_id), "data": data}


# Raw events name their type by key; ingest looks up the stored number here (a plain int: database
# drivers may dump an enum member by name).
TYPE_BY_KEY = {t.key: int(t) for t in EventType}

# Which events need an actor (a member) and which a group; checked by ingest.
NEEDS_ACTOR = {
    EventType.MEMBER_PROFILE_UPDATED,
    EventType.MEMBER_BARRED,
    EventType.MEMBER_UNBARRED,
    EventType.MEMBER_TAGGED,
    EventType.MEMBER_UNTAGGED,
    EventType.MEMBER_SEGMENT_ENTERED,
    EventType.MEMBER_SEGMENT_LEFT,
    EventType.MEMBER_OWNER_CHANGED,
    EventType.MEMBER_IMPORTED,
    EventType.MEMBER_STAFF_CHANGED,
    EventType.GROUP_STRIKE_ADDED,
    EventType.GROUP_STRIKE_UNDONE,
    EventType.GROUP_JOINED,
    EventType.GROUP_LEFT,
    EventType.GROUP_MESSAGE,
    EventType.GROUP_ROLE_CHANGED,
    EventType.ORDER_PAID,
    EventType.ORDER_REFUNDED,
    EventType.CAMPAIGN_TOUCHED,
}
NEEDS_GROUP = {
    EventType.GROUP_UPDATED,
    EventType.GROUP_JOINED,
    EventType.GROUP_LEFT,
    EventType.GROUP_MESSAGE,
    EventType.GROUP_ROLE_CHANGED,
    EventType.GROUP_STRIKE_ADDED,
    EventType.GROUP_STRIKE_UNDONE,
    EventType.GROUP_STAFF_CHANGED,
    EventType.LINK_EXPOSED,
}


def is_message_edit(event_type: int, data: object) -> bool:
    """An edit of an earlier message (`data.replaces`, Matrix's m.replace): kept in the ledger, so
    moderation sees what a message says now, but not a new message in any count."""
    return event_type == EventType.GROUP_MESSAGE and isinstance(data, dict) and bool(data.get("replaces"))


def _labels() -> dict[EventType, "StrPromise"]:
    from django.utils.translation import gettext_lazy as _

    return {
        EventType.OUTBOX_SENT: _("Bot sent"),
        EventType.OUTBOX_RETRY: _("Bot send postponed"),
        EventType.OUTBOX_FAILED: _("Bot send failed"),
        EventType.MEMBER_PROFILE_UPDATED: _("Profile updated"),
        EventType.MEMBER_BARRED: _("Barred"),
        EventType.MEMBER_UNBARRED: _("Bar lifted"),
        EventType.MEMBER_TAGGED: _("Tagged"),
        EventType.MEMBER_UNTAGGED: _("Tag removed"),
        EventType.MEMBER_SEGMENT_ENTERED: _("Entered a segment"),
        EventType.MEMBER_SEGMENT_LEFT: _("Left a segment"),
        EventType.MEMBER_OWNER_CHANGED: _("Owner changed"),
        EventType.MEMBER_IMPORTED: _("Imported"),
        EventType.MEMBER_STAFF_CHANGED: _("Staff mark changed"),
        EventType.GROUP_UPDATED: _("Group updated"),
        EventType.GROUP_JOINED: _("Joined"),
        EventType.GROUP_LEFT: _("Left"),
        EventType.GROUP_MESSAGE: _("Message"),
        EventType.GROUP_ROLE_CHANGED: _("Role changed"),
        EventType.GROUP_STRIKE_ADDED: _("Strike"),
        EventType.GROUP_STRIKE_UNDONE: _("Strike undone"),
        EventType.GROUP_STAFF_CHANGED: _("Staff in charge changed"),
        EventType.LINK_EXPOSED: _("Exposure"),
        EventType.LINK_CLICKED: _("Link clicked"),
        EventType.ORDER_PAID: _("Order paid"),
        EventType.ORDER_REFUNDED: _("Order refunded"),
        EventType.COST_RECORDED: _("Cost recorded"),
        EventType.CAMPAIGN_TOUCHED: _("Reached by a campaign"),
    }


EVENT_LABELS = _labels()
