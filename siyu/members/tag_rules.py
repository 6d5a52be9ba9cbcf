"""Tag rules (规则标签): members matching a filter (members.filters) get a tag, and lose it when they no longer match.

    rule = tag_rule_create(workspace=w, tag=tag, name="高意向", filter={...}, by=user)   # gives the tag now
    tag_rule_build(rule=rule)     # full recount over every member

Giving and taking go through members.tags (member.tagged / untagged events, via "rule"). Ingest keeps
rules live together with segments (members.segments.live_update: rules first, segments may name their tags).
"""
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.models import Workspace

from .filters import FilterError, filter_member_ids, filter_validate
from .models import MemberTag, Tag, TagRule, TagVia
from .tags import tags_apply, tags_remove


def tag_rule_create(
    *, workspace: Workspace, tag: Tag, name: str, filter: dict[str, Any], untag_when_unmatched: bool = True,
    by: User | None = None,
) -> TagRule:
    if tag.workspace_id != workspace.pk or tag.deleted_at is not None:
        raise ValidationError({"tag": [_("Choose a tag of this workspace that is not deleted.")]})
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": [_("Give the rule a name of at most 100 characters.")]})
    filter_validate(workspace=workspace, filter=filter)
    with transaction.atomic():
        rule = TagRule.objects.create(
            workspace=workspace, tag=tag, name=name, filter=filter, untag_when_unmatched=untag_when_unmatched, created_by=by,
        )
        tag_rule_build(rule=rule)
    return rule


def tag_rule_update(
    *, rule: TagRule, name: str | None = None, filter: dict[str, Any] | None = None,
    untag_when_unmatched: bool | None = None, active: bool | None = None,
) -> TagRule:
    if name is not None:
        rule.name = name.strip()[:100]
    if filter is not None:
        filter_validate(workspace=rule.workspace, filter=filter)
        rule.filter = filter
    if untag_when_unmatched is not None:
        rule.untag_when_unmatched = untag_when_unmatched
    if active is not None:
        rule.active = active
    with transaction.atomic():
        rule.error = ""
        rule.save()
        if rule.active:
            tag_rule_build(rule=rule)
    return rule


def tag_rule_delete(*, rule: TagRule) -> None:
    """Delete a tag rule. The tags it gave stay with their members (no longer tied to a rule) until removed."""
    rule.delete()


def tag_rule_build(*, rule: TagRule, now: datetime | None = None) -> tuple[int, int]:
    """Evaluate the rule over every member: give the tag to those matching who lack it, and (if the rule
    says so) take it from those it gave it to who no longer match. Returns (given, taken)."""
    now = now or timezone.now()
    try:
        wanted = filter_member_ids(workspace=rule.workspace, filter=rule.filter, now=now)
    except FilterError as exc:
        TagRule.objects.filter(pk=rule.pk).update(error=str(exc)[:300])
        rule.error = str(exc)[:300]
        return 0, 0
    given, taken = tag_rule_apply(rule=rule, matching=wanted, among=None, now=now)
    TagRule.objects.filter(pk=rule.pk).update(built_at=now, error="")
    return given, taken


def tag_rule_apply(
    *, rule: TagRule, matching: Collection[int], among: Collection[int] | None, now: datetime
) -> tuple[int, int]:
    """Give the rule's tag to `matching` members lacking it and take it (if the rule says so) from those
    it gave it to who no longer match; `among` limits both to those members (None: every member).
    Returns (given, taken)."""
    holders = MemberTag.objects.filter(tag_id=rule.tag_id)
    if among is not None:
        holders = holders.filter(member_id__in=among)
    has: dict[int, tuple[int | None, str]] = {}
    for member_id, rule_id, via in holders.values_list("member_id", "rule_id", "via"):
        has[member_id] = (rule_id, via)
    give = [(m, rule.tag_id) for m in sorted(matching) if m not in has]
    take: list[tuple[int, int]] = []
    if rule.untag_when_unmatched:
        scope = has if among is None else {m: v for m, v in has.items() if m in among}
        take = [(m, rule.tag_id) for m, (rule_id, via) in sorted(scope.items())
                if m not in matching and via == TagVia.RULE and rule_id == rule.pk]
    at = min(now, timezone.now())  # a recount evaluated "as of" a later time still happens now
    given = tags_apply(workspace=rule.workspace, pairs=give, via=TagVia.RULE, rule=rule, at=at) if give else 0
    taken = tags_remove(workspace=rule.workspace, pairs=take, via=TagVia.RULE, rule=rule, at=at) if take else 0
    return given, taken
