"""Console pages for the people side of members: notes and remarks, owners and handover, lead lists.

Notes and remarks: everyone but viewers. Changing an owner: owners, admins, operators. Handover (离职继承
and 在职继承, one page): owners and admins. Lead lists: operators and above create and rebuild them, viewers look; sales see their own
leads only (/leads/mine/), change their status and log follow-ups. Views parse, call the services of
siyu.members (notes, owners, leads) and siyu.groups.handover and render; the services' ValidationErrors are shown as they are.
"""
import json
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from siyu.core import selectors as core_selectors
from siyu.core.models import Role
from siyu.core.roles import ADMINS, LEAD_LIST_READERS, OPERATORS, WRITERS, role_allows
from siyu.groups import handover as handover_services
from siyu.members import leads as lead_services
from siyu.members import notes as note_services
from siyu.members import owners as owner_services
from siyu.members import selectors as member_selectors
from siyu.members import staff as staff_services
from siyu.members.models import (
    Assignment, HandoverKind, Lead, LeadList, LeadStatus, Member, Note, NoteKind, Segment, Tag,
)

from .areas import ConsoleArea, MenuEntry
from .access import error_lines, errors_flash, errors_show, role_required, workspace_view


def _member_or_404(request, number):
    try:
        return Member.objects.get(workspace=request.workspace, number=number)
    except Member.DoesNotExist:
        raise Http404("No such member.") from None


def _staff_users(workspace):
    return [role.user for role in core_selectors.staff_list(workspace=workspace)]


def _user_in_workspace(workspace, user_id):
    if not str(user_id or "").isdigit():
        return None
    return get_user_model().objects.filter(pk=int(user_id), workspace_roles__workspace=workspace).first()


# -- member page: notes, remark, owner ---------------------------------------------------------------
def timeline_with_notes(*, member, events, before_id, more):
    """One page of the member's timeline with their notes interleaved by time (see notes_for_timeline)."""
    return note_services.notes_for_timeline(member=member, events=events, before_id=before_id, more=more)


def member_context(*, request, member):
    """What the member page's note, remark and owner parts need (added by views.member_detail)."""
    role = request.staff_role
    return {
        "note_kinds": NoteKind.choices,
        "can_note": role_allows(role, WRITERS),
        "can_set_owner": role.can_operate,
        "owner_choices": _staff_users(request.workspace) if role.can_operate else [],
        "my_user_id": request.user.pk,
    }


@workspace_view
@require_POST
def member_note_add(request, number):
    member = _member_or_404(request, number)
    try:
        note_services.note_add(member=member, author=request.user, kind=request.POST.get("kind", ""),
                               text=request.POST.get("text", ""))
        messages.success(request, _("Note added."))
    except ValidationError as error:
        errors_flash(request, error)
    return redirect("console:member", slug=request.workspace.slug, number=member.number)


@workspace_view
@require_POST
def member_note_delete(request, note_id):
    note = Note.objects.filter(workspace=request.workspace, pk=note_id).select_related("member").first()
    if note is None:
        raise Http404("No such note.")
    note_services.note_delete(note=note, by=request.user)
    messages.success(request, _("Note deleted."))
    return redirect("console:member", slug=request.workspace.slug, number=note.member.number)


@workspace_view
@require_POST
def member_remark(request, number):
    member = _member_or_404(request, number)
    try:
        note_services.remark_set(member=member, remark=request.POST.get("remark", ""), by=request.user)
        messages.success(request, _("Remark saved."))
    except ValidationError as error:
        errors_flash(request, error)
    return redirect("console:member", slug=request.workspace.slug, number=member.number)


@workspace_view
@role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can change a member's owner."))
@require_POST
def member_owner(request, number):
    member = _member_or_404(request, number)
    owner = _user_in_workspace(request.workspace, request.POST.get("owner"))
    if owner is None and request.POST.get("owner"):
        messages.error(request, _("Choose a staff member of this workspace."))
    else:
        try:
            owner_services.member_owner_set(members=[member], owner=owner, by=request.user)
            messages.success(request, _("Owner changed."))
        except ValidationError as error:
            errors_flash(request, error)
    return redirect("console:member", slug=request.workspace.slug, number=member.number)


