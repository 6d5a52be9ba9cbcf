"""Tags (标签): tag groups, tags, and giving or taking them from members.

    tag_group_create(workspace=w, name="消费能力", choice=TagChoice.SINGLE)
    tag = tag_create(workspace=w, name="高", group=group)
    tags_apply(workspace=w, pairs=[(member_id, tag.pk)], via=TagVia.MANUAL, by=user)
    tags_remove(workspace=w, pairs=[(member_id, tag.pk)], via=TagVia.MANUAL, by=user)
    given, taken = tags_give(...)  # tags_apply / tags_remove with the pairs changed (tags_take: the pairs taken)

Giving and taking are ledger events (member.tagged / member.untagged, source "siyu"); MemberTag is their
projection, so the ledger holds the history and a rebuild gives the same tags. In a single-choice
group, giving one tag takes the member's other tags of that group (one more event each).
"""
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NoReturn

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import chunked
from siyu.core.events import OWN_SOURCE, EventType, own_member_event
from siyu.core.ingest import events_ingest
from siyu.core.models import Workspace

from .filters import live_sets_check
from .models import MemberTag, Tag, TagChoice, TagGroup, TagRule, TagVia

MAX_NAME = 64
COLOR_DEFAULT = "#475467"


Pairs = Iterable[tuple[int, int]]  # (member id, tag id)


def _refuse(field: str, message: str) -> NoReturn:
    raise ValidationError({field: [message]})


def _name_clean(name: str | None, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        _refuse(field, _("Give it a name."))
    if len(name) > MAX_NAME:
        _refuse(field, _("At most %(max)s characters.") % {"max": MAX_NAME})
    if ":" in name:
        _refuse(field, _("A name cannot contain “:” (it separates a group from a tag, as in 消费能力:高)."))
    return name


def tag_group_create(*, workspace: Workspace, name: str, choice: str = TagChoice.MULTI) -> TagGroup:
    name = _name_clean(name)
    if choice not in TagChoice.values:
        _refuse("choice", _("Choose single or multi."))
    if TagGroup.objects.filter(workspace=workspace, name=name).exists():
        _refuse("name", _("There is already a tag group named %(name)s.") % {"name": name})
    last = TagGroup.objects.filter(workspace=workspace).order_by("-position").values_list("position", flat=True).first()
    return TagGroup.objects.create(workspace=workspace, name=name, choice=choice, position=(last or 0) + 1)


def tag_group_update(*, group: TagGroup, name: str | None = None, choice: str | None = None) -> TagGroup:
    if name is not None:
        name = _name_clean(name)
        if TagGroup.objects.filter(workspace_id=group.workspace_id, name=name).exclude(pk=group.pk).exists():
            _refuse("name", _("There is already a tag group named %(name)s.") % {"name": name})
        group.name = name
    if choice is not None:
        if choice not in TagChoice.values:
            _refuse("choice", _("Choose single or multi."))
        group.choice = choice
    group.save()
    return group


def tag_create(
    *, workspace: Workspace, name: str, group: TagGroup | None = None, color: str = COLOR_DEFAULT, description: str = ""
) -> Tag:
    name = _name_clean(name)
    if group is not None and group.workspace_id != workspace.pk:
        _refuse("group", _("The tag group belongs to another workspace."))
    if not (isinstance(color, str) and len(color) == 7 and color.startswith("#")
            and all(c in "0123456789abcdefABCDEF" for c in color[1:])):
        _refuse("color", _("A colour is written #rrggbb, e.g. #475467."))
    if len(description or "") > 200:
        _refuse("description", _("At most %(max)s characters.") % {"max": 200})
    if Tag.objects.filter(workspace=workspace, group=group, name=name, deleted_at__isnull=True).exists():
        _refuse("name", _("There is already a tag named %(name)s in this group.") % {"name": name})
    return Tag.objects.create(workspace=workspace, group=group, name=name, color=color, description=description or "")


def tag_update(*, tag: Tag, name: str | None = None, color: str | None = None, description: str | None = None) -> Tag:
    if name is not None:
        name = _name_clean(name)
        clash = Tag.objects.filter(workspace_id=tag.workspace_id, group_id=tag.group_id, name=name, deleted_at__isnull=True)
        if clash.exclude(pk=tag.pk).exists():
            _refuse("name", _("There is already a tag named %(name)s in this group.") % {"name": name})
        tag.name = name
    if color is not None:
        tag.color = color
    if description is not None:
        tag.description = description[:200]
    tag.save()
    return tag


def tag_delete(*, tag: Tag, by: User | None = None, now: datetime | None = None) -> int:
    """Take the tag from every member (events, via "manual") and mark it deleted. Segments and tag rules
    naming it then show an error instead of silently matching nobody (members.filters)."""
    now = now or timezone.now()
    with transaction.atomic():
        holders = list(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True))
        tags_remove(workspace=tag.workspace, pairs=[(m, tag.pk) for m in holders], via=TagVia.MANUAL, by=by, at=now)
        Tag.objects.filter(pk=tag.pk).update(deleted_at=now)
        tag.deleted_at = now
    live_sets_check(workspace=tag.workspace)
    return len(holders)


