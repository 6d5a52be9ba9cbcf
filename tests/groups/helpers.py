"""Live events for the bot tests: the bot acts only on events of the last ten minutes."""
import itertools
from datetime import timedelta

from django.utils import timezone

from siyu.core.models import OutboxMessage

_ids = itertools.count(1)


def live(type_, *, actor=None, group="g1", seconds_ago=0, source_id=None, **data):
    event = {
        "type": type_,
        "source_id": source_id or f"$live{next(_ids)}",
        "occurred_at": (timezone.now() - timedelta(seconds=seconds_ago)).isoformat(),
        "data": data,
    }
    if actor:
        event["actor"] = {"id": f"@{actor}:example.org", "name": actor.title()}
    if group:
        event["group"] = {"id": f"!{group}:example.org", "name": f"Group {group}", "kind": "lead"}
    return event


def join(actor, group="g1", **data):
    return live("group.joined", actor=actor, group=group, **data)


def say(actor, text, group="g1", **kwargs):
    return live("group.message", actor=actor, group=group, text=text, **kwargs)


def outbox(kind=None):
    messages = OutboxMessage.objects.order_by("id")
    if kind:
        messages = messages.filter(kind=kind)
    return list(messages)
