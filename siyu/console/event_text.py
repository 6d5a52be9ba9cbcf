"""Events in words: what each event carried and who made it, every reference by name, in the reader's language.

    events_describe(events, workspace=w)    # sets event.detail and event.made_by (safe HTML) on each

The events page, a member's timeline and a group's recent events all render through here. The names
come from `references.References`: one query per kind of reference for the whole page. Values are
shown with their labels (`siyu.core.labels`: sources, products, product kinds, cost categories; the
models' own names for profile fields and their choices).
"""
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from siyu.core.events import OWN_SOURCE, EventType
from siyu.core.kinds import DELETE_MESSAGE, KIND_LABELS, REMOVE_MEMBER, SEND_PRIVATE
from siyu.core.labels import (
    cost_category_label, field_label, field_value_label, product_kind_label, product_label, source_label,
)
from siyu.core.models import Event, OutboxMessage, Workspace
from siyu.groups.models import Group, MembershipRole, StrikeAction
from siyu.members.models import Member, TagVia

from .references import (
    CODE, GROUP, GROUP_REF, HANDOVER, IDENTITY, IMPORT, LINK, SEGMENT, TAG, TAG_RULE, USER, References,
)

ROLE_LABELS = dict(MembershipRole.choices)
STRIKE_ACTION_LABELS = dict(StrikeAction.choices)
TAG_VIA_LABELS: dict[object, object] = dict(TagVia.choices)
OUTBOX_TYPES = (EventType.OUTBOX_SENT, EventType.OUTBOX_RETRY, EventType.OUTBOX_FAILED)
# Events Siyu's bot made by itself (its moderation, its sends).
BOT_TYPES = (*OUTBOX_TYPES, EventType.GROUP_STRIKE_ADDED)

# What each type names by id in its data: (data key, kind of reference).
REFERENCES: dict[int, tuple[tuple[str, str], ...]] = {
    EventType.MEMBER_TAGGED: (("tag", TAG), ("rule", TAG_RULE)),
    EventType.MEMBER_UNTAGGED: (("tag", TAG), ("rule", TAG_RULE)),
    EventType.MEMBER_SEGMENT_ENTERED: (("segment", SEGMENT),),
    EventType.MEMBER_SEGMENT_LEFT: (("segment", SEGMENT),),
    EventType.MEMBER_OWNER_CHANGED: (("owner", USER), ("previous", USER)),
    EventType.GROUP_STAFF_CHANGED: (("staff", USER), ("previous", USER)),
    EventType.MEMBER_BARRED: (("group", GROUP),),
    EventType.GROUP_JOINED: (("code", CODE),),
    EventType.LINK_EXPOSED: (("code", CODE),),
    EventType.LINK_CLICKED: (("link", LINK), ("code", CODE), ("group", GROUP)),
}
# Who made an event, on any type: a staff member, a handover, an import.
MADE_BY = (("by", USER), ("handover", HANDOVER), ("import", IMPORT))


def outbox_target(*, kind: object, channel: object, target: object) -> tuple[str, tuple[object, object]]:
    """The reference an outbox message's target is: a member (private messages) or a group."""
    return (IDENTITY if kind == SEND_PRIVATE else GROUP_REF), (channel, target)


def _data(event: Event) -> dict[str, Any]:
    return event.data if isinstance(event.data, dict) else {}


def _collect(event: Event, refs: References) -> None:
    data = _data(event)
    for key, kind in (*REFERENCES.get(event.type, ()), *MADE_BY):
        refs.want(kind, data.get(key))
    if event.type == EventType.GROUP_JOINED and data.get("inviter"):
        refs.want(IDENTITY, (event.source, data["inviter"]))
    if event.type in OUTBOX_TYPES:
        refs.want(*outbox_target(kind=data.get("kind"), channel=data.get("channel"), target=data.get("target")))


def _parts(*parts: object) -> SafeString:
    """The non-empty parts, escaped, joined by " · "."""
    return mark_safe(" · ".join(str(conditional_escape(str(part) if not isinstance(part, SafeString) else part))
                                for part in parts if part not in (None, "")))


def _say(message: str, **parts: object) -> SafeString:
    """A translated message with HTML parts put in: the message escaped, each part escaped unless safe."""
    return mark_safe(str(conditional_escape(message)) % {key: _parts(part) for key, part in parts.items()})


