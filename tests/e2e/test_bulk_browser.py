"""Bulk actions on the members list in a real Chromium (issue 15.18), at a phone's and a laptop's size: an operator
ticks two rows (one already has the tag), tags them, undoes it (only the one who did not have it loses it), then
selects all that match the filter, confirms the count and sets their owner; all without a page reload, and the
page never wider than the screen."""
import pytest
from django.utils import translation

from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.members.models import Member, TagVia
from siyu.members.tags import tag_create, tags_apply
from tests.conftest import ev

from .helpers import PASSWORD, USERNAME, assert_not_reloaded, cell_texts, log_in, mark_document, screenshot, zh

pytestmark = pytest.mark.e2e


def zh_n(singular, plural, n, **values):
    with translation.override("zh-hans"):
        return translation.ngettext(singular, plural, n) % {"n": n, **values}


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    operator = staff_user_ensure(username=USERNAME, password=PASSWORD)
    staff_role_set(workspace=workspace, user=operator, role=Role.OPERATOR)
    ann = staff_user_ensure(username="ann", password=PASSWORD)
    staff_role_set(workspace=workspace, user=ann, role=Role.SALES)
    events_ingest(workspace=workspace, source="simulator",
                  events=[ev("group.joined", n, actor=f"p{n}", group="g1", minutes=n) for n in range(3)])
    vip = tag_create(workspace=workspace, name="VIP")
    first = Member.objects.get(workspace=workspace, number=1)
    tags_apply(workspace=workspace, pairs=[(first.pk, vip.pk)], via=TagVia.MANUAL)
    return {"vip": str(vip.pk), "ann": str(ann.pk)}


def _no_sideways_overflow(page):
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)""")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"wider than the screen: {wide[:8]}"


@pytest.mark.parametrize("width, height", [(390, 844), (1440, 900)])
def test_select_tag_undo_and_set_the_owner_of_all_that_match(page, community, live_server, width, height):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": height})
    page.goto("/login/")
    log_in(page)
    expect(page.locator("h1")).to_contain_text(zh("Dashboard"))
    page.goto("/w/flowers/members/")
    _no_sideways_overflow(page)
    mark_document(page)
    outcome = page.locator(".bulk-outcome")

    with translation.override("zh-hans"):
        pick = [translation.gettext("Select #%(number)s") % {"number": n} for n in (1, 2)]
    for label in pick:
        page.get_by_label(label, exact=True).check()
    expect(page.locator("[data-selected-count]")).to_have_text(zh("Selected on this page: {n}").replace("{n}", "2"))
    page.locator("#bulk-form select[name=tags]").select_option([community["vip"]])
    page.get_by_role("button", name=zh("Add tags"), exact=True).click()
    selected = zh_n("%(n)s member selected", "%(n)s members selected", 2)
    expect(outcome).to_contain_text(zh_n("%(n)s tag given", "%(n)s tags given", 1))
    expect(outcome).to_contain_text(selected)
    _no_sideways_overflow(page)
    screenshot(page, f"bulk-tagged-{width}")

    outcome.get_by_role("button", name=zh_n("Undo (%(n)s tag)", "Undo (%(n)s tags)", 1)).click()
    expect(outcome).to_contain_text(zh_n("Undone: %(n)s tag restored.", "Undone: %(n)s tags restored.", 1))
    page.goto("/w/flowers/members/?tag=" + community["vip"])  # who has the tag now: only #1, who had it before
    expect(page.locator("#member-rows tr")).to_have_count(1)
    expect(page.locator("#member-rows tr").first).to_contain_text("#1")

    page.goto("/w/flowers/members/")
    mark_document(page)
    page.locator("input[data-select-matching]").check()
    page.locator("#bulk-form select[name=owner]").select_option(community["ann"])
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name=zh("Set owner"), exact=True).click()
    expect(outcome).to_contain_text(zh_n("%(n)s member has a new owner", "%(n)s members have a new owner", 3))
    assert dialogs == [zh_n("Apply this to the %(n)s member that matches the filter?",
                            "Apply this to all %(n)s members that match the filter?", 3)]
    rows = page.locator("#member-rows tr")
    assert cell_texts(rows, 6) == ["ann", "ann", "ann"]  # the owner column, after the checkbox column
    assert_not_reloaded(page)
    _no_sideways_overflow(page)
    screenshot(page, f"bulk-owner-{width}")
