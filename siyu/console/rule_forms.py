"""Forms of the bot's rule pages: each validates with the same checks the bot relies on (siyu.groups.rules)."""
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siyu.groups import rules
from siyu.groups.models import BotSettings, KeywordReply, ModerationRule, Repeat

from .forms import MomentField

TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _variables(value, allowed):
    if message := rules.variables_error(value, allowed):
        raise forms.ValidationError(message)
    return value


class BotSettingsForm(forms.ModelForm):
    class Meta:
        model = BotSettings
        fields = [
            "welcome_enabled", "welcome_text", "welcome_window_seconds", "welcome_max_wait_seconds", "welcome_rejoin_seconds",
            "rules_text",
            "quiet_start", "quiet_end", "strike_limit", "strike_days", "bar_on_removal", "warning_text",
            "allowed_domains", "reply_cooldown_seconds",
        ]
        widgets = {
            "welcome_text": forms.Textarea(attrs={"rows": 4}),
            "rules_text": forms.Textarea(attrs={"rows": 3}),
            "warning_text": forms.Textarea(attrs={"rows": 2}),
            "allowed_domains": forms.Textarea(attrs={"rows": 3, "placeholder": "example.com"}),
            "quiet_start": TIME_INPUT,
            "quiet_end": TIME_INPUT,
        }

    def clean_welcome_text(self):
        return _variables(self.cleaned_data["welcome_text"], rules.WELCOME_VARIABLES)

    def clean_warning_text(self):
        return _variables(self.cleaned_data["warning_text"], rules.WARNING_VARIABLES)


class KeywordReplyForm(forms.ModelForm):
    class Meta:
        model = KeywordReply
        fields = ["match", "pattern", "reply", "mention_asker", "priority", "enabled"]
        widgets = {"reply": forms.Textarea(attrs={"rows": 2})}

    def clean_reply(self):
        return _variables(self.cleaned_data["reply"], rules.REPLY_VARIABLES)


class ModerationRuleForm(forms.ModelForm):
    class Meta:
        model = ModerationRule
        fields = [
            "name", "kind", "words", "delete_message", "warn", "count_strike", "bar_on_removal", "applies_to_staff", "enabled",
        ]
        widgets = {"words": forms.Textarea(attrs={"rows": 3})}


class AnnouncementForm(forms.Form):
    """Set now, or at a time (the workspace's local time), once or repeated."""
    fields: dict[str, Any]  # the page sets `choices` on its choice fields

    WHEN = [("now", _("Now")), ("at", _("At a time"))]

    text = forms.CharField(label=_("Announcement"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    when = forms.ChoiceField(label=_("When"), choices=WHEN, initial="now", widget=forms.RadioSelect)
    at = MomentField(
        label=_("At"), required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    repeat = forms.ChoiceField(label=_("Repeat"), choices=Repeat.choices, initial=Repeat.NONE)
    every_hours = forms.IntegerField(label=_("Every N hours"), required=False, min_value=1, max_value=24 * 28)
    channel = forms.ChoiceField(label=_("Every active group on"), required=False)

    def __init__(self, *args, channels=None, **kwargs):
        super().__init__(*args, **kwargs)
        if channels is None:
            del self.fields["channel"]  # a group's page: the announcement is for that group
        else:
            self.fields["channel"].choices = channels
            self.fields["channel"].required = True

    def clean(self):
        data = super().clean() or self.cleaned_data
        if data.get("when") == "at":
            at = data.get("at")
            if at is None:
                self.add_error("at", _("Give the day and time to post it, or choose “Now”."))
            elif at < timezone.now() - timedelta(minutes=1):
                self.add_error("at", _("This time has passed; choose a time in the future or “Now”."))
        else:
            data["at"] = None
        if data.get("repeat") == Repeat.HOURS and not data.get("every_hours"):
            self.add_error("every_hours", _("Say every how many hours it repeats."))
        return data


class StrikeFilterForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    group = forms.TypedChoiceField(label=_("Group"), required=False, coerce=int, empty_value=None)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", _("Any group")), *groups]


class WelcomePreviewForm(forms.Form):
    welcome_text = forms.CharField(required=False, max_length=2000)
    rules_text = forms.CharField(required=False, max_length=2000)

    def clean_welcome_text(self):
        return _variables(self.cleaned_data["welcome_text"], rules.WELCOME_VARIABLES)


class ReplyTryForm(forms.Form):
    """A message typed into the keyword-reply tester, kept as written (the bot sees it unstripped too)."""

    text = forms.CharField(required=False, max_length=4000, strip=False)
