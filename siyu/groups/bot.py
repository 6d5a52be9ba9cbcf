"""The group bot: reacts to live joins and messages by queueing outbox messages.

`bot_react` is connected to core's `events_ingested` signal, which is sent inside the ingest
transaction, so whatever the bot queues commits with the events or not at all. It acts only on live
events (a first sync or a demo backfilling history must not welcome last month's newcomers), never on
events a channel marks `data.history` (what happened in a room before the bot was there), and never
on Siyu's own events. Everything it does goes through the outbox with a deterministic idempotency
key, and every moderation step is an event in the ledger (source "siyu").
"""
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db.models import Q
from django.utils import timezone

from siyu.core.events import OWN_SOURCE, EventType
from siyu.core.ingest import events_ingest
from siyu.core.kinds import DELETE_MESSAGE, REMOVE_MEMBER, SEND_TEXT
from siyu.core.models import OutboxMessage, Workspace
from siyu.core.projections import PreparedEvent
from siyu.core.outbox import outbox_enqueue, outbox_update_pending
from siyu.members.models import Member

from . import rules
from .models import (
    BotSettings, Group, GroupStatus, KeywordReply, Membership, MembershipRole, ModerationRule, ReplyCooldown,
    Strike, StrikeAction, WelcomeBatch,
)

LIVE_WINDOW = timedelta(minutes=10)
EXEMPT_ROLES = {MembershipRole.OWNER, MembershipRole.ADMIN, MembershipRole.KOC}
# Staff joining to set a group up are not newcomers.
NOT_NEWCOMERS = {MembershipRole.OWNER, MembershipRole.ADMIN}
MAX_NEWCOMERS_PER_WELCOME = 50
MAX_ID_LENGTH = 191


Person = dict[str, Any]  # {"id": external id, "name": …, "number": 学号}


def own_id(*parts: object) -> str:
    """A deterministic id for Siyu's own events and outbox keys, hashed if the parts are too long."""
    value = ":".join(str(p) for p in parts)
    if len(value) <= MAX_ID_LENGTH:
        return value
    return f"{parts[0]}:{hashlib.sha256(value.encode()).hexdigest()}"


def bot_react(sender: object, *, workspace: Workspace, source: str, events: Sequence[PreparedEvent], **kwargs: Any) -> None:
    """Welcome newcomers, moderate and answer messages of this ingest batch (live events only)."""
    if source == OWN_SOURCE:
        return
    cutoff = timezone.now() - LIVE_WINDOW
    joined, message = EventType.GROUP_JOINED, EventType.GROUP_MESSAGE
    live = [
        e for e in events
        if (e.type == joined or e.type == message) and e.group_id and e.member_id and e.occurred_at >= cutoff
        and not e.data.get("history")
    ]
    if not live:
        return
    context = BotContext(workspace, live)
    joins: defaultdict[int, list[PreparedEvent]] = defaultdict(list)
    for event in live:
        group = context.groups.get(event.group_id)
        if group is None:
            continue
        if event.type == joined:
            if event.data.get("role") not in NOT_NEWCOMERS:
                joins[group.pk].append(event)
        elif not message_moderate(context, event, group):
            keyword_reply(context, event, group)
    for group_id, group_joins in joins.items():
        group = context.groups[group_id]
        settings = context.settings(group)
        group_joins = rejoins_drop(group=group, joins=group_joins, seconds=settings.welcome_rejoin_seconds)
        if settings.welcome_enabled and group_joins:
            welcome_queue(
                workspace=workspace, group=group, bot_settings=settings,
                newcomers=[context.person(e) for e in group_joins], first_source_id=group_joins[0].source_id,
            )


Rule = TypeVar("Rule", KeywordReply, ModerationRule)


def group_first(items: Iterable[Rule], group: Group | None) -> list[Rule]:
    """A group's own rules first, then the workspace-wide ones, each in the order given (group None: only those)."""
    items = list(items)
    own = [item for item in items if group is not None and item.group_id == group.pk]
    return own + [item for item in items if item.group_id is None]


