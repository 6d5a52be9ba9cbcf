"""The members list's selection and bulk actions (批量操作): tick rows, or all that match the filter, then add
or remove tags, set the owner (跟进人), add to a lead list or export; undo the latest bulk tag change.

Owners, admins and operators only (siyu.members.bulk.BULK_ROLES; the service checks again): other roles see
no checkboxes and no buttons. The views parse, call siyu.members.bulk and render: through htmx the list is
drawn again with the outcome above it (an export starts its download from there); without JavaScript the
outcome is a message on the list, and an export downloads at once.
"""
import io
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from siyu.analytics import selectors as analytics_selectors
from siyu.core import selectors as core_selectors
from siyu.core import spreadsheets
from siyu.core.roles import OPERATORS, role_allows
from siyu.groups import selectors as group_selectors
from siyu.members import bulk
from siyu.members import selectors as member_selectors
from siyu.members.exports import FORMATS, export_headers, member_column_labels
from siyu.members.models import BulkAction, BulkKind, LeadList
from siyu.members.privacy import can_see_contacts

from .access import error_lines, posted_id, role_required, workspace_view
from .areas import ConsoleArea
from .forms import MemberFilterForm

bulk_required = role_required(OPERATORS, bulk.REFUSED)


def member_filter(*, request, params) -> tuple[MemberFilterForm, dict[str, Any] | None, Any]:
    """The members list's filter form for `params` (a QueryDict), its cleaned values (None when invalid) and the
    condition on Member its group, tier, tag and segment choices make (None: no condition)."""
    workspace = request.workspace
    form = MemberFilterForm(
        params or None, groups=group_selectors.group_choices(workspace=workspace),
        segments=analytics_selectors.model_choices(), tags=member_selectors.tag_choices(workspace=workspace),
        saved=member_selectors.segment_choices(workspace=workspace),
    )
    if params and not form.is_valid():
        return form, None, None
    filters = form.cleaned_data if params else {}
    condition: Any = None
    if filters.get("group") or filters.get("kind"):
        condition = group_selectors.in_group_now(group_id=filters.get("group"), kind=filters.get("kind"))
    if filters.get("segment"):
        field, value = filters["segment"].split(":")
        segment = analytics_selectors.member_model_condition(field=field, value=value)
        condition = segment if condition is None else condition & segment
    for extra in (member_selectors.has_tag(tag_id=filters.get("tag")), member_selectors.in_segment(segment_id=filters.get("saved"))):
        if extra is not None:
            condition = extra if condition is None else condition & extra
    return form, filters, condition


def member_list_context(*, request, params) -> dict[str, Any]:
    """What the members list (members.html, _member_results.html, _member_rows.html) shows for `params`."""
    form, filters, condition = member_filter(request=request, params=params)
    page: list[Any] = []
    next_before = total = None
    sort = "new"
    if filters is not None:
        sort = filters.get("sort") or "new"
        with_staff = bool(filters.get("staff"))  # staff (members.staff) only when "Show staff" is ticked
        page, next_before = member_selectors.member_list(
            workspace=request.workspace, query=filters.get("q", ""), condition=condition, before=filters.get("before"),
            sort=sort, start=filters.get("start") or 0, with_staff=with_staff,
        )
        total = member_selectors.member_count(
            workspace=request.workspace, query=filters.get("q", ""), condition=condition, with_staff=with_staff
        )
    query = params.copy()
    query.pop("before", None)
    query.pop("start", None)
    context = {
        "form": form, "members": page, "next_before": next_before, "query": query.urlencode(), "total": total,
        "next_param": "before" if sort == "new" else "start", "columns": member_column_labels(),
    }
    if page and role_allows(request.staff_role, OPERATORS):
        context.update(_bulk_context(request, tags=form.fields["tag"].choices[1:]))
    return context


