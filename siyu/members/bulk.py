"""Bulk actions on the members list (批量操作): add or remove tags, set the owner (跟进人), add to a lead list, export.

    picked = Selection(numbers=(12, 40, 41))                                 # the rows ticked
    matching = Selection(members=qs, filter="tag=3&q=王", expected=1204)    # all that match, the count confirmed
    action = bulk_tag(workspace=w, selection=matching, tag_ids=[5], by=user, key=form_key)
    bulk_undo(action=action, by=user)

Each action is one transaction: the selection is resolved when the action runs (a filter is evaluated again
and must still match the count the operator confirmed), holds 1 to BULK_LIMIT members of the workspace, and
then the services the single actions use write the same events (members.tags: member.tagged / untagged,
members.owners: member.owner_changed, members.leads), with one BulkAction and one AuditEntry ("bulk_tag",
"bulk_untag", "bulk_owner", "bulk_lead_list", "bulk_export") saying who, what, how many and the selection.
Idempotent on `key` (the form's): a repeat returns the first BulkAction and changes nothing. Each service checks
the actor's role itself (BULK_ROLES), as the console does before it calls it.

A bulk tag change records the exact (member, tag) pairs it changed, so `bulk_undo` takes back the tags it gave
(and gives back those a single-choice group took) for those members only, not for members who already had
them (the pairs tags_give and tags_take report); only the workspace's latest bulk tag change can be undone, once.
"""
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core.db import chunked
from siyu.core.models import AuditEntry, Role, Workspace
from siyu.core.roles import ADMINS, OPERATORS, role_check, staff_role_get

from .exports import FORMATS, export_rows
from .leads import leads_add
from .models import BulkAction, BulkKind, LeadList, Member, Tag, TagVia
from .owners import member_owner_set
from .tags import tags_apply, tags_give, tags_remove, tags_take

BULK_LIMIT = 50_000
# Who may run each action: the roles its single counterpart needs (tags, owners, lead lists and exports:
# operators and above), so sales and viewers get none.
BULK_ROLES: dict[str, tuple[Role, ...]] = {kind: OPERATORS for kind in BulkKind.values}
REFUSED = gettext_lazy("Only owners, admins and operators can change or export many members at once.")
UNDOABLE = (BulkKind.TAG, BulkKind.UNTAG)
RECENT = 10  # bulk actions the members list shows


@dataclass(frozen=True)
class Selection:
    """The members a bulk action is for: the member numbers ticked, or every member of `members` (the list's
    search and filter, re-evaluated when the action runs), whose count must still be `expected` if given."""

    numbers: tuple[int, ...] = ()
    members: "QuerySet[Member] | None" = None
    filter: str = ""  # the list's query string, for the record
    expected: int | None = None

    def describe(self) -> dict[str, Any]:
        if self.members is not None:
            return {"all": True, "filter": self.filter}
        return {"numbers": list(dict.fromkeys(self.numbers))}


def _too_many(count: int) -> ValidationError:
    return ValidationError(_("At most %(limit)s members at once; %(count)s are selected: narrow the filter.")
                           % {"limit": f"{BULK_LIMIT:,}", "count": f"{count:,}"})


def selection_member_ids(*, workspace: Workspace, selection: Selection) -> list[int]:
    """The ids of the selected members of `workspace`, in id order; ValidationError for an empty or too large
    selection, a number that is no member of the workspace, or a filter that no longer matches the count confirmed."""
    if selection.members is not None:
        members = selection.members.filter(workspace=workspace, merged_into__isnull=True)
        count = members.count()
        if count == 0:
            raise ValidationError(_("No member matches the filter: nothing was changed."))
        if count > BULK_LIMIT:
            raise _too_many(count)
        if selection.expected is not None and count != selection.expected:
            raise ValidationError(
                _("The filter now matches %(now)s members, not the %(then)s you confirmed: look at the list again "
                  "and confirm.") % {"now": f"{count:,}", "then": f"{selection.expected:,}"})
        return list(members.order_by("pk").values_list("pk", flat=True))
    numbers = list(dict.fromkeys(selection.numbers))
    if not numbers:
        raise ValidationError(_("Select at least one member, or all that match the filter."))
    if len(numbers) > BULK_LIMIT:
        raise _too_many(len(numbers))
    found: dict[int, int] = {}
    for chunk in chunked(numbers, 900):
        found.update(Member.objects.filter(workspace=workspace, number__in=chunk, merged_into__isnull=True)
                     .values_list("number", "pk"))
    missing = [n for n in numbers if n not in found]
    if missing:
        raise ValidationError(_("No member %(numbers)s in this workspace: nothing was changed.")
                              % {"numbers": ", ".join(f"#{n}" for n in missing[:10])})
    return sorted(found.values())


Apply = Callable[[BulkAction, list[int]], tuple[int, dict[str, Any]]]


