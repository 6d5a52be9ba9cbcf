"""Segments (分群) with live lists: kept current by ingest, rebuilt in full on demand and on a schedule.

    segment = segment_create(workspace=w, name="高意向", filter={...}, by=user)   # builds the list
    segment_build(segment=segment)        # full recount: the difference enters/leaves, with events
    live_update(workspace=w, member_ids={...})   # what ingest calls (members_react) for a batch

A segment's filter is the filter language of members.filters. Its list is SegmentMember rows. On every
ingest batch, `members_react` (on events_ingested, inside the ingest transaction) re-evaluates each live
tag rule (members.tag_rules) and segment of the workspace for the members the batch touched, with the
same SQL as a full build restricted to those ids, and writes the difference: segment lists change and
member.segment_entered / member.segment_left events are appended in the same transaction; tag rules give
or take their tag (member.tagged / untagged, via "rule"), which in turn re-evaluates segments naming
that tag (depth-limited).

Conditions that change with the clock (time windows, last seen) or with analytics (tiers) cannot be
caught by events alone: segments and rules using them are also recounted by `live_recount_due`
(hourly, members.tasks) and by `siyu segments recount`.
"""
import logging
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import chunked, insert_many
from siyu.core.events import OWN_SOURCE, EventType, own_member_event
from siyu.core.ingest import events_ingest
from siyu.core.models import Workspace
from siyu.core.projections import PreparedEvent

from .filters import FilterError, filter_compile, filter_member_ids, filter_validate
from .models import Segment, SegmentMember, SegmentSize, TagRule
from .tag_rules import tag_rule_apply, tag_rule_build

log = logging.getLogger(__name__)

MAX_CASCADE = 4  # tag rule → segment → … re-evaluations within one ingest
# Events that are themselves results of this module: they never trigger a re-evaluation.
OWN_RESULTS = frozenset({EventType.MEMBER_SEGMENT_ENTERED, EventType.MEMBER_SEGMENT_LEFT})


def _name_check(workspace: Workspace, name: str | None, exclude: Segment | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the segment a name.")]})
    if len(name) > 100:
        raise ValidationError({"name": [_("At most %(max)s characters.") % {"max": 100}]})
    clash = Segment.objects.filter(workspace=workspace, name=name, archived_at__isnull=True)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise ValidationError({"name": [_("There is already a segment named %(name)s.") % {"name": name}]})
    return name


def segment_create(
    *, workspace: Workspace, name: str, filter: dict[str, Any], description: str = "", by: User | None = None
) -> Segment:
    """Save a segment and build its list (no entered events for the first build: nobody *changed*)."""
    name = _name_check(workspace, name)
    filter_validate(workspace=workspace, filter=filter)
    with transaction.atomic():
        segment = Segment.objects.create(
            workspace=workspace, name=name, filter=filter, description=(description or "")[:300], created_by=by,
        )
        segment_build(segment=segment)
    return segment


def segment_update(
    *, segment: Segment, name: str | None = None, filter: dict[str, Any] | None = None, description: str | None = None
) -> Segment:
    """Change a segment; a new filter rebuilds the list (members entering or leaving get events)."""
    if name is not None:
        segment.name = _name_check(segment.workspace, name, exclude=segment)
    if description is not None:
        segment.description = description[:300]
    rebuild = filter is not None and filter != segment.filter
    if filter is not None:
        filter_validate(workspace=segment.workspace, filter=filter)
        segment.filter = filter
    with transaction.atomic():
        segment.error = ""
        segment.save()
        if rebuild:
            segment_build(segment=segment)
    return segment


def segment_archive(*, segment: Segment) -> None:
    """Stop keeping the list (it is deleted); the ledger keeps the entered/left history."""
    with transaction.atomic():
        SegmentMember.objects.filter(segment=segment).delete()
        Segment.objects.filter(pk=segment.pk).update(archived_at=timezone.now(), size=0)


def segment_build(*, segment: Segment, now: datetime | None = None) -> tuple[int, int]:
    """Full recount: evaluate the filter over every member and write the difference to the list.

    Returns (entered, left). A segment whose filter no longer compiles (a deleted tag) keeps its last
    list and gets `error` set, shown on its page, instead of silently changing.
    """
    now = now or timezone.now()
    started = time.perf_counter()
    workspace = segment.workspace
    try:
        wanted = filter_member_ids(workspace=workspace, filter=segment.filter, now=now)
    except FilterError as exc:
        Segment.objects.filter(pk=segment.pk).update(error=str(exc)[:300])
        segment.error = str(exc)[:300]
        return 0, 0
    with transaction.atomic():
        current = set(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True))
        entered, left = wanted - current, current - wanted
        _list_write(segment, entered, left, now, events=segment.built_at is not None)
        segment.size = len(wanted)
        segment.built_at = now
        segment.build_ms = int((time.perf_counter() - started) * 1000)
        segment.error = ""
        Segment.objects.filter(pk=segment.pk).update(size=segment.size, built_at=now, build_ms=segment.build_ms, error="")
        _size_record(segment, now)
    return len(entered), len(left)


