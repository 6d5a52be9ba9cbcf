"""Outbox kinds: what Siyu can ask a channel to do, and which channel can do which.

The kinds are platform-neutral (see channels.base for each one's target and payload). Core knows no
channel: the channels app registers one lookup (`channel_kinds_lookup_register`, in its ready()) that
answers "which kinds can channel C do", so an app that queues an optional kind asks `channel_can`
instead of importing channels:

    if channel_can(channel=group.channel, kind=CREATE_GROUP):
        outbox_enqueue(workspace=w, channel=group.channel, kind=CREATE_GROUP, ...)

A new kind gets a constant and a label here; an adapter opts in by listing it in its `kinds`.
"""
from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

SEND_TEXT = "send_text"
SEND_PRIVATE = "send_private"
REMOVE_MEMBER = "remove_member"
SET_ANNOUNCEMENT = "set_announcement"
DELETE_MESSAGE = "delete_message"
CREATE_GROUP = "create_group"  # not every platform lets a bot create groups: adapters opt in

KINDS = (SEND_TEXT, SEND_PRIVATE, REMOVE_MEMBER, SET_ANNOUNCEMENT, DELETE_MESSAGE)  # every adapter does these
KIND_LABELS = {
    SEND_TEXT: _("Message to the group"),
    SEND_PRIVATE: _("Private message"),
    REMOVE_MEMBER: _("Remove from the group"),
    SET_ANNOUNCEMENT: _("Announcement"),
    DELETE_MESSAGE: _("Delete a message"),
    CREATE_GROUP: _("Create a group"),
}

_kinds_lookup: Callable[[str], frozenset[str] | None] | None = None


def channel_kinds_lookup_register(lookup: Callable[[str], frozenset[str] | None]) -> None:
    """Set the function answering "which kinds can this channel do" (None: no such channel)."""
    global _kinds_lookup
    _kinds_lookup = lookup


def channel_kinds(*, channel: str) -> frozenset[str] | None:
    """The kinds `channel` can do, or None when no channel of that name is registered."""
    return _kinds_lookup(channel) if _kinds_lookup is not None else None


def channel_can(*, channel: str, kind: str) -> bool:
    """Whether `channel` is registered and its adapter can do `kind`."""
    return kind in (channel_kinds(channel=channel) or ())
