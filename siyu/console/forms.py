from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.groups.models import GroupKind


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or number"), required=False, max_length=100)
    group = forms.TypedChoiceField(label=_("Group"), required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label=_("Group kind"), required=False, choices=[("", _("Any kind")), *GroupKind.choices])
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", _("Any group")), *groups]


class GroupFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Group kind"), required=False, choices=[("", _("Any kind")), *GroupKind.choices])


class TimelineForm(forms.Form):
    before = forms.IntegerField(required=False, min_value=1)
