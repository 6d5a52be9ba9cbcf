"""Console pages of the group bot's rules: a group's bot settings, the workspace defaults, the moderation log.

Every page exists twice, for the workspace defaults (w/<slug>/bot/rules/…) and for one group
(w/<slug>/groups/<id>/bot/…); `group_id` is None for the first. Changing anything needs the owner,
admin or operator role; undoing a strike needs owner or admin.
"""
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.channels.matrix.models import MatrixAccount
from siyu.core.roles import ADMINS, OPERATORS
from siyu.groups import selectors as group_selectors
from siyu.groups import services
from siyu.groups.bot import welcome_payload
from siyu.groups.models import Announcement, BotSettings, Group, KeywordReply, ModerationRule, Strike

from .areas import ConsoleArea, MenuEntry
from .access import group_or_404, role_required, workspace_view
from .rule_forms import (
    AnnouncementForm, BotSettingsForm, KeywordReplyForm, ModerationRuleForm, ReplyTryForm, StrikeFilterForm,
    WelcomePreviewForm,
)
from .templatetags.console import channel_label

LOG_PAGE = 100
SAMPLE_NEWCOMERS = [{"id": "@xiaoming", "name": "小明", "number": 1024}, {"id": "@xiaohong", "name": "小红", "number": 1025}]


CHANGE_REFUSED = gettext_lazy("Only owners, admins and operators can change the bot's rules.")
change_required = role_required(OPERATORS, CHANGE_REFUSED)
change_posts_required = role_required(OPERATORS, CHANGE_REFUSED, methods=("POST",))


def _scope(request, group_id):
    """The group these rules are for, or None for the workspace defaults."""
    return group_or_404(request, group_id) if group_id is not None else None


def _page_url(request, group):
    if group is None:
        return reverse("console:bot_rules", args=[request.workspace.slug])
    return reverse("console:group_bot", args=[request.workspace.slug, group.pk])


def _channels(workspace):
    names = Group.objects.filter(workspace=workspace).order_by("channel").values_list("channel", flat=True).distinct()
    return [(name, channel_label(name)) for name in names]


def _page(request, group, *, settings_form=None, reply_form=None, rule_form=None, announcement_form=None, status=200):
    workspace = request.workspace
    effective = services.bot_settings_get(workspace=workspace, group=group)
    own_settings = group is None or effective.group_id == group.pk
    scope = {"group": group} if group else {"group__isnull": True}
    inherited = {"group__isnull": True} if group else {}  # used only for a group
    context = {
        "group": group,
        "base": _page_url(request, group),
        "can_change": request.staff_role.can_operate,
        "bot_connected": MatrixAccount.objects.filter(workspace=workspace, enabled=True).exists(),
        "own_settings": own_settings,
        "settings_form": _live_preview(request, group, settings_form or BotSettingsForm(instance=effective)),
        "reply_form": reply_form or KeywordReplyForm(),
        "rule_form": rule_form or ModerationRuleForm(),
        "announcement_form": announcement_form or AnnouncementForm(channels=None if group else _channels(workspace)),
        "replies": KeywordReply.objects.filter(workspace=workspace, **scope).order_by("priority", "id"),
        "moderation_rules": ModerationRule.objects.filter(workspace=workspace, **scope).order_by("id"),
        "inherited_replies": KeywordReply.objects.filter(workspace=workspace, **inherited).order_by("priority", "id") if group else (),
        "inherited_rules": ModerationRule.objects.filter(workspace=workspace, **inherited).order_by("id") if group else (),
        "announcements": Announcement.objects.filter(workspace=workspace, **scope).order_by("-active", "next_at", "-id")[:50],
        "preview": _preview(effective.welcome_text, effective.rules_text, group),
    }
    return render(request, "console/bot_rules.html", context, status=status)


def _live_preview(request, group, form):
    """Re-render the welcome preview (htmx) as the operator edits the welcome text or the rules."""
    url = _page_url(request, group) + "preview/"
    for name in ("welcome_text", "rules_text"):
        form.fields[name].widget.attrs.update({
            "hx-get": url, "hx-trigger": "input changed delay:300ms", "hx-target": "#welcome-preview",
            "hx-include": "[name=welcome_text],[name=rules_text]",
        })
    return form


def _preview(welcome_text, rules_text, group):
    sample = BotSettings(welcome_text=welcome_text, rules_text=rules_text)
    group = group or Group(name=_("Sample group"))
    return welcome_payload(group=group, bot_settings=sample, newcomers=SAMPLE_NEWCOMERS)["text"]