def _run(
    *, workspace: Workspace, kind: str, selection: Selection, by: User | None, key: str, detail: dict[str, Any],
    apply: Apply, roles: Sequence[str] | None = None, message: Any = REFUSED,
) -> BulkAction:
    """Check the role, then in one transaction resolve the selection, record the BulkAction, `apply` it
    (→ how many changed, what changed) and audit it; a known `key` returns its BulkAction instead."""
    if by is not None:
        role_check(staff_role=staff_role_get(workspace_id=workspace.pk, user=by), roles=roles or BULK_ROLES[kind],
                   message=message)
    key = (key or "")[:64]
    if key and (done := BulkAction.objects.filter(workspace=workspace, key=key).first()) is not None:
        return done
    try:
        with transaction.atomic():
            member_ids = selection_member_ids(workspace=workspace, selection=selection)
            action = BulkAction.objects.create(workspace=workspace, kind=kind, by=by, key=key,
                                               selection=selection.describe(), selected=len(member_ids), detail=detail)
            action.changed, action.changes = apply(action, member_ids)
            action.save(update_fields=["changed", "changes"])
            AuditEntry.objects.create(
                workspace=workspace, user=by, action=f"bulk_{kind}", subject=f"bulk:{action.pk}",
                data={"selection": action.selection, "selected": action.selected, "changed": action.changed, **detail},
            )
            return action
    except IntegrityError:
        # A second submit of the same form raced the first one past the check above.
        done = BulkAction.objects.filter(workspace=workspace, key=key).first() if key else None
        if done is None:
            raise
        return done


def _tags_clean(*, workspace: Workspace, tag_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(int(t) for t in tag_ids))
    if not ids:
        raise ValidationError(_("Choose at least one tag."))
    live = set(Tag.objects.filter(workspace=workspace, pk__in=ids, deleted_at__isnull=True).values_list("pk", flat=True))
    unknown = [t for t in ids if t not in live]
    if unknown:
        raise ValidationError(_("There is no such tag in this workspace (it may have been deleted): choose another."))
    return ids


def bulk_tag(
    *, workspace: Workspace, selection: Selection, tag_ids: Sequence[int], by: User | None, key: str = "",
) -> BulkAction:
    """Give the tags to every selected member (member.tagged events, via "manual", by `by`), as tags_apply does:
    members who have a tag already are skipped for it; in a single-choice group the member's other tag of the
    group is taken. `changed` counts the tags given; `changes` keeps the pairs given and taken, for bulk_undo."""
    tags = _tags_clean(workspace=workspace, tag_ids=tag_ids)

    def apply(action: BulkAction, member_ids: list[int]) -> tuple[int, dict[str, Any]]:
        given, taken = tags_give(workspace=workspace, pairs=[(m, t) for m in member_ids for t in tags],
                                 via=TagVia.MANUAL, by=by, key=f"bulk:{action.pk}")
        return len(given), {"given": [list(p) for p in sorted(given)], "taken": [list(p) for p in sorted(taken)]}

    return _run(workspace=workspace, kind=BulkKind.TAG, selection=selection, by=by, key=key, detail={"tags": tags},
                apply=apply)


def bulk_untag(
    *, workspace: Workspace, selection: Selection, tag_ids: Sequence[int], by: User | None, key: str = "",
) -> BulkAction:
    """Take the tags from every selected member who has them (member.untagged events, via "manual", by `by`).
    `changed` counts the tags taken; `changes` keeps those pairs, for bulk_undo."""
    tags = _tags_clean(workspace=workspace, tag_ids=tag_ids)

    def apply(action: BulkAction, member_ids: list[int]) -> tuple[int, dict[str, Any]]:
        taken = tags_take(workspace=workspace, pairs=[(m, t) for m in member_ids for t in tags], via=TagVia.MANUAL,
                          by=by, key=f"bulk:{action.pk}")
        return len(taken), {"given": [], "taken": [list(p) for p in sorted(taken)]}

    return _run(workspace=workspace, kind=BulkKind.UNTAG, selection=selection, by=by, key=key, detail={"tags": tags},
                apply=apply)


def bulk_owner_set(
    *, workspace: Workspace, selection: Selection, owner: User | None, by: User | None, key: str = "",
) -> BulkAction:
    """Make `owner` (a staff member of the workspace; None: nobody) the owner of every selected member, through
    member_owner_set (the member.owner_changed events of a single change). `changed`: members whose owner changed."""

    def apply(action: BulkAction, member_ids: list[int]) -> tuple[int, dict[str, Any]]:
        changed = 0
        for chunk in chunked(member_ids, 900):
            members = list(Member.objects.filter(pk__in=chunk).select_related("workspace"))
            changed += member_owner_set(members=members, owner=owner, by=by)
        return changed, {}

    return _run(workspace=workspace, kind=BulkKind.OWNER, selection=selection, by=by, key=key,
                detail={"owner": getattr(owner, "pk", None)}, apply=apply)


