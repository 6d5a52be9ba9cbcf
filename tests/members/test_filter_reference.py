"""The filter language's conditions come from a registry; docs/members.md's reference is that registry."""
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from siyu.members.filters import CONDITIONS, Condition, FilterError, condition_register, filter_compile, filter_reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "members.md"


def test_the_docs_filter_reference_is_the_registered_conditions():
    text = DOCS.read_text()
    start = text.index("-->\n", text.index("<!-- filter-reference")) + 4
    end = text.index("<!-- /filter-reference -->")
    assert text[start:end] == filter_reference()


def test_each_app_registers_the_conditions_over_what_it_holds():
    by_app = {}
    for key, condition in CONDITIONS.items():
        by_app.setdefault(condition.app, []).append(key)
    assert by_app == {
        "members": ["tag", "count", "field", "seen", "owner", "staff", "source"],
        "groups": ["group", "group_kind"],
        "links": ["clicked"],
        "analytics": ["model", "bought", "campaign"],
    }


def test_a_key_belongs_to_one_app():
    with pytest.raises(ImproperlyConfigured):
        condition_register(Condition(key="group", compile=lambda leaf: None, examples=(), meaning="", app="campaigns"))
    with pytest.raises(ImproperlyConfigured):
        condition_register(Condition(key="not", compile=lambda leaf: None, examples=(), meaning="", app="campaigns"))


def test_registered_conditions_validate_and_say_where(workspace):
    with pytest.raises(FilterError, match="all.1"):
        filter_compile(workspace=workspace, filter={"all": [{"group_kind": "perks"}, {"model": "mood"}]})
    assert filter_compile(workspace=workspace, filter={"model": "activity_tier", "value": "silent"}).time_dependent
    assert not filter_compile(workspace=workspace, filter={"any": [{"group": 1}, {"clicked": 2}, {"bought": "x"}]}).time_dependent