class BotContext:
    """What the bot needs to know about the groups and people of one batch, loaded in a few queries."""

    def __init__(self, workspace: Workspace, events: Sequence[PreparedEvent]) -> None:
        self.workspace = workspace
        # bot_react passes only events with both a group and a member.
        group_ids = {e.group_id for e in events if e.group_id is not None}
        member_ids = {e.member_id for e in events if e.member_id is not None}
        self.groups: dict[int | None, Group] = {g.pk: g for g in Group.objects.filter(pk__in=group_ids, status=GroupStatus.ACTIVE)}
        scope = Q(group__isnull=True) | Q(group_id__in=group_ids)
        self._settings: dict[int | None, BotSettings] = {s.group_id: s for s in BotSettings.objects.filter(scope, workspace=workspace)}
        self._rules = list(ModerationRule.objects.filter(scope, workspace=workspace, enabled=True).order_by("id"))
        self._replies = list(KeywordReply.objects.filter(scope, workspace=workspace, enabled=True).order_by("priority", "id"))
        self.roles: dict[tuple[int, int | None], str] = {
            (g, m): role
            for g, m, role in Membership.objects.filter(
                group_id__in=group_ids, member_id__in=member_ids, left_at__isnull=True
            ).values_list("group_id", "member_id", "role")
        }
        self.members: dict[int | None, tuple[int | str, str]] = {
            pk: (number, name) for pk, number, name in Member.objects.filter(pk__in=member_ids).values_list("pk", "number", "display_name")
        }

    def settings(self, group: Group) -> BotSettings:
        return self._settings.get(group.pk) or self._settings.get(None) or BotSettings(workspace=self.workspace)

    def moderation_rules(self, group: Group) -> list[ModerationRule]:
        return group_first(self._rules, group)

    def replies(self, group: Group) -> list[KeywordReply]:
        return group_first(self._replies, group)

    def person(self, event: PreparedEvent) -> Person:
        number, display_name = self.members.get(event.member_id, ("", ""))
        actor = event.actor or {}
        name = actor.get("name") or display_name or actor.get("id", "")
        return {"id": actor["id"], "name": name, "number": number}


# -- welcome ------------------------------------------------------------------------------------

def rejoins_drop(*, group: Group, joins: list[PreparedEvent], seconds: int) -> list[PreparedEvent]:
    """The joins that deserve a welcome: not those of someone who left `group` within `seconds` before joining."""
    if seconds <= 0:
        return joins
    window = timedelta(seconds=seconds)
    left: defaultdict[int | None, list[datetime]] = defaultdict(list)
    for member_id, left_at in Membership.objects.filter(
        group=group, member_id__in={e.member_id for e in joins if e.member_id is not None}, left_at__isnull=False,
        left_at__gte=min(e.occurred_at for e in joins) - window,
    ).values_list("member_id", "left_at"):
        if left_at is not None:  # always: the query asks for stays that ended
            left[member_id].append(left_at)
    return [e for e in joins if not any(e.occurred_at - window <= t <= e.occurred_at for t in left[e.member_id])]


def welcome_payload(*, group: Group, bot_settings: BotSettings, newcomers: Sequence[Person]) -> dict[str, Any]:
    """The send_text welcoming `newcomers`: the operator's text with {name} as "@A @B @C" and each mentioned."""
    mention, mentions = rules.mentions_build(newcomers)
    text = rules.render_text(bot_settings.welcome_text, {
        "name": mention,
        "number": "、".join(str(p["number"]) for p in newcomers if p.get("number") != ""),
        "group": group.name,
        "rules": bot_settings.rules_text,
    })
    if "{name}" not in bot_settings.welcome_text:
        text = f"{mention} {text}"  # every mention must appear in the text
    return {"text": text, "mentions": mentions}


