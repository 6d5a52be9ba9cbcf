from datetime import date, datetime
from datetime import timezone as dt_timezone
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from siyu.groups.models import GroupKind


# Days and moments an operator may type: near year 1 or 9999 day arithmetic overflows (the dashboard's
# period before, a local day's start in UTC), and the ledger holds nothing before 2000 (core.ingest.EARLIEST).
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2099, 12, 31)
DAY_RANGE = _("Choose a day from 2000-01-01 to 2099-12-31.")


class DayField(forms.DateField):
    """A DateField bounded to EARLIEST_DAY … LATEST_DAY, with a translated message outside them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [MinValueValidator(EARLIEST_DAY, DAY_RANGE), MaxValueValidator(LATEST_DAY, DAY_RANGE)])
        super().__init__(**kwargs)


class MomentField(forms.DateTimeField):
    """A DateTimeField bounded like DayField (compared as aware moments, which cannot overflow)."""

    def __init__(self, **kwargs: Any) -> None:
        earliest = datetime.combine(EARLIEST_DAY, datetime.min.time(), tzinfo=dt_timezone.utc)
        latest = datetime.combine(LATEST_DAY, datetime.max.time(), tzinfo=dt_timezone.utc)
        kwargs.setdefault("validators", [MinValueValidator(earliest, DAY_RANGE), MaxValueValidator(latest, DAY_RANGE)])
        super().__init__(**kwargs)


class MemberFilterForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    q = forms.CharField(label=_("Name or number"), required=False, max_length=100)
    group = forms.TypedChoiceField(label=_("Group"), required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label=_("Group kind"), required=False, choices=[("", _("Any kind")), *GroupKind.choices])
    # A slice of the dashboard's tier charts: "activity_tier:core", "pyramid:pool", …
    segment = forms.ChoiceField(label=_("Tier or type"), required=False)
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)
    saved = forms.TypedChoiceField(label=_("Segment"), required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=[
        ("new", _("Newest first")), ("old", _("Oldest first")), ("last_seen", _("Last seen")),
        ("messages", _("Most messages")), ("spend", _("Highest spend")),
    ])
    # Staff (the bot, group owners and admins, marked ones) are no members: shown only when asked.
    staff = forms.BooleanField(label=_("Show staff"), required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    start = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, groups=(), segments=(), tags=(), saved=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", _("Any group")), *groups]
        self.fields["segment"].choices = [("", _("Any tier or type")), *segments]
        self.fields["tag"].choices = [("", _("Any tag")), *tags]
        self.fields["saved"].choices = [("", _("Any segment")), *saved]


class GroupFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Group kind"), required=False, choices=[("", _("Any kind")), *GroupKind.choices])


class TimelineForm(forms.Form):
    before = forms.IntegerField(required=False, min_value=1)


PERIODS = [("7", _("Last 7 days")), ("30", _("Last 30 days")), ("90", _("Last 90 days")), ("custom", _("Custom"))]
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD = "30"


class PeriodForm(forms.Form):
    """A period of local days ending today (or custom), and the one just before it for comparison."""

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    start = DayField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean() or self.cleaned_data
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("A custom period needs a start and an end day."))
            if start > end:
                raise forms.ValidationError(_("The start day must not be after the end day."))
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("A period can be at most %(n)s days long.") % {"n": MAX_PERIOD_DAYS})
        return data

    def days(self):
        """(first, last, previous first, previous last) of the chosen period; 30 days if none or invalid."""
        from datetime import timedelta

        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if data.get("period") == "custom":
            first, last = data["start"], data["end"]
        else:
            length = int(data.get("period") or DEFAULT_PERIOD)
            last = self.today
            first = last - timedelta(days=length - 1)
        span = (last - first).days + 1
        return first, last, first - timedelta(days=span), first - timedelta(days=1)


class EventFilterForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    type = forms.MultipleChoiceField(label=_("Types"), required=False)
    group = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    member = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    start = DayField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from siyu.core.events import EVENT_LABELS

        self.fields["type"].choices = [(t.key, label) for t, label in EVENT_LABELS.items()]