def _bulk_context(request, *, tags) -> dict[str, Any]:
    """The bulk bar's choices (the filter's tags again), the recent bulk actions and the one an undo would take back."""
    workspace = request.workspace
    recent = bulk.bulk_recent(workspace=workspace)
    undoable = next((a for a in recent if a.kind in bulk.UNDOABLE), None)
    if undoable is None and len(recent) == bulk.RECENT:
        undoable = bulk.bulk_undoable(workspace=workspace)  # the latest tag change is older than the recent ones
    elif undoable is not None and undoable.undone_at is not None:
        undoable = None
    return {
        "can_bulk": True, "bulk_key": uuid.uuid4().hex, "bulk_limit": bulk.BULK_LIMIT, "bulk_tags": tags,
        "bulk_owners": [role.user for role in core_selectors.staff_list(workspace=workspace)],
        "bulk_lead_lists": member_selectors.lead_list_choices(workspace=workspace),
        "bulk_formats": FORMATS, "bulk_with_contacts": can_see_contacts(request.staff_role),
        "bulk_recent": recent, "bulk_undoable": undoable,
    }


def _selection(request, params) -> bulk.Selection:
    """The posted selection: every member the list's filter matches ("all", with the count shown), or the rows ticked."""
    if request.POST.get("all") == "1":
        form, filters, condition = member_filter(request=request, params=params)
        if filters is None:
            raise ValidationError(_("The filter is not valid any more: search again."))
        expected = request.POST.get("expected", "")
        members = member_selectors.member_list_matching(workspace=request.workspace, query=filters.get("q", ""),
                                                        condition=condition, with_staff=bool(filters.get("staff")))
        return bulk.Selection(members=members, filter=params.urlencode(),
                              expected=int(expected) if expected.isdigit() and len(expected) < 10 else None)
    numbers = []
    for value in request.POST.getlist("member"):
        number = posted_id(value)
        if number is None:
            raise ValidationError(_("Not a member number: %(values)s.") % {"values": value[:20]})
        numbers.append(number)
    return bulk.Selection(numbers=tuple(numbers))


def _run(request, kind: str, selection: bulk.Selection) -> BulkAction:
    """Call the service for `kind` with the posted choices; ValidationError for a missing or unknown choice."""
    workspace, key = request.workspace, f"{kind}:{request.POST.get('key', '')[:40]}"
    common = {"workspace": workspace, "selection": selection, "by": request.user, "key": key}
    if kind in (BulkKind.TAG, BulkKind.UNTAG):
        tag_ids = [posted_id(value) for value in request.POST.getlist("tags")]
        if None in tag_ids:
            raise ValidationError(_("There is no such tag in this workspace (it may have been deleted): choose another."))
        service = bulk.bulk_tag if kind == BulkKind.TAG else bulk.bulk_untag
        return service(tag_ids=[t for t in tag_ids if t is not None], **common)
    if kind == BulkKind.OWNER:
        chosen = request.POST.get("owner", "")
        owner = None
        if chosen:
            owner = get_user_model().objects.filter(pk=posted_id(chosen) or 0, workspace_roles__workspace=workspace).first()
            if owner is None:
                raise ValidationError(_("Choose a staff member of this workspace."))
        return bulk.bulk_owner_set(owner=owner, **common)
    if kind == BulkKind.LEAD_LIST:
        lead_list = LeadList.objects.filter(workspace=workspace, pk=posted_id(request.POST.get("lead_list")) or 0).first()
        if lead_list is None:
            raise ValidationError(_("Choose a lead list of this workspace."))
        return bulk.bulk_lead_add(lead_list=lead_list, **common)
    if kind == BulkKind.EXPORT:
        return bulk.bulk_export(fmt=request.POST.get("format", ""), with_contacts=request.POST.get("with_contacts") == "1",
                                **common)
    raise ValidationError(_("Choose what to do with the selected members."))


def _outcome(action: BulkAction) -> str:
    """What a bulk action did, in words."""
    n = action.changed
    if action.kind == BulkKind.TAG:
        text = ngettext("%(n)s tag given", "%(n)s tags given", n) % {"n": n}
    elif action.kind == BulkKind.UNTAG:
        text = ngettext("%(n)s tag removed", "%(n)s tags removed", n) % {"n": n}
    elif action.kind == BulkKind.OWNER:
        text = ngettext("%(n)s member has a new owner", "%(n)s members have a new owner", n) % {"n": n}
    elif action.kind == BulkKind.LEAD_LIST:
        text = ngettext("%(n)s lead added", "%(n)s leads added", n) % {"n": n}
    else:
        text = ngettext("%(n)s member exported", "%(n)s members exported", n) % {"n": n}
    selected = ngettext("%(n)s member selected", "%(n)s members selected", action.selected) % {"n": action.selected}
    return f"{text} ({selected})"