def tag_resolve(*, workspace: Workspace, text: str | None) -> Tag | None:
    """The live tag named by `text`: "group:tag" or a tag name unique in the workspace; None if there is none.

    Raises ValidationError when a bare name is ambiguous (the same name in two groups).
    """
    text = (text or "").strip()
    group_name, sep, tag_name = text.rpartition(":") if ":" in text else ("", "", text)
    tags = Tag.objects.filter(workspace=workspace, name=tag_name.strip(), deleted_at__isnull=True)
    if sep:
        tags = tags.filter(group__name=group_name.strip())
    found = list(tags.select_related("group")[:2])
    if len(found) > 1:
        raise ValidationError(
            _("“%(name)s” is a tag in more than one group: write it as group:tag, e.g. %(example)s.")
            % {"name": tag_name, "example": f"{found[0].group.name if found[0].group else ''}:{tag_name}"}
        )
    return found[0] if found else None


def _events(
    kind: EventType, pairs: Pairs, via: str, by: User | int | None, rule: TagRule | int | None, at: datetime, key: str
) -> Iterator[dict[str, Any]]:
    by_id = getattr(by, "pk", by)
    rule_id = getattr(rule, "pk", rule)
    for n, (member_id, tag_id) in enumerate(pairs):
        yield own_member_event(kind, member_id=member_id, source_id=f"{kind.key}:{key}:{n}", occurred_at=at,
                               data={"tag": tag_id, "via": via, "rule": rule_id, "by": by_id})


def _ingest(workspace: Workspace, events: Iterable[dict[str, Any]]) -> None:
    for chunk in chunked(list(events), 5_000):
        events_ingest(workspace=workspace, source=OWN_SOURCE, events=chunk)


def tags_apply(
    *, workspace: Workspace, pairs: Pairs, via: str, by: User | int | None = None, rule: TagRule | int | None = None,
    at: datetime | None = None, key: str | None = None,
) -> int:
    """Give tags: `pairs` of (member id, tag id). Pairs a member already has are skipped; in a single-choice
    group the member's other tags of the group are taken. One transaction; returns how many were given.

    `key` makes the call idempotent (the events' source ids derive from it); by default a fresh one.
    """
    given, _taken = tags_give(workspace=workspace, pairs=pairs, via=via, by=by, rule=rule, at=at, key=key)
    return len(given)


def tags_give(
    *, workspace: Workspace, pairs: Pairs, via: str, by: User | int | None = None, rule: TagRule | int | None = None,
    at: datetime | None = None, key: str | None = None,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """tags_apply, returning the pairs it gave and the pairs a single-choice group took (for an exact undo)."""
    if via not in TagVia.values:
        raise ValueError(f"unknown via {via!r}")
    at = at or timezone.now()
    key = key or uuid.uuid4().hex
    pairs = list(dict.fromkeys((int(m), int(t)) for m, t in pairs))
    if not pairs:
        return [], []
    tags = {t.pk: t for t in Tag.objects.filter(workspace=workspace, pk__in={t for _m, t in pairs}).select_related("group")}
    for _m, tag_id in pairs:
        tag = tags.get(tag_id)
        if tag is None:
            raise ValidationError(_("No tag %(id)s in this workspace.") % {"id": tag_id})
        if tag.deleted_at is not None:
            raise ValidationError(_("The tag %(tag)s was deleted.") % {"tag": tag})
    members = {m for m, _t in pairs}
    held: defaultdict[int, set[int]] = defaultdict(set)
    for chunk in chunked(sorted(members), 900):
        for member_id, tag_id in MemberTag.objects.filter(member_id__in=chunk).values_list("member_id", "tag_id"):
            held[member_id].add(tag_id)
    single = {
        g: set(Tag.objects.filter(group_id=g).values_list("pk", flat=True))
        for g in {t.group_id for t in tags.values() if t.group is not None and t.group.choice == TagChoice.SINGLE}
    }
    give: list[tuple[int, int]] = []
    take: list[tuple[int, int]] = []
    for member_id, tag_id in pairs:
        if tag_id in held[member_id]:
            continue
        group_id = tags[tag_id].group_id
        if group_id in single:
            for other in sorted((held[member_id] & single[group_id]) - {tag_id}):
                take.append((member_id, other))
                held[member_id].discard(other)
        give.append((member_id, tag_id))
        held[member_id].add(tag_id)
    with transaction.atomic():
        _ingest(workspace, [
            *_events(EventType.MEMBER_UNTAGGED, take, via, by, rule, at, f"{key}:swap"),
            *_events(EventType.MEMBER_TAGGED, give, via, by, rule, at, key),
        ])
    return give, take


def tags_remove(
    *, workspace: Workspace, pairs: Pairs, via: str, by: User | int | None = None, rule: TagRule | int | None = None,
    at: datetime | None = None, key: str | None = None,
) -> int:
    """Take tags: `pairs` of (member id, tag id); pairs a member does not have are skipped. Returns how many."""
    return len(tags_take(workspace=workspace, pairs=pairs, via=via, by=by, rule=rule, at=at, key=key))


def tags_take(
    *, workspace: Workspace, pairs: Pairs, via: str, by: User | int | None = None, rule: TagRule | int | None = None,
    at: datetime | None = None, key: str | None = None,
) -> list[tuple[int, int]]:
    """tags_remove, returning the pairs it took."""
    at = at or timezone.now()
    key = key or uuid.uuid4().hex
    pairs = list(dict.fromkeys((int(m), int(t)) for m, t in pairs))
    held: set[tuple[int, int]] = set()
    for chunk in chunked(pairs, 400):
        members = {m for m, _t in chunk}
        held.update(MemberTag.objects.filter(member_id__in=members, tag_id__in={t for _m, t in chunk}).values_list("member_id", "tag_id"))
    take = [pair for pair in pairs if pair in held]
    if take:
        with transaction.atomic():
            _ingest(workspace, _events(EventType.MEMBER_UNTAGGED, take, via, by, rule, at, key))
    return take