@workspace_view
@role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can mark staff."))
@require_POST
def member_staff(request, number):
    """Mark the member as staff or as not staff (the posted state, so a double submit changes nothing)."""
    member = _member_or_404(request, number)
    staff = request.POST.get("staff") == "1"
    if staff_services.member_staff_set(member=member, staff=staff, by=request.user):
        messages.success(request, _("Marked as staff.") if staff else _("Marked as not staff."))
    return redirect("console:member", slug=request.workspace.slug, number=member.number)


# -- handover -----------------------------------------------------------------------------------------
DEFAULT_HANDOVER_MESSAGE = gettext_lazy("Hello {name}, from now on {staff} looks after you. Write to us any time.")


def _member_numbers(text):
    """"12, 40 41" → [12, 40, 41]; ValidationError naming what is not a member number."""
    parts = [part for part in text.replace("，", ",").replace(",", " ").split() if part]
    bad = [part for part in parts if not part.lstrip("#").isdigit() or len(part) > 19]
    if bad:
        raise ValidationError(_("Not a member number: %(values)s.") % {"values": ", ".join(bad[:10])})
    return [int(part.lstrip("#")) for part in parts]


class HandoverForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=HandoverKind.choices, initial=HandoverKind.LEAVING,
                             widget=forms.RadioSelect, required=False)
    from_user = forms.TypedChoiceField(label=gettext_lazy("Handed over by"), coerce=int)
    to_user = forms.TypedChoiceField(label=gettext_lazy("Taken over by"), coerce=int)
    segment = forms.TypedChoiceField(label=gettext_lazy("Only members in segment"), coerce=int, required=False,
                                     empty_value=None)
    tag = forms.TypedChoiceField(label=gettext_lazy("Only members with tag"), coerce=int, required=False,
                                 empty_value=None)
    numbers = forms.CharField(label=gettext_lazy("Only these members"), required=False, max_length=200_000,
                              help_text=gettext_lazy("Member numbers, e.g. 12, 40, 41. Empty: all their members."))
    include_groups = forms.BooleanField(label=gettext_lazy("Also hand over the groups in their charge"),
                                        required=False, initial=True)
    tell = forms.BooleanField(label=gettext_lazy("Tell the members (a private message where their channel can)"),
                              required=False)
    message = forms.CharField(
        label=gettext_lazy("Message to the members"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("{name}: the member, {staff}: who takes over, {previous}: who hands over."))
    key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        users = [(u.pk, u.get_username()) for u in _staff_users(workspace)]
        self.fields["from_user"].choices = users
        self.fields["to_user"].choices = users
        self.fields["segment"].choices = [("", "—"), *member_selectors.segment_choices(workspace=workspace)]
        self.fields["tag"].choices = [("", "—")] + [
            (t.pk, str(t)) for t in Tag.objects.filter(workspace=workspace, deleted_at__isnull=True).select_related("group")]

    def clean_kind(self):
        return self.cleaned_data.get("kind") or HandoverKind.LEAVING

    def clean_numbers(self):
        return _member_numbers(self.cleaned_data.get("numbers") or "")

    def clean(self):
        data = super().clean() or self.cleaned_data
        if len([1 for name in ("segment", "tag", "numbers") if data.get(name)]) > 1:
            raise ValidationError(_("Restrict by a segment, by a tag or by member numbers, only one of them."))
        if data.get("tell") and not (data.get("message") or "").strip():
            self.add_error("message", _("Write the message the members are told."))
        return data

    def handover_args(self):
        data = self.cleaned_data
        if data.get("segment"):
            filter: dict[str, Any] = {"segment": data["segment"]}
        elif data.get("tag"):
            filter = {"tag": data["tag"]}
        elif data.get("numbers"):
            filter = {"members": data["numbers"]}
        else:
            filter = {}
        return {"filter": filter, "include_groups": data["include_groups"], "kind": data["kind"],
                "message": data["message"] if data.get("tell") else ""}


@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can hand members over."))
def handover(request):
    workspace = request.workspace
    form = HandoverForm(request.POST or None, workspace=workspace, initial={
        "include_groups": True, "message": DEFAULT_HANDOVER_MESSAGE, "key": uuid.uuid4().hex})
    preview = None
    if request.method == "POST" and form.is_valid():
        users = get_user_model().objects.in_bulk([form.cleaned_data["from_user"], form.cleaned_data["to_user"]])
        args = {"workspace": workspace, "from_user": users[form.cleaned_data["from_user"]],
                "to_user": users[form.cleaned_data["to_user"]], **form.handover_args()}
        try:
            if "confirm" in request.POST:
                done = handover_services.handover_run(by=request.user, key=form.cleaned_data["key"], **args)
                messages.success(request, _("Handed over %(members)s members, %(leads)s open leads and %(groups)s "
                                            "groups; %(told)s members told.")
                                 % {"members": done.members, "leads": done.leads, "groups": done.groups,
                                    "told": done.told})
                return redirect("console:handover", slug=workspace.slug)
            preview = handover_services.handover_preview(**args)
        except ValidationError as error:
            for message in error_lines(error):
                form.add_error(None, message)
    context = {"form": form, "preview": preview, "history": handover_services.handover_list(workspace=workspace)}
    return render(request, "console/handover.html", context)


# -- lead lists ---------------------------------------------------------------------------------------
class LeadListForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    name = forms.CharField(label=pgettext_lazy("a thing's name", "Name"), max_length=100)
    segment = forms.TypedChoiceField(label=gettext_lazy("Segment"), coerce=int)
    weights = forms.CharField(
        label=gettext_lazy("Score weights"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy('JSON, e.g. {"messages_30d": 1, "spend_yuan": 0.1, "tag:5": 20, '
                               '"days_since_last_seen": -0.5}'),
    )
    staff = forms.TypedMultipleChoiceField(label=gettext_lazy("Sales staff"), coerce=int, required=False)
    assignment = forms.ChoiceField(label=gettext_lazy("Assignment"), choices=Assignment.choices)
    limit = forms.IntegerField(label=gettext_lazy("Top N members"), min_value=1, required=False,
                               help_text=gettext_lazy("Empty: everyone in the segment."))

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = member_selectors.segment_choices(workspace=workspace)
        self.fields["staff"].choices = [(u.pk, u.get_username()) for u in _staff_users(workspace)]

    def clean_weights(self):
        try:
            weights = json.loads(self.cleaned_data["weights"])
        except ValueError:
            raise ValidationError(_("The weights are not valid JSON.")) from None
        if not isinstance(weights, dict):
            raise ValidationError(_("The weights are a JSON object: {\"input\": weight, …}."))
        return weights


lead_lists_required = role_required(LEAD_LIST_READERS, gettext_lazy("Sales staff see their own leads under “My leads”."))
LEAD_LISTS_CHANGE = gettext_lazy("Only owners, admins and operators can change lead lists.")


def _leadlist_or_404(request, list_id):
    try:
        return LeadList.objects.select_related("segment").get(workspace=request.workspace, pk=list_id)
    except LeadList.DoesNotExist:
        raise Http404("No such lead list.") from None


@workspace_view
@lead_lists_required
@role_required(OPERATORS, LEAD_LISTS_CHANGE, methods=("POST",))
def leads(request):
    workspace = request.workspace
    form = LeadListForm(request.POST or None, workspace=workspace,
                        initial={"weights": '{"messages_30d": 1, "spend_yuan": 0.1}'})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            lead_list = lead_services.leadlist_create(
                workspace=workspace, name=data["name"],
                segment=Segment.objects.filter(workspace=workspace, pk=data["segment"]).first(),
                weights=data["weights"], staff=get_user_model().objects.filter(pk__in=data["staff"]),
                assignment=data["assignment"], limit=data["limit"], by=request.user,
            )
            return redirect("console:leadlist", slug=workspace.slug, list_id=lead_list.pk)
        except ValidationError as error:
            errors_show(form, error)
    lists = LeadList.objects.filter(workspace=workspace).select_related("segment").order_by("-created_at")
    context = {"form": form, "lists": lists, "inputs": lead_services.SCORE_INPUTS.items()}
    return render(request, "console/leads.html", context)


@workspace_view
@lead_lists_required
def leadlist_detail(request, list_id):
    lead_list = _leadlist_or_404(request, list_id)
    leads_shown = lead_services.leadlist_leads(lead_list=lead_list)
    context = {
        "lead_list": lead_list, "leads": _with_reason_rows(leads_shown),
        "staff": lead_list.staff.order_by("username"), "statuses": LeadStatus.choices,
        "assignable": core_selectors.staff_list(workspace=request.workspace),
        "weights": [(lead_services.input_label(k), w) for k, w in lead_list.weights.items()],
    }
    return render(request, "console/leads_detail.html", context)


@workspace_view
@lead_lists_required
@role_required(OPERATORS, LEAD_LISTS_CHANGE)
@require_POST
def leadlist_build(request, list_id):
    lead_list = _leadlist_or_404(request, list_id)
    try:
        result = lead_services.leadlist_build(lead_list=lead_list)
        messages.success(request, _("Rebuilt: %(leads)s leads, %(added)s new, %(removed)s removed, %(assigned)s assigned.")
                         % result)
    except ValidationError as error:
        errors_flash(request, error)
    return redirect("console:leadlist", slug=request.workspace.slug, list_id=lead_list.pk)


@workspace_view
@lead_lists_required
@role_required(OPERATORS, LEAD_LISTS_CHANGE)
@require_POST
def lead_reassign(request, lead_id):
    """Give one lead to another staff member (operators and up), from the lead list's page."""
    lead = Lead.objects.filter(lead_list__workspace=request.workspace, pk=lead_id).select_related("lead_list").first()
    if lead is None:
        raise Http404("No such lead.")
    chosen = request.POST.get("assigned_to") or None
    to_user = get_user_model().objects.filter(pk=chosen).first() if chosen else None
    try:
        lead_services.lead_assign(lead=lead, to_user=to_user, by=request.user)
        messages.success(request, _("Lead reassigned."))
    except ValidationError as error:
        errors_flash(request, error)
    return redirect("console:leadlist", slug=request.workspace.slug, list_id=lead.lead_list_id)


def _with_reason_rows(leads_shown):
    """Give each lead `reason_rows`, its reasons with the input's label in the reader's language."""
    keys = {reason[0] for lead in leads_shown for reason in lead.reasons}
    labels = {key: lead_services.input_label(key) for key in keys}
    for lead in leads_shown:
        lead.reason_rows = [(labels[key], value, weight, points) for key, value, weight, points in lead.reasons]
    return leads_shown


@workspace_view
def leads_mine(request):
    show_all = request.GET.get("all") == "1"
    mine = lead_services.my_leads(workspace=request.workspace, user=request.user,
                                  statuses=None if show_all else lead_services.OPEN)
    context = {"leads": _with_reason_rows(mine), "statuses": LeadStatus.choices, "show_all": show_all}
    return render(request, "console/leads_mine.html", context)


@workspace_view
@require_POST
def lead_follow_up(request, lead_id):
    lead = Lead.objects.filter(lead_list__workspace=request.workspace, pk=lead_id).select_related("member", "lead_list").first()
    # Sales find only their own leads; others may log on any lead of the workspace.
    if lead is None or (not request.staff_role.can_operate and lead.assigned_to_id != request.user.pk):
        raise Http404("No such lead.")
    text, status = request.POST.get("text", "").strip(), request.POST.get("status") or None
    try:
        if text:
            lead_services.lead_follow_up(lead=lead, author=request.user, text=text, status=status)
        elif status:
            lead_services.lead_status_set(lead=lead, status=status, by=request.user)
        messages.success(request, _("Saved."))
    except ValidationError as error:
        errors_flash(request, error)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("console:leads_mine", args=[request.workspace.slug])
    return redirect(back)


area = ConsoleArea(
    key="people",
    routes=[
        path("members/<int:number>/notes/", member_note_add, name="member_note_add"),
        path("notes/<int:note_id>/delete/", member_note_delete, name="member_note_delete"),
        path("members/<int:number>/remark/", member_remark, name="member_remark"),
        path("members/<int:number>/owner/", member_owner, name="member_owner"),
        path("members/<int:number>/staff/", member_staff, name="member_staff"),
        path("handover/", handover, name="handover"),
        path("leads/", leads, name="leads"),
        path("leads/mine/", leads_mine, name="leads_mine"),
        path("leads/<int:list_id>/", leadlist_detail, name="leadlist"),
        path("leads/<int:list_id>/build/", leadlist_build, name="leadlist_build"),
        path("leads/lead/<int:lead_id>/follow-up/", lead_follow_up, name="lead_follow_up"),
        path("leads/lead/<int:lead_id>/assign/", lead_reassign, name="lead_reassign"),
    ],
    menu=[
        MenuEntry(gettext_lazy("Leads"), "leads", order=50, roles=LEAD_LIST_READERS, active=("lead*",)),
        MenuEntry(gettext_lazy("Leads"), "leads_mine", order=50, roles=(Role.SALES,), active=("lead*",)),
    ],
)