@workspace_view
@change_posts_required
def bot_rules(request, group_id=None):
    """The rules page; POST saves the bot settings (a group's first save gives it its own settings)."""
    group = _scope(request, group_id)
    if request.method != "POST":
        return _page(request, group)
    form = BotSettingsForm(request.POST, instance=services.bot_settings_get(workspace=request.workspace, group=group))
    if not form.is_valid():
        return _page(request, group, settings_form=form, status=400)
    services.bot_settings_save(workspace=request.workspace, group=group, values=form.cleaned_data)
    messages.success(request, _("Bot settings saved."))
    return redirect(_page_url(request, group))


@workspace_view
def welcome_preview(request, group_id=None):
    """The welcome as two sample newcomers would see it (htmx, as the operator types)."""
    group = _scope(request, group_id)
    form = WelcomePreviewForm(request.GET)
    if not form.is_valid():
        return render(request, "console/_welcome_preview.html", {"error": form.errors["welcome_text"][0]})
    text = _preview(form.cleaned_data["welcome_text"], form.cleaned_data["rules_text"], group)
    return render(request, "console/_welcome_preview.html", {"preview": text})


@workspace_view
def reply_try(request, group_id=None):
    """试一试 (htmx): which keyword reply answers a typed message and what it would say to a sample member.

    Nothing is sent or stored; everyone who sees the page may try.
    """
    group = _scope(request, group_id)
    form = ReplyTryForm(request.GET)
    if not form.is_valid():
        return render(request, "console/_reply_try.html", {"error": form.errors["text"][0]})
    text = form.cleaned_data["text"]
    if not text.strip():
        return render(request, "console/_reply_try.html", {})
    bot_settings = services.bot_settings_get(workspace=request.workspace, group=group)
    trial = group_selectors.keyword_reply_try(
        workspace=request.workspace, group=group, bot_settings=bot_settings, text=text, sender=SAMPLE_NEWCOMERS[0],
    )
    context = {"trial": trial, "sample": SAMPLE_NEWCOMERS[0], "cooldown": bot_settings.reply_cooldown_seconds}
    return render(request, "console/_reply_try.html", context)


@require_POST
@workspace_view
@change_required
def settings_reset(request, group_id):
    group = _scope(request, group_id)
    if services.bot_settings_reset(group=group):
        messages.success(request, _("This group now follows the workspace defaults."))
    return redirect(_page_url(request, group))


@require_POST
@workspace_view
@change_required
def recommended_rules(request):
    created = services.recommended_rules_create(workspace=request.workspace)
    messages.success(request, _("%(n)s recommended rules added.") % {"n": created})
    return redirect(_page_url(request, None))


# -- replies and moderation rules: the same add / edit / delete for both models --------------------

ITEM_KINDS = {
    "replies": (KeywordReply, KeywordReplyForm, "reply_form", gettext_lazy("Keyword reply saved."),
                gettext_lazy("Keyword reply deleted.")),
    "moderation-rules": (ModerationRule, ModerationRuleForm, "rule_form", gettext_lazy("Moderation rule saved."),
                         gettext_lazy("Moderation rule deleted.")),
}


def _item(request, group, model, pk):
    scope = {"group": group} if group else {"group__isnull": True}
    try:
        return model.objects.get(workspace=request.workspace, pk=pk, **scope)
    except model.DoesNotExist:
        raise Http404("No such rule.") from None


def _item_views(kind):
    model, form_class, form_name, saved, deleted = ITEM_KINDS[kind]

    @require_POST
    @workspace_view
    @change_required
    def add(request, group_id=None):
        group = _scope(request, group_id)
        form = form_class(request.POST, instance=model(workspace=request.workspace, group=group))
        if not form.is_valid():
            return _page(request, group, **{form_name: form}, status=400)
        services.rule_save(rule=form.save(commit=False))
        messages.success(request, saved)
        return redirect(_page_url(request, group))

    @workspace_view
    @change_posts_required
    def edit(request, pk, group_id=None):
        group = _scope(request, group_id)
        item = _item(request, group, model, pk)
        form = form_class(instance=item)
        if request.method == "POST":
            form = form_class(request.POST, instance=item)
            if form.is_valid():
                services.rule_save(rule=form.save(commit=False))
                messages.success(request, saved)
                return redirect(_page_url(request, group))
        context = {"group": group, "form": form, "item": item, "item_kind": model._meta.verbose_name,
                   "base": _page_url(request, group),
                   "can_change": request.staff_role.can_operate}
        return render(request, "console/bot_rule_edit.html", context, status=400 if form.errors else 200)

    @require_POST
    @workspace_view
    @change_required
    def delete(request, pk, group_id=None):
        group = _scope(request, group_id)
        services.rule_delete(rule=_item(request, group, model, pk))
        messages.success(request, deleted)
        return redirect(_page_url(request, group))

    return add, edit, delete