def _respond(request, params, *, done: str = "", errors=(), action: BulkAction | None = None):
    """Through htmx: the list again with the outcome above it. Else: the outcome as messages on the list."""
    if request.htmx:
        context = member_list_context(request=request, params=params)
        context.update({"bulk_done": done, "bulk_errors": list(errors), "bulk_action": action})
        if action is not None and action.kind == BulkKind.EXPORT:
            context["bulk_download"] = reverse("console:members_bulk_download", args=[request.workspace.slug, action.pk])
        return render(request, "console/_member_results.html", context)
    if done:
        messages.success(request, done)
    for line in errors:
        messages.error(request, line)
    query = params.urlencode()
    return redirect(reverse("console:members", args=[request.workspace.slug]) + (f"?{query}" if query else ""))


def _params(request) -> QueryDict:
    """The list's search and filter, posted back as the query string the list was shown with."""
    return QueryDict(request.POST.get("filter", "")[:4000])


@workspace_view
@bulk_required
@require_POST
def members_bulk(request):
    """Run one bulk action on the selected members (POST: action, member… or all + expected, filter, key and
    the action's choice: tags, owner, lead_list or format)."""
    params = _params(request)
    kind = request.POST.get("action", "")
    try:
        action = _run(request, kind, _selection(request, params))
    except ValidationError as error:
        return _respond(request, params, errors=error_lines(error))
    if action.kind == BulkKind.EXPORT and not request.htmx:
        return redirect("console:members_bulk_download", slug=request.workspace.slug, bulk_id=action.pk)
    return _respond(request, params, done=_outcome(action), action=action)


@workspace_view
@bulk_required
def members_bulk_download(request, bulk_id):
    """The file of a bulk export (the members export's columns), for whoever made it or an owner or admin."""
    action = BulkAction.objects.filter(workspace=request.workspace, pk=bulk_id, kind=BulkKind.EXPORT).first()
    if action is None or (action.by_id != request.user.pk and not request.staff_role.is_admin):
        raise Http404("No such export.")
    fmt = action.detail.get("format", "csv")
    filename = f"{request.workspace.slug}-members-{action.pk}.{fmt}"
    rows = bulk.bulk_export_rows(action=action)
    tz = request.workspace.tz
    if fmt == "xlsx":
        out = io.BytesIO()
        spreadsheets.xlsx_write(out=out, title=_("Members"), headers=export_headers(), rows=rows, tz=tz)
        response: HttpResponse | StreamingHttpResponse = HttpResponse(out.getvalue(),
                                                                      content_type=spreadsheets.XLSX_CONTENT_TYPE)
    else:
        response = StreamingHttpResponse(
            (piece.encode() for piece in spreadsheets.csv_stream(headers=export_headers(), rows=rows, tz=tz)),
            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@workspace_view
@bulk_required
@require_POST
def members_bulk_undo(request, bulk_id):
    """Undo the latest bulk tag change (once)."""
    params = _params(request)
    action = BulkAction.objects.filter(workspace=request.workspace, pk=bulk_id).first()
    if action is None:
        raise Http404("No such bulk action.")
    try:
        restored = bulk.bulk_undo(action=action, by=request.user)
    except ValidationError as error:
        return _respond(request, params, errors=error_lines(error))
    done = ngettext("Undone: %(n)s tag restored.", "Undone: %(n)s tags restored.", restored) % {"n": restored}
    return _respond(request, params, done=done)


area = ConsoleArea(
    key="member_list",
    routes=[
        path("members/bulk/", members_bulk, name="members_bulk"),
        path("members/bulk/<int:bulk_id>/download/", members_bulk_download, name="members_bulk_download"),
        path("members/bulk/<int:bulk_id>/undo/", members_bulk_undo, name="members_bulk_undo"),
    ],
)