def bulk_lead_add(
    *, workspace: Workspace, selection: Selection, lead_list: LeadList, by: User | None, key: str = "",
) -> BulkAction:
    """Add the selected members to `lead_list` (leads_add: scored by its weights, kept by its rebuilds, assigned
    to its staff); members already in it are skipped. `changed`: leads added; `changes`: their ids."""
    if lead_list.workspace_id != workspace.pk:
        raise ValidationError(_("Choose a lead list of this workspace."))

    def apply(action: BulkAction, member_ids: list[int]) -> tuple[int, dict[str, Any]]:
        leads = leads_add(lead_list=lead_list, member_ids=member_ids)
        return len(leads), {"leads": leads}

    return _run(workspace=workspace, kind=BulkKind.LEAD_LIST, selection=selection, by=by, key=key,
                detail={"lead_list": lead_list.pk, "name": lead_list.name}, apply=apply)


def bulk_export(
    *, workspace: Workspace, selection: Selection, fmt: str, by: User | None, with_contacts: bool = False,
    key: str = "",
) -> BulkAction:
    """Record an export of the selected members (the members export's columns, as `fmt`, contacts masked unless
    `with_contacts`, owners and admins only); `bulk_export_rows` then gives its rows. `changes`: the member ids."""
    if fmt not in FORMATS:
        raise ValidationError(_("Choose CSV or XLSX."))

    def apply(action: BulkAction, member_ids: list[int]) -> tuple[int, dict[str, Any]]:
        return len(member_ids), {"members": member_ids}

    if with_contacts:
        return _run(workspace=workspace, kind=BulkKind.EXPORT, selection=selection, by=by, key=key, apply=apply,
                    detail={"format": fmt, "with_contacts": True}, roles=ADMINS,
                    message=gettext_lazy("Only owners and admins can export contacts unmasked."))
    return _run(workspace=workspace, kind=BulkKind.EXPORT, selection=selection, by=by, key=key, apply=apply,
                detail={"format": fmt, "with_contacts": False})


def bulk_export_rows(*, action: BulkAction) -> Iterator[list[Any]]:
    """The rows of a bulk export (members.exports.export_rows of the members it recorded)."""
    return export_rows(workspace=action.workspace, member_ids=action.changes.get("members", []),
                       with_contacts=bool(action.detail.get("with_contacts")))


def bulk_undoable(*, workspace: Workspace) -> BulkAction | None:
    """The bulk action an undo would take back: the workspace's latest bulk tag change, if not undone yet."""
    latest = BulkAction.objects.filter(workspace=workspace, kind__in=UNDOABLE).order_by("-at", "-pk").first()
    return latest if latest is not None and latest.undone_at is None else None


def bulk_undo(*, action: BulkAction, by: User | None) -> int:
    """Undo a bulk tag change exactly: take back the tags it gave and give back the tags it took, for the
    members it changed only (a tag taken or given by hand since then is left as it is). Only the workspace's
    latest bulk tag change, once (the claim is a conditional update). One transaction, audited ("bulk_undo");
    returns how many tags it restored."""
    workspace = action.workspace
    if by is not None:
        role_check(staff_role=staff_role_get(workspace_id=workspace.pk, user=by), roles=BULK_ROLES[action.kind],
                   message=REFUSED)
    if action.kind not in UNDOABLE:
        raise ValidationError(_("Only a bulk change of tags can be undone."))
    latest = BulkAction.objects.filter(workspace=workspace, kind__in=UNDOABLE).order_by("-at", "-pk").first()
    if latest is not None and latest.pk != action.pk:
        raise ValidationError(_("Only the latest bulk change of tags can be undone; a later one was made since."))
    now = timezone.now()
    with transaction.atomic():
        claimed = BulkAction.objects.filter(pk=action.pk, undone_at__isnull=True).update(undone_at=now, undone_by=by)
        if not claimed:
            raise ValidationError(_("This bulk action was already undone."))
        undo_key = f"bulk-undo:{action.pk}"
        given = [(m, t) for m, t in action.changes.get("given", [])]
        taken = [(m, t) for m, t in action.changes.get("taken", [])]
        live = set(Tag.objects.filter(pk__in={t for _m, t in taken}, deleted_at__isnull=True).values_list("pk", flat=True))
        restored = tags_remove(workspace=workspace, pairs=given, via=TagVia.MANUAL, by=by, key=undo_key, at=now)
        restored += tags_apply(workspace=workspace, pairs=[(m, t) for m, t in taken if t in live], via=TagVia.MANUAL,
                               by=by, key=undo_key, at=now)
        AuditEntry.objects.create(workspace=workspace, user=by, action="bulk_undo", subject=f"bulk:{action.pk}",
                                  data={"kind": action.kind, "tags": action.detail.get("tags", []),
                                        "restored": restored})
    action.undone_at, action.undone_by = now, by
    return restored


def bulk_recent(*, workspace: Workspace, limit: int = RECENT) -> list[BulkAction]:
    """The workspace's latest bulk actions, newest first, with who made (and undid) them."""
    return list(BulkAction.objects.filter(workspace=workspace).select_related("by", "undone_by")
                .order_by("-at", "-pk")[:limit])
