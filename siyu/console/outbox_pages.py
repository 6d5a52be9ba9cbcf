"""The outbox page: what the bot has queued, sent and failed to send, with the reasons."""
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.core.models import OutboxMessage, OutboxStatus
from siyu.core.outbox import outbox_retry
from siyu.core.roles import OPERATORS
from siyu.core.selectors import keyset_page

from .areas import ConsoleArea, MenuEntry
from .access import role_required, workspace_view
from .event_text import outbox_describe

# The statuses as the page shows them, in the order of a message's life.
STATUS_TABS = [OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENT, OutboxStatus.FAILED]


@workspace_view
def outbox(request):
    """Every message the bot queued in this workspace, newest first, filtered by status."""
    status = request.GET.get("status", "")
    if status not in OutboxStatus.values:
        status = ""
    rows = OutboxMessage.objects.filter(workspace=request.workspace)
    counts = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    if status:
        rows = rows.filter(status=status)
    before = request.GET.get("before", "")
    if before.isdigit():
        rows = rows.filter(id__lt=int(before))
    page, next_before = keyset_page(rows, field="id", limit=100)
    outbox_describe(page, workspace=request.workspace)
    tabs = [(value, OutboxStatus(value).label, counts.get(value, 0)) for value in STATUS_TABS]
    context = {
        "messages_page": page, "next_before": next_before, "status": status, "tabs": tabs,
        "total": sum(counts.values()), "can_retry": request.staff_role.can_operate,
    }
    return render(request, "console/outbox.html", context)


@workspace_view
@role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can retry a message."))
@require_POST
def outbox_message_retry(request, message_id):
    """Queue a failed message again (after the cause was fixed: a permission given, a bot reconnected)."""
    message = get_object_or_404(OutboxMessage, workspace=request.workspace, pk=message_id)
    if outbox_retry(message=message):
        messages.success(request, _("Message %(id)s is queued again.") % {"id": message.pk})
    else:
        messages.error(request, _("Message %(id)s has not failed, so there is nothing to retry.") % {"id": message.pk})
    return redirect(f"{reverse('console:outbox', args=[request.workspace.slug])}?status={OutboxStatus.FAILED}")


area = ConsoleArea(
    key="outbox",
    routes=[
        path("outbox/", outbox, name="outbox"),
        path("outbox/<int:message_id>/retry/", outbox_message_retry, name="outbox_retry"),
    ],
    menu=[MenuEntry(gettext_lazy("Outbox"), "outbox", order=80)],
)
