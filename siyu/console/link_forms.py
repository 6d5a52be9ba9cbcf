"""Forms of the short-link and channel-code pages.

They only parse what the browser sends (numbers, dates, lists of tags); every rule about targets,
slugs, validity and capacities lives in siyu.links.services, whose ValidationErrors
console.access.errors_show puts on the form next to the field they are about.
"""
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.links.models import Strategy
from siyu.links.posters import POSITIONS, PosterLayout
from siyu.links.services import COUNT_MAX, UTM_FIELDS

from .forms import MomentField

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
STATUSES = [
    ("", _("Any status")), ("live", _("Live")), ("scheduled", _("Not yet valid")), ("expired", _("Expired")),
    ("exhausted", _("Visits used up")), ("disabled", _("Disabled")),
]


def _choices(empty, rows):
    return [("", empty), *rows]


class LinkFilterForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    q = forms.CharField(label=_("Search"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"placeholder": _("slug, target, campaign"), "type": "search"}))
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUSES)

    def __init__(self, *args, tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = _choices(_("Any tag"), [(t, t) for t in tags])


class LinkForm(forms.Form):
    """A short link's fields; `slug` and `domain` only when creating (a printed QR must not change)."""
    fields: dict[str, Any]  # the page sets `choices` on its choice fields

    target_url = forms.CharField(label=_("Target URL"), max_length=2000,
                                 widget=forms.URLInput(attrs={"placeholder": "https://", "size": 60}))
    slug = forms.CharField(label=_("Custom slug"), required=False, max_length=64,
                           help_text=_("Leave empty for a generated one of 7 characters."))
    domain = forms.TypedChoiceField(label=_("Domain"), required=False, coerce=int, empty_value=None)
    utm_source = forms.CharField(label=_("UTM source"), required=False, max_length=100,
                                 widget=forms.TextInput(attrs={"placeholder": "wechat"}))
    utm_medium = forms.CharField(label=_("UTM medium"), required=False, max_length=100,
                                 widget=forms.TextInput(attrs={"placeholder": "poster"}))
    utm_campaign = forms.CharField(label=_("UTM campaign"), required=False, max_length=100)
    utm_term = forms.CharField(label=_("UTM term"), required=False, max_length=100)
    utm_content = forms.CharField(label=_("UTM content"), required=False, max_length=100)
    valid_from = MomentField(label=_("Valid from"), required=False, input_formats=DATETIME_FORMATS,
                                     widget=DATETIME_INPUT)
    valid_until = MomentField(label=_("Valid until"), required=False, input_formats=DATETIME_FORMATS,
                                      widget=DATETIME_INPUT)
    max_visits = forms.IntegerField(label=_("Maximum visits"), required=False, max_value=COUNT_MAX,
                                    help_text=_("Empty: no limit."))
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500,
                           help_text=_("Separated by commas."))
    group = forms.TypedChoiceField(label=_("Group"), required=False, coerce=int, empty_value=None,
                                   help_text=_("Visits of this link count as the group's exposures."))
    campaign = forms.CharField(label=_("Campaign"), required=False, max_length=100)
    channel = forms.CharField(label=_("Channel"), required=False, max_length=100,
                              help_text=_("Where the link is placed: its channel."))
    fallback_url = forms.CharField(label=_("Fallback URL"), required=False, max_length=2000,
                                   help_text=_("Where expired, exhausted or disabled visits go instead of Siyu's page."))

    def __init__(self, *args, groups=(), domains=(), creating=True, preview_url=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = _choices(_("No group"), groups)
        if preview_url:
            # The UTM builder's preview of the final URL follows the target and the UTM fields (htmx).
            sources = ("target_url", *UTM_FIELDS)
            for name in sources:
                self.fields[name].widget.attrs.update({
                    "hx-get": preview_url, "hx-trigger": "input changed delay:300ms", "hx-target": "#utm-preview",
                    "hx-include": ",".join(f"[name={n}]" for n in sources),
                })
        if creating:
            self.fields["domain"].choices = _choices(_("This site (/s/…)"), domains)
        else:
            del self.fields["slug"], self.fields["domain"]

    def clean_tags(self):
        return [t.strip() for t in self.cleaned_data["tags"].replace("，", ",").split(",") if t.strip()]

    def clean_slug(self):
        return self.cleaned_data["slug"].strip() or None

    def service_fields(self):
        """The cleaned fields as the links services take them."""
        data = dict(self.cleaned_data)
        data["utm"] = {name: data.pop(name) for name in UTM_FIELDS}
        return data


class UtmPreviewForm(forms.Form):
    """What the UTM builder's live preview reads: the target and the UTM fields, nothing validated yet."""

    target_url = forms.CharField(required=False, max_length=2000)
    utm_source = forms.CharField(required=False, max_length=100)
    utm_medium = forms.CharField(required=False, max_length=100)
    utm_campaign = forms.CharField(required=False, max_length=100)
    utm_term = forms.CharField(required=False, max_length=100)
    utm_content = forms.CharField(required=False, max_length=100)


class ChannelCodeForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    name = forms.CharField(label=pgettext_lazy("a channel code's name", "Name"), max_length=100)
    strategy = forms.ChoiceField(label=_("Strategy"), choices=Strategy.choices, initial=Strategy.NEXT_WHEN_FULL)
    backup_url = forms.CharField(label=_("Backup URL"), required=False, max_length=2000,
                                 help_text=_("Where visitors go when every target is full."))
    slug = forms.CharField(label=_("Custom slug"), required=False, max_length=64,
                           help_text=_("Leave empty for a generated one of 7 characters."))
    domain = forms.TypedChoiceField(label=_("Domain"), required=False, coerce=int, empty_value=None)
    auto_create_group = forms.BooleanField(label=_("Create the next group when the last one fills"), required=False,
                                           help_text=_("Only on channels that can create groups (Matrix)."))
    campaign = forms.CharField(label=_("Campaign"), required=False, max_length=100)
    channel = forms.CharField(label=_("Channel"), required=False, max_length=100)

    def __init__(self, *args, domains=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = _choices(_("This site (/s/…)"), domains)

    def clean_slug(self):
        return self.cleaned_data["slug"].strip() or None


class CodeTargetForm(forms.Form):
    fields: dict[str, Any]  # the page sets `choices` on its choice fields
    group = forms.TypedChoiceField(label=_("Group"), required=False, coerce=int, empty_value=None)
    url = forms.CharField(label=_("URL"), max_length=2000, help_text=_("Usually the group's invite link."),
                          widget=forms.URLInput(attrs={"placeholder": "https://", "size": 50}))
    capacity = forms.IntegerField(label=_("Capacity"), required=False, max_value=COUNT_MAX,
                                  help_text=_("Empty: the group's capacity (members), else 200 visitors."))
    weight = forms.IntegerField(label=_("Weight"), required=False, initial=1, max_value=COUNT_MAX)
    daily_cap = forms.IntegerField(label=_("Daily cap"), required=False, max_value=COUNT_MAX, help_text=_("Visitors a day at most."))

    def __init__(self, *args, groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = _choices(_("No group"), groups)

    def clean_weight(self):
        weight = self.cleaned_data["weight"]
        return 1 if weight is None else weight


class PosterForm(forms.Form):
    """What a poster download asks for: its text, size, where the QR goes, a background, a member."""
    fields: dict[str, Any]  # the page sets `choices` on its choice fields

    SIZES = {"1080x1920": (1080, 1920), "1080x1440": (1080, 1440), "1200x1200": (1200, 1200), "2480x3508": (2480, 3508)}
    POSITION_LABELS = {
        "bottom-center": _("Bottom centre"), "center": _("Centre"), "bottom-right": _("Bottom right"),
        "bottom-left": _("Bottom left"), "top-right": _("Top right"),
    }

    text = forms.CharField(label=_("Text"), max_length=40, required=False, initial="扫码进群")
    size = forms.ChoiceField(label=_("Size"), choices=[
        ("1080x1920", _("Phone screen 1080×1920")), ("1080x1440", _("3:4 1080×1440")),
        ("1200x1200", _("Square 1200×1200")), ("2480x3508", _("A4 print 2480×3508")),
    ])
    position = forms.ChoiceField(label=_("QR position"))
    background = forms.FileField(label=_("Background image"), required=False,
                                 help_text=_("PNG, JPEG or WebP; empty: Siyu's own background."))
    member = forms.IntegerField(label=_("Member number"), required=False, min_value=1,
                                help_text=_("A poster of this member's own: visits through it are credited to them."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].choices = [(key, self.POSITION_LABELS[key]) for key in POSITIONS]

    def layout(self):
        """The PosterLayout the fields ask for: the QR a little over half the shorter side, the text above."""
        width, height = self.SIZES[self.cleaned_data["size"]]
        position = self.cleaned_data["position"]
        qr_size = min(width, height) * 13 // 25
        text_height = height // 14
        text_top = height // 6 if not position.startswith("top") else height * 3 // 4
        layout = PosterLayout(width=width, height=height, qr_size=qr_size, position=position, text_top=text_top,
                              text_height=text_height)
        try:
            layout.check()
        except ValidationError as error:
            self.add_error("position", error)
            return None
        return layout
