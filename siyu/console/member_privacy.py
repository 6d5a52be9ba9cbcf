"""Console pages for a person's contacts and data (privacy) and for merging members.

Contacts show masked (138****5678) except to owners and admins, who see them plain only after an
explicit, audited "reveal". Owners, admins and operators may edit contacts. Exporting a person's data
and erasing them need the owner or admin role; erasing asks for the member's number to be typed.
Merging members and undoing a merge need the owner or admin role too: both move every row of a person.
"""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.core.roles import ADMINS, OPERATORS
from siyu.members import merge as merging
from siyu.members import privacy
from siyu.members.models import Member, MemberMerge

from .areas import ConsoleArea
from .access import error_lines, role_required, workspace_view


def _member_or_404(request, number):
    try:
        return Member.objects.select_related("merged_into").get(workspace=request.workspace, number=number)
    except Member.DoesNotExist:
        raise Http404("No such member.") from None


def member_privacy_context(request, member, *, revealed=False, errors=None, values=None):
    """What _member_contacts.html needs: the contacts as this role may see them and what it may do."""
    role = request.staff_role
    shown = privacy.contact_reveal(member=member, staff_role=role) if revealed else privacy.contacts_for(member, role)
    if not revealed and not shown["masked"]:  # plain only after an explicit, audited reveal
        shown = {"phone": privacy.phone_mask(member.phone), "email": privacy.email_mask(member.email),
                 "wechat": privacy.wechat_mask(member.wechat), "masked": True}
    return {
        "contacts": shown,
        "contacts_empty": not (member.phone or member.email or member.wechat),
        "can_reveal": privacy.can_see_contacts(role) and not revealed and bool(member.phone or member.email or member.wechat),
        "can_edit_contacts": privacy.can_edit_contacts(role) and member.erased_at is None,
        "can_export": role.is_admin,
        "can_erase": role.is_admin and member.erased_at is None and member.merged_into_id is None,
        "contact_errors": errors or {},
        "contact_values": values or {},
    }


def _contacts_render(request, member, **kwargs):
    context = {"member": member, **member_privacy_context(request, member, **kwargs)}
    template = "console/_member_contacts.html" if request.htmx else "console/member_privacy.html"
    return render(request, template, context)


@require_POST
@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can see contact details."))
def contacts_reveal(request, number):
    member = _member_or_404(request, number)
    return _contacts_render(request, member, revealed=True)


@require_POST
@workspace_view
@role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can change contact details."))
def contacts_edit(request, number):
    member = _member_or_404(request, number)
    values = {f: request.POST.get(f, "") for f in ("phone", "email", "wechat")}
    # A masked value sent back unchanged means "leave it as it is".
    submitted = {f: (None if "*" in v else v) for f, v in values.items()}
    try:
        privacy.member_contacts_set(member=member, by=request.user, **submitted)
    except ValidationError as error:
        return _contacts_render(request, member, errors=error.message_dict, values=values)
    if not request.htmx:
        messages.success(request, _("Contact details saved."))
        return redirect("console:member", request.workspace.slug, member.number)
    return _contacts_render(request, member)


@require_POST
@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can export a person's data."))
def member_export(request, number):
    member = _member_or_404(request, number)
    body = privacy.member_data_export(member=member, by=request.user)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="member-{request.workspace.slug}-{member.number}.json"'
    return response


@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can erase a person."))
def member_erase(request, number):
    member = _member_or_404(request, number)
    error = None
    if request.method == "POST":
        typed = request.POST.get("confirm", "").strip().lstrip("#")
        if typed != str(member.number):
            error = _("Type the member's number, %(number)s, to confirm.") % {"number": member.number}
        else:
            try:
                privacy.member_erase(member=member, by=request.user, reason=request.POST.get("reason", ""))
            except ValidationError as refused:
                error = " ".join(error_lines(refused))
            else:
                messages.success(request, _("Member #%(number)s was erased.") % {"number": member.number})
                return redirect("console:member", request.workspace.slug, member.number)
    return render(request, "console/member_privacy_erase.html", {"member": member, "error": error})


@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can merge members."), methods=("POST",))
def merges(request):
    """Same-phone candidates, a form to merge two numbers, and past merges with undo."""
    can_merge = request.staff_role.is_admin
    error = None
    if request.method == "POST":
        try:
            kept = _number(request, "kept")
            merged = _number(request, "merged")
            merge = merging.member_merge(kept=kept, merged=merged, by=request.user, reason=request.POST.get("reason", ""))
        except ValidationError as refused:
            error = " ".join(error_lines(refused))
        else:
            messages.success(request, _("Member #%(merged)s was merged into #%(kept)s.")
                             % {"merged": merge.merged.number, "kept": merge.kept.number})
            return redirect("console:member_merges", request.workspace.slug)
    context = {
        "candidates": merging.merge_candidates(workspace=request.workspace)[:100],
        "past": MemberMerge.objects.filter(workspace=request.workspace).select_related("kept", "merged", "by", "undone_by")
        .order_by("-at")[:100],
        "can_merge": can_merge, "error": error, "posted": request.POST if request.method == "POST" else {},
    }
    return render(request, "console/member_privacy_merge.html", context)


def _number(request, field):
    text = request.POST.get(field, "").strip().lstrip("#")
    if not text.isdigit():
        raise ValidationError(_("Enter member numbers, e.g. 1024."))
    try:
        return Member.objects.get(workspace=request.workspace, number=int(text))
    except Member.DoesNotExist:
        raise ValidationError(_("There is no member #%(number)s.") % {"number": text}) from None


@require_POST
@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can undo a merge."))
def merge_undo(request, merge_id):
    merge = MemberMerge.objects.filter(workspace=request.workspace, pk=merge_id).first()
    if merge is None:
        raise Http404("No such merge.")
    try:
        merging.member_merge_undo(merge=merge, by=request.user)
    except ValidationError as refused:
        messages.error(request, " ".join(error_lines(refused)))
    else:
        messages.success(request, _("The merge was undone: #%(merged)s is separate from #%(kept)s again.")
                         % {"merged": merge.merged.number, "kept": merge.kept.number})
    return redirect("console:member_merges", request.workspace.slug)


area = ConsoleArea(
    key="member_privacy",
    routes=[
        path("members/merge/", merges, name="member_merges"),
        path("members/merge/<int:merge_id>/undo/", merge_undo, name="member_merge_undo"),
        path("members/<int:number>/contacts/", contacts_edit, name="member_contacts"),
        path("members/<int:number>/contacts/reveal/", contacts_reveal, name="member_contacts_reveal"),
        path("members/<int:number>/export/", member_export, name="member_export"),
        path("members/<int:number>/erase/", member_erase, name="member_erase"),
    ],
)
