"""The WeCom page (connect the workspace's WeCom app, its callback URL, status, "test the callback") and the
webhooks' dead letters (read and replay). Everyone with a role sees the WeCom page; owners and admins change
it (it holds the app's secrets). Dead letters hold members' raw payloads: operators and up only."""
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.channels.models import DeadLetter
from siyu.channels.webhooks import ReplayFailed, dead_letter_replay
from siyu.channels.wecom.models import WeComAccount
from siyu.channels.wecom.services import wecom_callback_path, wecom_callback_test, wecom_connect, wecom_disconnect
from siyu.core.roles import ADMINS, OPERATORS
from siyu.groups.models import Group

from .access import role_required, workspace_view
from .areas import ConsoleArea

DEAD_LETTERS_SHOWN = 100


class WeComConnectForm(forms.Form):
    corp_id = forms.CharField(label=gettext_lazy("CorpID"), max_length=64,
                              help_text=gettext_lazy("My Company → Company Information, e.g. ww1234567890abcdef."))
    agent_id = forms.CharField(label=gettext_lazy("AgentId"), max_length=32, help_text=gettext_lazy("On the app's page."))
    secret = forms.CharField(label=gettext_lazy("Secret"), max_length=255, widget=forms.PasswordInput,
                             help_text=gettext_lazy("On the app's page; stored encrypted."))
    token = forms.CharField(label=gettext_lazy("Token"), max_length=32, widget=forms.PasswordInput,
                            help_text=gettext_lazy("The app's 'Receive messages' settings; stored encrypted."))
    encoding_aes_key = forms.CharField(label=gettext_lazy("EncodingAESKey"), max_length=43, widget=forms.PasswordInput,
                                       help_text=gettext_lazy("The app's 'Receive messages' settings; stored encrypted."))


admin_posts_required = role_required(
    ADMINS, gettext_lazy("Only the workspace's owners and admins can change the WeCom app."), methods=("POST",))
operators_required = role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can read and replay dead letters."))


def _callback_url(request, account):
    return request.build_absolute_uri(wecom_callback_path(account))


@workspace_view
@admin_posts_required
def wecom_page(request):
    return _render(request)


def _render(request, form=None):
    account = WeComAccount.objects.filter(workspace=request.workspace).first()
    context = {
        "account": account,
        "callback_url": _callback_url(request, account) if account else "",
        "can_change": request.staff_role.is_admin,
        "can_operate": request.staff_role.can_operate,
        "form": form or WeComConnectForm(initial={"corp_id": account.corp_id, "agent_id": account.agent_id} if account else None),
        "groups": Group.objects.filter(workspace=request.workspace, channel="wecom").count(),
        "dead_letters": DeadLetter.objects.filter(workspace=request.workspace, channel="wecom", replayed_at__isnull=True).count(),
    }
    return render(request, "console/wecom.html", context, status=400 if form is not None else 200)


@workspace_view
@admin_posts_required
def wecom_connect_view(request):
    if request.method != "POST":
        return redirect("console:wecom", slug=request.workspace.slug)
    form = WeComConnectForm(request.POST)
    if form.is_valid():
        try:
            wecom_connect(workspace=request.workspace, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("WeCom app connected. Paste the callback URL below into the app's 'Receive messages' settings."))
            return redirect("console:wecom", slug=request.workspace.slug)
    return _render(request, form=form)


@workspace_view
@admin_posts_required
def wecom_test(request):
    account = WeComAccount.objects.filter(workspace=request.workspace).first()
    if request.method == "POST" and account is not None:
        result = wecom_callback_test(account=account, base_url=request.build_absolute_uri("/"))
        (messages.success if result.ok else messages.error)(request, f"{result.url}: {result.detail}")
    return redirect("console:wecom", slug=request.workspace.slug)


@workspace_view
@admin_posts_required
def wecom_disconnect_view(request):
    if request.method == "POST" and wecom_disconnect(workspace=request.workspace):
        messages.success(request, _("The WeCom app is disconnected: its callback URL no longer answers. Its groups and their history stay."))
    return redirect("console:wecom", slug=request.workspace.slug)


@workspace_view
@operators_required
def dead_letters(request):
    letters = DeadLetter.objects.filter(workspace=request.workspace).order_by("-received_at", "-pk")
    if request.GET.get("all") != "1":
        letters = letters.filter(replayed_at__isnull=True)
    return render(request, "console/dead_letters.html", {"letters": letters[:DEAD_LETTERS_SHOWN], "all": request.GET.get("all") == "1"})


@workspace_view
@operators_required
def dead_letter_replay_view(request, letter_id):
    letter = get_object_or_404(DeadLetter, workspace=request.workspace, pk=letter_id)
    if request.method == "POST":
        try:
            result = dead_letter_replay(letter=letter)
        except ReplayFailed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Replayed: %(stored)s events stored, %(duplicates)s already there.")
                             % {"stored": result.stored, "duplicates": result.duplicates})
    return redirect("console:dead_letters", slug=request.workspace.slug)


area = ConsoleArea(
    key="wecom",
    routes=[
        path("wecom/", wecom_page, name="wecom"),
        path("wecom/connect/", wecom_connect_view, name="wecom_connect"),
        path("wecom/test/", wecom_test, name="wecom_test"),
        path("wecom/disconnect/", wecom_disconnect_view, name="wecom_disconnect"),
        path("webhooks/dead-letters/", dead_letters, name="dead_letters"),
        path("webhooks/dead-letters/<int:letter_id>/replay/", dead_letter_replay_view, name="dead_letter_replay"),
    ],
    menu=[],
)