def _yuan(cents: object) -> str:
    return f"¥{(cents if isinstance(cents, int) else 0) / 100:,.2f}"


def _fields(model: Any, data: Mapping[str, Any]) -> SafeString:
    """"城市 北京, 性别 女": each field by its name and its value by its label."""
    return mark_safe(", ".join(
        str(format_html("{} {}", field_label(model, key), field_value_label(model, key, value) or "—"))
        for key, value in sorted(data.items())
    ))


def _code(data: Mapping[str, Any], refs: References) -> SafeString | str:
    """Where someone came from: a channel code of this workspace (linked), or a source by its label."""
    code = data.get("code")
    if not code:
        return ""
    shown = refs.html(CODE, code) if isinstance(code, int) else source_label(code)
    return _say(_("via %(code)s"), code=shown)


def _person(refs: References, kind: str, key: object) -> SafeString | str:
    return refs.html(kind, key) if key is not None else _("nobody")


def _change(data: Mapping[str, Any], key: str, refs: References) -> SafeString:
    return format_html("{} → {}", _person(refs, USER, data.get("previous")), _person(refs, USER, data.get(key)))


def _strike(data: Mapping[str, Any]) -> str:
    actions = ", ".join(str(STRIKE_ACTION_LABELS.get(a, a)) for a in data.get("actions", []))
    return _("%(rule)s · strike %(strike)s/%(limit)s · %(actions)s · “%(excerpt)s”") % {
        "rule": data.get("rule", ""), "strike": data.get("strike", ""), "limit": data.get("limit", ""),
        "actions": actions, "excerpt": data.get("excerpt", ""),
    }


def _joined(event: Event, data: Mapping[str, Any], refs: References) -> SafeString:
    inviter = data.get("inviter")
    invited = _say(_("invited by %(member)s"), member=refs.html(IDENTITY, (event.source, inviter))) if inviter else ""
    role = data.get("role")
    return _parts(_code(data, refs), invited, _("role: %(role)s") % {"role": ROLE_LABELS.get(role, role)} if role else "")


def _outbox(data: Mapping[str, Any], refs: References) -> SafeString:
    kind = data.get("kind")
    target = refs.html(*outbox_target(kind=kind, channel=data.get("channel"), target=data.get("target")))
    return _parts(KIND_LABELS.get(str(kind), kind), target, data.get("error"))


Describe = Callable[[Event, Mapping[str, Any], References], Any]
DETAILS: dict[int, Describe] = {
    EventType.GROUP_MESSAGE: lambda e, d, r: d.get("text", ""),
    EventType.ORDER_PAID: lambda e, d, r: _parts(_yuan(d.get("amount_cents")), product_label(d.get("product")),
                                                 product_kind_label(d.get("product_kind"))),
    EventType.COST_RECORDED: lambda e, d, r: _parts(_yuan(d.get("amount_cents")), cost_category_label(d.get("category"))),
    EventType.GROUP_JOINED: _joined,
    EventType.LINK_EXPOSED: lambda e, d, r: _code(d, r),
    EventType.GROUP_ROLE_CHANGED: lambda e, d, r: _("role: %(role)s") % {"role": ROLE_LABELS.get(str(d.get("role")), d.get("role", ""))},
    EventType.GROUP_LEFT: lambda e, d, r: d.get("reason", ""),
    EventType.MEMBER_PROFILE_UPDATED: lambda e, d, r: _fields(Member, d),
    EventType.GROUP_UPDATED: lambda e, d, r: _fields(Group, {k: v for k, v in d.items() if k in ("name", "kind", "capacity")}),
    EventType.GROUP_STRIKE_ADDED: lambda e, d, r: _strike(d),
    # The bot's bar names its rule and group (its reason says both, as text).
    EventType.MEMBER_BARRED: lambda e, d, r: (_parts(d["rule"], r.html(GROUP, d["group"])) if d.get("rule") and d.get("group")
                                              else d.get("reason", "")),
    EventType.MEMBER_UNBARRED: lambda e, d, r: d.get("reason", ""),
    EventType.MEMBER_TAGGED: lambda e, d, r: _parts(r.html(TAG, d.get("tag")), TAG_VIA_LABELS.get(d.get("via"), d.get("via"))),
    EventType.MEMBER_SEGMENT_ENTERED: lambda e, d, r: r.html(SEGMENT, d.get("segment")),
    EventType.MEMBER_OWNER_CHANGED: lambda e, d, r: _change(d, "owner", r),
    EventType.GROUP_STAFF_CHANGED: lambda e, d, r: _change(d, "staff", r),
    EventType.LINK_CLICKED: lambda e, d, r: _parts(*(r.html(kind, d[key]) for key, kind in REFERENCES[e.type] if d.get(key))),
    EventType.CAMPAIGN_TOUCHED: lambda e, d, r: d.get("campaign", ""),
    EventType.MEMBER_IMPORTED: lambda e, d, r: (_("created from the file %(file)s") if d.get("created")
                                                else _("updated from the file %(file)s")) % {"file": d.get("file", "")},
}
DETAILS[EventType.ORDER_REFUNDED] = DETAILS[EventType.ORDER_PAID]
DETAILS[EventType.MEMBER_UNTAGGED] = DETAILS[EventType.MEMBER_TAGGED]
DETAILS[EventType.MEMBER_SEGMENT_LEFT] = DETAILS[EventType.MEMBER_SEGMENT_ENTERED]
for _type in OUTBOX_TYPES:
    DETAILS[_type] = lambda e, d, r: _outbox(d, r)


