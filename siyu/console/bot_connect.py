"""The Bot page: connect the workspace's Matrix bot, see how its sync stands, test it, tune or disconnect it.

Everyone with a role sees the page; only owners and admins change it (it holds the bot's credentials).
"""
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.channels.matrix.models import MatrixAccount
from siyu.channels.matrix.services import (
    matrix_connect, matrix_connection_test, matrix_disconnect, matrix_settings_update,
)
from siyu.core.roles import ADMINS
from siyu.groups.models import Group

from .areas import ConsoleArea, MenuEntry
from .access import role_required, workspace_view


class ConnectForm(forms.Form):
    homeserver = forms.CharField(
        label=gettext_lazy("Homeserver URL"), max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "https://matrix.example.org"}),
    )
    access_token = forms.CharField(
        label=gettext_lazy("Access token"), required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Or leave empty and give the bot's user name and password."),
    )
    user = forms.CharField(label=gettext_lazy("Bot user name"), required=False, max_length=255,
                           widget=forms.TextInput(attrs={"placeholder": "@siyu-bot:example.org"}))
    password = forms.CharField(label=gettext_lazy("Password"), required=False, widget=forms.PasswordInput)

    def clean(self):
        data = super().clean() or self.cleaned_data
        if not data.get("access_token") and not (data.get("user") and data.get("password")):
            raise ValidationError(_("Give the bot's access token, or its user name and password."))
        return data


class SettingsForm(forms.ModelForm):
    class Meta:
        model = MatrixAccount
        fields = ["enabled", "bot_per_second", "bot_burst", "room_per_second", "room_burst"]


admin_posts_required = role_required(
    ADMINS, gettext_lazy("Only the workspace's owners and admins can change the bot."), methods=("POST",))


@workspace_view
@admin_posts_required
def bot_page(request):
    return _render(request)


def _render(request, connect_form=None, settings_form=None):
    account = MatrixAccount.objects.filter(workspace=request.workspace).first()
    context = {
        "account": account,
        "can_change": request.staff_role.is_admin,
        "connect_form": connect_form or ConnectForm(initial={"homeserver": account.homeserver if account else ""}),
        "settings_form": settings_form or (SettingsForm(instance=account) if account else None),
        "rooms": Group.objects.filter(workspace=request.workspace, channel="matrix").count(),
    }
    return render(request, "console/bot.html", context)


@workspace_view
@admin_posts_required
def bot_connect(request):
    if request.method != "POST":
        return redirect("console:bot", slug=request.workspace.slug)
    form = ConnectForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            account = matrix_connect(
                workspace=request.workspace, homeserver=data["homeserver"], access_token=data["access_token"] or None,
                user=data["user"] or None, password=data["password"] or None,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Connected as %(user)s. Invite it to your rooms.") % {"user": account.user_id})
            return redirect("console:bot", slug=request.workspace.slug)
    return _render(request, connect_form=form)


@workspace_view
@admin_posts_required
def bot_test(request):
    account = MatrixAccount.objects.filter(workspace=request.workspace).first()
    if request.method == "POST" and account is not None:
        try:
            report = matrix_connection_test(account=account)
        except ValidationError as exc:
            messages.error(request, _("Connection test failed: %(reason)s") % {"reason": " ".join(exc.messages)})
        else:
            messages.success(
                request, _("The homeserver answers and knows the token as %(user)s (device %(device)s).")
                % {"user": report.user_id, "device": report.device_id or "—"},
            )
    return redirect("console:bot", slug=request.workspace.slug)


@workspace_view
@admin_posts_required
def bot_settings(request):
    account = MatrixAccount.objects.filter(workspace=request.workspace).first()
    if request.method != "POST" or account is None:
        return redirect("console:bot", slug=request.workspace.slug)
    form = SettingsForm(request.POST, instance=account)
    if form.is_valid():
        try:
            matrix_settings_update(account=account, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Bot settings saved."))
            return redirect("console:bot", slug=request.workspace.slug)
    return _render(request, settings_form=form)


@workspace_view
@admin_posts_required
def bot_disconnect(request):
    if request.method == "POST" and matrix_disconnect(workspace=request.workspace):
        messages.success(request, _("The bot is disconnected. Its groups and their history stay."))
    return redirect("console:bot", slug=request.workspace.slug)


area = ConsoleArea(
    key="bot",
    routes=[
        path("bot/", bot_page, name="bot"),
        path("bot/connect/", bot_connect, name="bot_connect"),
        path("bot/test/", bot_test, name="bot_test"),
        path("bot/settings/", bot_settings, name="bot_settings"),
        path("bot/disconnect/", bot_disconnect, name="bot_disconnect"),
    ],
    menu=[MenuEntry(gettext_lazy("Bot"), "bot", order=100)],
)
