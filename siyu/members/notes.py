"""Notes and service records (备注, 服务记录): what staff did with or learned about a member.

    note_add(member=m, author=user, kind=NoteKind.CALL, text="问了续费, 下周回电")
    note_delete(note=n, by=user)
    remark_set(member=m, remark="妈妈是老师, 只周末回消息", by=user)

A note is a row of its own (not a ledger event): staff may delete what they wrote, and a rebuild of
the ledger never touches it. The member page shows notes on the timeline, interleaved with events by
time (`timeline_with_notes`). The remark (Member.remark) is the one line shown wherever the member
appears: member lists, group member lists, lead lists.
"""
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.models import Event
from siyu.core.roles import ADMINS, EVERYONE, WRITERS, role_check, staff_role_get

from .models import Lead, Member, Note, NoteKind

MAX_TEXT = 4000
MAX_REMARK = 200
NOTE_ICONS: dict[str, str] = {
    NoteKind.NOTE: "✎", NoteKind.CALL: "☎", NoteKind.PRIVATE_CHAT: "✉", NoteKind.VISIT: "⌂",
    NoteKind.AFTER_SALES: "⚙", NoteKind.FOLLOW_UP: "➜",
}


def note_add(
    *, member: Member, author: User, kind: str, text: str, occurred_at: datetime | None = None, lead: Lead | None = None
) -> Note:
    """Record a note or service record on `member`, written by `author` (a staff member of the workspace
    who is not a viewer). `occurred_at` defaults to now and may not be in the future; a `lead` must be
    one of the member's leads (a follow-up). Returns the Note."""
    role_check(staff_role=staff_role_get(workspace_id=member.workspace_id, user=author), roles=WRITERS,
               message=_("Viewers cannot add notes."))
    errors: dict[str, list[str]] = {}
    if kind not in NoteKind.values:
        errors["kind"] = [_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(str(label) for label in NoteKind.labels)}]
    text = (text or "").strip()
    if not text:
        errors["text"] = [_("Write what happened.")]
    elif len(text) > MAX_TEXT:
        errors["text"] = [_("At most %(max)s characters (this has %(n)s).") % {"max": MAX_TEXT, "n": len(text)}]
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        errors["occurred_at"] = [_("A note cannot be about something that has not happened yet.")]
    if lead is not None and lead.member_id != member.pk:
        errors["lead"] = [_("This lead is about another member.")]
    if errors:
        raise ValidationError(errors)
    return Note.objects.create(
        workspace_id=member.workspace_id, member=member, author=author, kind=kind, text=text,
        occurred_at=occurred_at, lead=lead,
    )


def note_delete(*, note: Note, by: User) -> None:
    """Delete a note: its author may, and the workspace's owners and admins."""
    role_check(staff_role=staff_role_get(workspace_id=note.workspace_id, user=by),
               roles=EVERYONE if by is not None and note.author_id == by.pk else ADMINS,
               message=_("Only the author or an admin can delete a note."))
    note.delete()


def remark_set(*, member: Member, remark: str, by: User) -> Member:
    """Set the member's remark (备注), at most 200 characters; empty clears it. Viewers may not."""
    role_check(staff_role=staff_role_get(workspace_id=member.workspace_id, user=by), roles=WRITERS,
               message=_("Viewers cannot change remarks."))
    remark = " ".join((remark or "").split())
    if len(remark) > MAX_REMARK:
        raise ValidationError({"remark": [_("At most %(max)s characters (this has %(n)s).") % {"max": MAX_REMARK, "n": len(remark)}]})
    with transaction.atomic():
        type(member).objects.filter(pk=member.pk).update(remark=remark)
    member.remark = remark
    return member


def notes_for_timeline(
    *, member: Member, events: Sequence[Any], before_id: int | None = None, more: bool = False, limit: int = 200
) -> list[Any]:
    """Merge the member's notes into one page of timeline events (newest first, by time).

    A page of events covers a time range: from the anchor of `before_id` (exclusive; open-ended on the
    first page) down to its oldest event (inclusive) when there is a `more` page, else to the beginning.
    The notes in that range go on this page, so each note shows once across the pages. Notes are
    marked `is_note` for the template.
    """
    notes = Note.objects.filter(member=member).select_related("author", "lead__lead_list")
    if before_id is not None:
        anchor = Event.objects.filter(member=member, pk=before_id).values_list("occurred_at", flat=True).first()
        if anchor is not None:
            notes = notes.filter(occurred_at__lt=anchor)
    if more and events:
        notes = notes.filter(occurred_at__gte=events[-1].occurred_at)
    page = list(notes.order_by("-occurred_at", "-id")[:limit])
    for note in page:
        note.is_note = True
        note.icon = NOTE_ICONS.get(note.kind, "✎")
    merged = list(events) + page
    merged.sort(key=lambda item: item.occurred_at, reverse=True)  # stable: events keep their order among equals
    return merged