def _made_by(event: Event, data: Mapping[str, Any], refs: References) -> SafeString:
    """Who made the event: the bot, a tag rule, an import or a handover, and the staff member behind it."""
    what: object = ""
    if data.get("handover"):
        what = refs.html(HANDOVER, data["handover"])
    elif data.get("via") == "handover":
        what = _("Handover")
    elif data.get("import"):
        what = _say(_("import %(file)s"), file=refs.html(IMPORT, data["import"]))
    elif data.get("via") == TagVia.RULE and data.get("rule"):
        what = _say(_("tag rule %(rule)s"), rule=refs.html(TAG_RULE, data["rule"]))
    elif event.source == OWN_SOURCE and (event.type in BOT_TYPES or (event.type == EventType.MEMBER_BARRED and data.get("strike"))):
        what = _("Bot")
    by = data.get("by")
    who = refs.html(USER, by) if isinstance(by, int) else by  # a strike's undo names its user
    return _parts(what, who)


def events_describe(events: Iterable[Any], *, workspace: Workspace) -> None:
    """Set `detail` and `made_by` on each event of a page (other rows, such as notes, are left alone)."""
    page = [event for event in events if isinstance(event, Event)]
    refs = References(workspace)
    for event in page:
        _collect(event, refs)
    refs.load()
    for event in page:
        data = _data(event)
        describe = DETAILS.get(event.type)
        event.detail = conditional_escape(describe(event, data, refs)) if describe else ""
        event.made_by = _made_by(event, data, refs)


def outbox_describe(messages: Iterable[OutboxMessage], *, workspace: Workspace) -> None:
    """Set `target_name` (the group or member a message goes to, by name and linked; "" when Siyu does
    not know the target) and `content` (what it says or does, a removed member by name) on each message."""
    messages = list(messages)
    refs = References(workspace)
    for message in messages:
        refs.want(*outbox_target(kind=message.kind, channel=message.channel, target=message.target))
        if message.kind == REMOVE_MEMBER:
            refs.want(IDENTITY, (message.channel, (message.payload or {}).get("user")))
    refs.load()
    for message in messages:
        payload = message.payload if isinstance(message.payload, dict) else {}
        target = outbox_target(kind=message.kind, channel=message.channel, target=message.target)
        message.target_name = refs.html(*target) if refs.name(*target) else ""
        if message.kind == REMOVE_MEMBER:
            user = (message.channel, payload.get("user"))
            message.content = _parts(refs.html(IDENTITY, user) if refs.name(IDENTITY, user) else payload.get("user"),
                                     payload.get("reason"))
        elif message.kind == DELETE_MESSAGE:
            message.content = _parts(payload.get("message_id"), payload.get("reason"))
        else:
            message.content = conditional_escape(Truncator(str(payload.get("text", ""))).chars(120))