def welcome_queue(
    *, workspace: Workspace, group: Group, bot_settings: BotSettings, newcomers: Sequence[Person], first_source_id: str,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add newcomers to the group's queued welcome, or queue a new one; returns the outbox message.

    Debounced: the welcome is due `welcome_window_seconds` after the latest join, but at most
    `welcome_max_wait_seconds` after the first, then moved out of quiet hours. Joins that arrive
    before a worker claims it are merged into it (outbox_update_pending); once claimed, a new batch
    starts. The group's batch row is locked, so concurrent ingests never drop a newcomer.
    Must run inside a transaction (the ingest's).
    """
    now = now or timezone.now()
    WelcomeBatch.objects.get_or_create(group=group, defaults={"workspace": workspace})
    batch = WelcomeBatch.objects.select_for_update().get(group=group)
    window = timedelta(seconds=bot_settings.welcome_window_seconds)
    longest = timedelta(seconds=bot_settings.welcome_max_wait_seconds)
    if batch.message_id and batch.started_at and len(batch.newcomers) < MAX_NEWCOMERS_PER_WELCOME:
        known = {p["id"] for p in batch.newcomers}
        merged = batch.newcomers + [p for p in _unique(newcomers) if p["id"] not in known]
        due = rules.quiet_hours_defer(
            bot_settings=bot_settings, due_at=min(now + window, batch.started_at + longest), tz=workspace.tz
        )
        payload = welcome_payload(group=group, bot_settings=bot_settings, newcomers=merged)
        if outbox_update_pending(message_id=batch.message_id, payload=payload, due_at=due):
            batch.newcomers = merged
            batch.save(update_fields=["newcomers"])
            return batch.message
    newcomers = _unique(newcomers)
    due = rules.quiet_hours_defer(bot_settings=bot_settings, due_at=now + min(window, longest), tz=workspace.tz)
    message = outbox_enqueue(
        workspace=workspace, channel=group.channel, kind=SEND_TEXT, target=group.external_id,
        payload=welcome_payload(group=group, bot_settings=bot_settings, newcomers=newcomers),
        idempotency_key=own_id("welcome", group.pk, first_source_id), due_at=due,
    )
    batch.message, batch.newcomers, batch.started_at = message, newcomers, now
    batch.save(update_fields=["message", "newcomers", "started_at"])
    return message


def _unique(people: Iterable[Person]) -> list[Person]:
    seen: set[str] = set()
    unique: list[Person] = []
    for person in people:
        if person["id"] not in seen:
            seen.add(person["id"])
            unique.append(person)
    return unique


# -- moderation ---------------------------------------------------------------------------------

def moderation_find(
    *, moderation_rules: Iterable[ModerationRule], role: str, text: str, allowed_domains: Sequence[str]
) -> tuple[ModerationRule, str] | tuple[None, None]:
    """The first of `moderation_rules` (in the order given) that `text` from a sender with `role` breaks,
    and what in the text broke it: (rule, found), or (None, None). Reads nothing."""
    for rule in moderation_rules:
        if role in EXEMPT_ROLES and not rule.applies_to_staff:
            continue
        found = rules.moderation_matches(kind=rule.kind, words=rule.words, text=text, allowed_domains=allowed_domains)
        if found:
            return rule, found
    return None, None


def message_moderate(context: BotContext, event: PreparedEvent, group: Group) -> bool:
    """Apply the first moderation rule the message breaks; True if one did (then no keyword reply)."""
    settings = context.settings(group)
    rule, found = moderation_find(
        moderation_rules=context.moderation_rules(group),
        role=context.roles.get((group.pk, event.member_id), MembershipRole.MEMBER),
        text=event.data.get("text") or "", allowed_domains=settings.domains,
    )
    if rule is None or found is None:
        return False
    strike_add(
        workspace=context.workspace, group=group, bot_settings=settings, rule=rule, event=event,
        sender=context.person(event), found=found,
    )
    return True


def strikes_active(*, group: Group, member_id: int, since: datetime) -> int:
    """Strikes of a member in a group since a moment that count towards removal (not undone)."""
    return Strike.objects.filter(
        group=group, member_id=member_id, counts=True, undone_at__isnull=True, occurred_at__gte=since
    ).count()


def strike_add(
    *, workspace: Workspace, group: Group, bot_settings: BotSettings, rule: ModerationRule, event: PreparedEvent,
    sender: Person, found: str,
) -> str:
    """Record a rule match as a group.strike_added event and queue what the rule does.

    Strike n of N counts the member's active strikes in this group within the last D days. Below N
    the sender is warned (if the rule warns); at N they are removed (no warning) and, if the group's
    policy and the rule both say so, barred workspace-wide (member.barred). The offending message is
    deleted if the rule says so. Moderation ignores quiet hours. Idempotent: ids derive from the
    message's source id and the rule.
    """
    limit, days = bot_settings.strike_limit, bot_settings.strike_days
    assert event.member_id is not None, "the bot reacts only to events that name a member"
    before = strikes_active(group=group, member_id=event.member_id, since=event.occurred_at - timedelta(days=days))
    number = before + 1 if rule.count_strike else before
    removing = rule.count_strike and number >= limit
    barring = removing and bot_settings.bar_on_removal and rule.bar_on_removal
    actions = [StrikeAction.DELETE] if rule.delete_message else []
    if rule.count_strike:
        actions.append(StrikeAction.STRIKE)
    if removing:
        actions.append(StrikeAction.REMOVE)
        if barring:
            actions.append(StrikeAction.BAR)
    elif rule.warn:
        actions.append(StrikeAction.WARN)
    strike_id = own_id("strike", event.source_id, rule.pk)
    actor = {"id": sender["id"], "name": sender["name"][:128], "channel": group.channel}
    group_ref = {"id": group.external_id, "name": group.name, "channel": group.channel}
    text = event.data.get("text") or ""
    reaction = [{
        "type": EventType.GROUP_STRIKE_ADDED.key, "source_id": strike_id, "occurred_at": event.occurred_at,
        "actor": actor, "group": group_ref,
        "data": {
            "rule": rule.name, "rule_id": rule.pk, "strike": number, "limit": limit, "counts": rule.count_strike,
            "actions": [str(a) for a in actions], "message_id": event.source_id[:191], "excerpt": rules.excerpt(text),
            "match": str(found)[:100],
        },
    }]
    if barring:
        reaction.append({
            "type": EventType.MEMBER_BARRED.key, "source_id": own_id("bar", strike_id), "occurred_at": event.occurred_at,
            "actor": actor,
            "data": {"reason": f"{rule.name} · {group.name}"[:200], "rule": rule.name, "strike": strike_id, "group": group.pk},
        })
    events_ingest(workspace=workspace, source=OWN_SOURCE, events=reaction)

    def send(kind: str, key: str, payload: dict[str, Any]) -> None:
        outbox_enqueue(
            workspace=workspace, channel=group.channel, kind=kind, target=group.external_id, payload=payload,
            idempotency_key=own_id(key, strike_id),
        )

    if rule.delete_message:
        send(DELETE_MESSAGE, "delete", {"message_id": event.source_id, "reason": rule.name})
    if removing:
        send(REMOVE_MEMBER, "remove", {"user": sender["id"], "reason": f"{rule.name} ({number}/{limit})"})
    elif rule.warn:
        mention, mentions = rules.mentions_build([sender])
        text = rules.render_text(bot_settings.warning_text, {"name": mention, "rule": rule.name, "strike": number, "limit": limit})
        if "{name}" not in bot_settings.warning_text:
            text = f"{mention} {text}"
        send(SEND_TEXT, "warn", {"text": text, "mentions": mentions})
    return strike_id


# -- keyword replies ----------------------------------------------------------------------------

def cooldown_claim(*, rule: KeywordReply, group: Group, seconds: int, now: datetime | None = None) -> bool:
    """Take the right to answer with `rule` in `group` now; False while its cooldown runs.

    A conditional update, so of concurrent ingests that see the same keyword exactly one answers.
    """
    if seconds <= 0:
        return True
    now = now or timezone.now()
    until = now + timedelta(seconds=seconds)
    row, created = ReplyCooldown.objects.get_or_create(rule=rule, group=group, defaults={"until": until})
    if created:
        return True
    return bool(ReplyCooldown.objects.filter(pk=row.pk, until__lte=now).update(until=until))


def reply_find(*, replies: Iterable[KeywordReply], text: str) -> KeywordReply | None:
    """The first of `replies` (in the order given: the group's, then the workspace's) that answers `text`, or None."""
    return next((r for r in replies if rules.reply_matches(match=r.match, pattern=r.pattern, text=text)), None)


def reply_payload(*, reply: KeywordReply, sender: Person, group: Group, bot_settings: BotSettings) -> dict[str, Any]:
    """The send_text answering `sender` with `reply`, its variables filled.

    The asker is mentioned where the text says {name}; a rule that mentions the asker and has no {name}
    gets the mention in front. Otherwise the reply mentions nobody.
    """
    mention, mentions = rules.mentions_build([sender])
    text = rules.render_text(reply.reply, {
        "name": mention, "number": sender["number"], "group": group.name, "rules": bot_settings.rules_text,
    })
    if "{name}" in reply.reply:
        return {"text": text, "mentions": mentions}
    if reply.mention_asker:
        return {"text": f"{mention} {text}", "mentions": mentions}
    return {"text": text, "mentions": []}


def keyword_reply(context: BotContext, event: PreparedEvent, group: Group) -> OutboxMessage | None:
    """Answer the first keyword rule the message matches (group rules first), unless it is cooling down."""
    reply = reply_find(replies=context.replies(group), text=event.data.get("text") or "")
    if reply is None:
        return None
    settings = context.settings(group)
    if not cooldown_claim(rule=reply, group=group, seconds=settings.reply_cooldown_seconds):
        return None
    return outbox_enqueue(
        workspace=context.workspace, channel=group.channel, kind=SEND_TEXT, target=group.external_id,
        payload=reply_payload(reply=reply, sender=context.person(event), group=group, bot_settings=settings),
        idempotency_key=own_id("reply", event.source_id, reply.pk),
        due_at=rules.quiet_hours_defer(bot_settings=settings, due_at=timezone.now(), tz=context.workspace.tz),
    )