reply_add, reply_edit, reply_delete = _item_views("replies")
moderation_rule_add, moderation_rule_edit, moderation_rule_delete = _item_views("moderation-rules")


# -- announcements --------------------------------------------------------------------------------

@require_POST
@workspace_view
@change_required
def announcement_add(request, group_id=None):
    group = _scope(request, group_id)
    form = AnnouncementForm(request.POST, channels=None if group else _channels(request.workspace))
    if not form.is_valid():
        return _page(request, group, announcement_form=form, status=400)
    data = form.cleaned_data
    services.announcement_create(
        workspace=request.workspace, group=group, channel=data.get("channel", ""), text=data["text"], at=data["at"],
        repeat=data["repeat"], every_hours=data.get("every_hours"), created_by=request.user.get_username(),
    )
    messages.success(request, _("Announcement posted.") if data["at"] is None else _("Announcement scheduled."))
    return redirect(_page_url(request, group))


@require_POST
@workspace_view
@change_required
def announcement_action(request, pk, action, group_id=None):
    group = _scope(request, group_id)
    if action not in ("post", "stop"):
        raise Http404("No such action.")
    announcement = _item(request, group, Announcement, pk)
    if action == "post":
        services.announcement_post_now(announcement=announcement)
        messages.success(request, _("Announcement posted."))
    else:
        services.announcement_stop(announcement=announcement)
        messages.success(request, _("Announcement stopped."))
    return redirect(_page_url(request, group))


# -- moderation log -------------------------------------------------------------------------------

@workspace_view
def moderation_log(request):
    """Every rule match, newest first: who, what, which rule, strike n/N, what the bot did; undo for admins."""
    form = StrikeFilterForm(request.GET or None, groups=group_selectors.group_choices(workspace=request.workspace))
    strikes = Strike.objects.filter(workspace=request.workspace).select_related("member", "group").order_by("-id")
    filters = form.cleaned_data if form.is_valid() else {}
    if filters.get("group"):
        strikes = strikes.filter(group_id=filters["group"])
    if filters.get("before"):
        strikes = strikes.filter(id__lt=filters["before"])
    page = list(strikes[: LOG_PAGE + 1])
    next_before = page[LOG_PAGE - 1].pk if len(page) > LOG_PAGE else None
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form, "strikes": page[:LOG_PAGE], "next_before": next_before, "query": query.urlencode(),
        "can_undo": request.staff_role.is_admin,
    }
    return render(request, "console/moderation.html", context)


@require_POST
@workspace_view
@role_required(ADMINS, gettext_lazy("Only owners and admins can undo a strike."))
def strike_undo(request, pk):
    try:
        strike = Strike.objects.select_related("group", "workspace").get(workspace=request.workspace, pk=pk)
    except Strike.DoesNotExist:
        raise Http404("No such strike.") from None
    if services.strike_undo(strike=strike, by_user=request.user):
        messages.success(request, _("Strike undone: it no longer counts towards removal."))
    else:
        messages.info(request, _("This strike was already undone."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("console:moderation", args=[request.workspace.slug])
    return redirect(back)


def _both(suffix, view, name):
    """The same view for the workspace defaults and for one group."""
    return [
        path(f"bot/rules/{suffix}", view, name=f"bot_rules{name}"),
        path(f"groups/<int:group_id>/bot/{suffix}", view, name=f"group_bot{name}"),
    ]


area = ConsoleArea(
    key="bot_rules",
    routes=[
        *_both("", bot_rules, ""),
        *_both("preview/", welcome_preview, "_preview"),
        *_both("replies/try/", reply_try, "_reply_try"),
        *_both("replies/new/", reply_add, "_reply_add"),
        *_both("replies/<int:pk>/", reply_edit, "_reply"),
        *_both("replies/<int:pk>/delete/", reply_delete, "_reply_delete"),
        *_both("moderation-rules/new/", moderation_rule_add, "_rule_add"),
        *_both("moderation-rules/<int:pk>/", moderation_rule_edit, "_rule"),
        *_both("moderation-rules/<int:pk>/delete/", moderation_rule_delete, "_rule_delete"),
        *_both("announcements/new/", announcement_add, "_announcement_add"),
        *_both("announcements/<int:pk>/<str:action>/", announcement_action, "_announcement"),
        path("groups/<int:group_id>/bot/reset/", settings_reset, name="group_bot_reset"),
        path("bot/rules/recommended/", recommended_rules, name="bot_rules_recommended"),
        path("moderation/", moderation_log, name="moderation"),
        path("moderation/<int:pk>/undo/", strike_undo, name="strike_undo"),
    ],
    menu=[MenuEntry(gettext_lazy("Moderation"), "moderation", order=90, active=("moderation", "bot_rules"))],
)