def _list_write(segment: Segment, entered: Collection[int], left: Collection[int], now: datetime, *, events: bool = True) -> None:
    for chunk in chunked(sorted(left), 900):
        SegmentMember.objects.filter(segment=segment, member_id__in=chunk).delete()
    insert_many(SegmentMember, [{"segment": segment.pk, "member": m, "since": now} for m in sorted(entered)])
    if events and (entered or left):
        now = min(now, timezone.now())  # a recount evaluated "as of" a later time still happens now
        key = uuid.uuid4().hex
        raw = [
            own_member_event(kind, member_id=member_id, source_id=f"seg:{segment.pk}:{key}:{n}", occurred_at=now,
                             data={"segment": segment.pk})
            for n, (kind, member_id) in enumerate(
                [(EventType.MEMBER_SEGMENT_ENTERED, m) for m in sorted(entered)]
                + [(EventType.MEMBER_SEGMENT_LEFT, m) for m in sorted(left)]
            )
        ]
        for batch in chunked(raw, 5_000):
            events_ingest(workspace=segment.workspace, source=OWN_SOURCE, events=batch)


def _size_record(segment: Segment, now: datetime) -> None:
    """The segment's size at the end of today so far (one row per day: its size history)."""
    day = timezone.localtime(now, segment.workspace.tz).date()
    size = Segment.objects.filter(pk=segment.pk).values_list("size", flat=True).get()
    SegmentSize.objects.update_or_create(segment=segment, day=day, defaults={"size": size})


# -- live updates --------------------------------------------------------------------------------
_cascade = threading.local()


def members_react(
    sender: object, *, workspace: Workspace, source: str, events: Sequence[PreparedEvent], **kwargs: Any
) -> None:
    """events_ingested: re-evaluate the workspace's live segments and tag rules for the members touched."""
    member_ids = {e.member_id for e in events if e.member_id and e.type not in OWN_RESULTS}
    depth = getattr(_cascade, "depth", 0)
    if not member_ids:
        return
    if depth >= MAX_CASCADE:
        log.warning("members: tag rules and segments still changing after %s rounds; stopped (a rule cycle?)", depth)
        return
    _cascade.depth = depth + 1
    try:
        live_update(workspace=workspace, member_ids=member_ids)
    finally:
        _cascade.depth = depth


def live_update(*, workspace: Workspace, member_ids: Iterable[int], now: datetime | None = None) -> None:
    """Bring every live tag rule and segment up to date for `member_ids` (rules first: segments may name their tags)."""
    now = now or timezone.now()
    among = sorted(member_ids)
    for rule in TagRule.objects.filter(workspace=workspace, active=True, error=""):
        try:
            matching = filter_member_ids(workspace=workspace, filter=rule.filter, now=now, among=among)
        except FilterError as exc:
            TagRule.objects.filter(pk=rule.pk).update(error=str(exc)[:300])
            continue
        tag_rule_apply(rule=rule, matching=matching, among=set(among), now=now)
    for segment in Segment.objects.filter(workspace=workspace, archived_at__isnull=True, error="", built_at__isnull=False):
        try:
            matching = filter_member_ids(workspace=workspace, filter=segment.filter, now=now, among=among)
        except FilterError as exc:
            Segment.objects.filter(pk=segment.pk).update(error=str(exc)[:300])
            continue
        current: set[int] = set()
        for chunk in chunked(among, 900):
            current.update(SegmentMember.objects.filter(segment=segment, member_id__in=chunk).values_list("member_id", flat=True))
        entered, left = matching - current, current - matching
        if entered or left:
            _list_write(segment, entered, left, now)
            Segment.objects.filter(pk=segment.pk).update(size=F("size") + len(entered) - len(left))
            _size_record(segment, now)


def live_recount_due(*, workspace: Workspace | None = None, now: datetime | None = None) -> int:
    """Recount segments and rules whose conditions depend on the clock or on analytics. Returns how many."""
    now = now or timezone.now()
    done = 0
    rules = TagRule.objects.filter(active=True, error="")
    segments = Segment.objects.filter(archived_at__isnull=True, error="")
    if workspace is not None:
        rules, segments = rules.filter(workspace=workspace), segments.filter(workspace=workspace)
    for rule in rules.select_related("workspace"):
        if _time_dependent(rule):
            tag_rule_build(rule=rule, now=now)
            done += 1
    for segment in segments.select_related("workspace"):
        if _time_dependent(segment):
            segment_build(segment=segment, now=now)
            done += 1
    return done


def _time_dependent(item: Segment | TagRule) -> bool:
    try:
        return filter_compile(workspace=item.workspace, filter=item.filter).time_dependent
    except FilterError:
        return False
