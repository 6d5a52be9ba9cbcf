"""The console in a real browser: Playwright's sync API drives Debian's Chromium against `live_server`.

Each test builds a small simulated community of its own (well under a second) because `live_server`
makes pytest-django use `transactional_db`, which empties every table after each test.

Playwright's sync API runs an asyncio event loop on the test's thread for as long as it is started,
and Django refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation). So no
ORM call happens while the browser runs: the `community` fixture creates the data and works out
everything the tests expect *before* the `page` fixture (conftest.py) starts Playwright, and the
`page` fixture stops Playwright before pytest-django flushes the database (fixtures tear down in
reverse order). That keeps DJANGO_ALLOW_ASYNC_UNSAFE out of the suite. The live server answers from
its own thread, which has no event loop.

Screenshots, one per scenario, go to <SIYU_VAR_DIR>/screenshots/ (var/test/screenshots/ by default).
"""
import re
from types import SimpleNamespace

import pytest
from django.db.models import Count
from django.utils import timezone

from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Event, Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.groups import selectors as group_selectors
from siyu.groups.models import Group, GroupKind, Membership, MembershipRole
from siyu.members.models import Member

from .helpers import (
    PAGE,
    PASSWORD,
    USERNAME,
    assert_not_reloaded,
    cell_texts,
    chinese,
    log_in,
    mark_document,
    nav_to,
    open_logged_in,
    screenshot,
    zh,
    zh_label,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db):
    """Three workspaces: the user owns "flowers" (simulated, 6 groups, 300 members), views "books",
    has no role in "others". Returns what the pages should show, read from the database now."""
    flowers = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    books = workspace_create(slug="books", name="读书会", time_zone="Asia/Shanghai")
    others = workspace_create(slug="others", name="别人的社群", time_zone="Asia/Shanghai")
    for ws, size in ((flowers, dict(groups=6, members=300, days=20)), (books, dict(groups=3, members=40, days=5)),
                     (others, dict(groups=2, members=20, days=3))):
        simulation_run(workspace=ws, plan=simulation_plan(workspace=ws, seed=7, **size))
    user = staff_user_ensure(username=USERNAME, password=PASSWORD)
    staff_role_set(workspace=flowers, user=user, role=Role.OWNER)
    staff_role_set(workspace=books, user=user, role=Role.VIEWER)

    today = timezone.now().astimezone(flowers.tz).date()
    groups = group_selectors.group_list(workspace=flowers, today=today)
    books_groups = [g.name for g in Group.objects.filter(workspace=books).order_by("kind", "name")]

    # Scenario 3: the member with the most events (a timeline longer than a page, so "Older events"
    # is there to click) and the biggest group they are in now.
    events = dict(Event.objects.filter(workspace=flowers).values("member").annotate(n=Count("id")).values_list("member", "n"))
    current = Membership.objects.filter(workspace=flowers, left_at__isnull=True).select_related("member")
    talker = max((s.member for s in current), key=lambda m: (events.get(m.pk, 0), -m.number))
    assert events[talker.pk] > PAGE, "someone should have more than a page of events"
    now = {g.pk: g for g in groups}
    busy = max((now[s.group_id] for s in current if s.member_id == talker.pk), key=lambda g: g.members_now)
    stays = group_selectors.group_members(group=busy)

    # Scenario 4: a member to search for, and a kind of group with fewer current members than a page.
    by_kind = {}
    for kind, number in Membership.objects.filter(workspace=flowers, left_at__isnull=True, member__is_staff=False).values_list(
        "group__kind", "member__number"
    ):
        by_kind.setdefault(kind, set()).add(number)
    kind = max((k for k, numbers in by_kind.items() if 0 < len(numbers) < PAGE), key=lambda k: len(by_kind[k]))
    numbers = list(Member.objects.filter(workspace=flowers, is_staff=False).order_by("-number").values_list("number", flat=True))
    assert len(numbers) > 2 * PAGE, "the simulated community should need more than two pages"
    target = Member.objects.get(workspace=flowers, number=numbers[len(numbers) // 2])

    return SimpleNamespace(
        flowers=flowers, books=books, others=others,
        books_groups=books_groups,
        others_group_id=Group.objects.filter(workspace=others).values_list("pk", flat=True).first(),
        groups=[(g.name, g.members_now) for g in groups],
        busy=SimpleNamespace(
            pk=busy.pk, name=busy.name, members_now=busy.members_now,
            roles=[(s.member.number, s.role, zh_label(MembershipRole(s.role))) for s in stays],
        ),
        talker=SimpleNamespace(
            number=talker.number, name=talker.display_name, events=events.get(talker.pk, 0),
            identities=list(talker.identities.order_by("channel", "created_at").values_list("external_id", flat=True)),
            groups=sorted({s.group.name for s in group_selectors.member_stays(member=talker)}),
        ),
        target=SimpleNamespace(number=target.number, name=target.display_name),
        kind=SimpleNamespace(value=kind, label=zh_label(GroupKind(kind)), numbers=by_kind[kind]),
        numbers=numbers,
    )


def open_groups(page, live_server):
    """Log in, then go from the dashboard to the first workspace's groups list by the nav link."""
    from playwright.sync_api import expect

    open_logged_in(page, live_server)
    nav_to(page, live_server, zh("Groups"), "/w/flowers/groups/")
    expect(page.locator("h1")).to_contain_text(zh("Groups"))


# (1) Log in -----------------------------------------------------------------------------------

def test_wrong_password_shows_a_chinese_error_then_the_right_one_opens_the_console(page, community, live_server):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    log_in(page, password="not-the-password")
    expect(page.locator(".errors")).to_have_text("请输入一个正确的用户名和密码。注意，两者都区分大小写。")
    expect(page.locator("input[name=username]")).to_have_value(USERNAME)
    expect(page).to_have_url(re.compile(r"/login/"))

    log_in(page)
    # The landing page is the dashboard; the nav link "社群" leads to the groups list.
    expect(page).to_have_url(f"{live_server.url}/w/flowers/")
    expect(page.locator("h1")).to_contain_text(zh("Dashboard"))
    expect(page.locator("h1 small")).to_have_text("花园私域")
    assert chinese(zh("Dashboard")) and chinese(page.locator("h1").inner_text())
    expect(page.locator("nav.main-nav a.on")).to_have_text(zh("Dashboard"))

    nav_to(page, live_server, zh("Groups"), "/w/flowers/groups/")
    expect(page.locator("h1")).to_contain_text(zh("Groups"))
    expect(page.locator("nav.main-nav a.on")).to_have_text(zh("Groups"))
    assert chinese(zh("Groups")) and chinese(page.locator("main thead").inner_text())
    expect(page.locator("h1 small")).to_have_text("花园私域")
    rows = page.locator("main table.data tbody tr")
    expect(rows).to_have_count(len(community.groups))
    shown = list(zip(rows.locator("td:first-child a").all_inner_texts(), map(int, cell_texts(rows, 4))))
    assert shown == community.groups
    assert sum(n for _, n in shown) > 0
    screenshot(page, "1-login-groups")


# (2) Language switch --------------------------------------------------------------------------

def test_the_header_select_switches_to_english_and_back(page, community, live_server):
    from playwright.sync_api import expect

    open_groups(page, live_server)
    language = page.locator("header select[name=language]")
    expect(language.locator("option:checked")).to_have_text("简体中文")

    language.select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{live_server.url}/w/flowers/groups/")  # back on the page we were on
    expect(page.locator("h1")).to_contain_text("Groups")
    expect(page.locator("main th").nth(3)).to_have_text("Members now")
    expect(page.locator("nav.main-nav")).to_contain_text("Members")
    expect(language.locator("option:checked")).to_have_text("English")
    page.locator("nav.main-nav a", has_text="Members").click()  # the choice sticks across pages
    expect(page.locator("h1")).to_contain_text("Members")
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    screenshot(page, "2-language-english")

    page.locator("header select[name=language]").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(f"{live_server.url}/w/flowers/members/")
    expect(page.locator("header select[name=language] option:checked")).to_have_text("简体中文")
    expect(page.locator("h1")).to_contain_text(zh("Members"))
    assert chinese(page.locator("h1").inner_text()) and chinese(page.locator("nav.main-nav").inner_text())
    expect(page.get_by_role("button", name="Search")).to_have_count(0)


# (3) Group page and member page ---------------------------------------------------------------

def test_a_group_shows_its_members_with_roles_and_a_member_shows_identities_stays_and_timeline(page, community, live_server):
    from playwright.sync_api import expect

    busy, talker = community.busy, community.talker
    open_groups(page, live_server)
    page.get_by_role("link", name=busy.name, exact=True).click()

    expect(page.locator("h1")).to_contain_text(busy.name)
    members = page.locator("main .cols section").first.locator("table tbody tr")
    expect(members).to_have_count(len(busy.roles))  # everyone in the group, staff too (members_now leaves staff out)
    # Staff roles first: the owner, then the admin, each with its label and colour class.
    numbers = [int(t.lstrip("#")) for t in cell_texts(members, 1)]
    roles = cell_texts(members, 3)
    assert list(zip(numbers, roles)) == [(n, label) for n, _, label in busy.roles]
    assert roles[0] == zh_label(MembershipRole.OWNER) == "群主"
    assert roles[1] == zh_label(MembershipRole.ADMIN) and all(chinese(r) for r in roles)
    expect(members.first.locator(".role")).to_have_class(re.compile(r"\brole-owner\b"))
    expect(members.nth(1).locator(".role")).to_have_class(re.compile(r"\brole-admin\b"))

    members.get_by_role("link", name=f"#{talker.number}", exact=True).click()
    expect(page.locator("h1")).to_contain_text(talker.name)
    expect(page.locator("h1 small")).to_have_text(f"#{talker.number}")
    left = page.locator("main .cols section").first
    identities, stays = left.locator("table").nth(0), left.locator("table").nth(1)
    expect(identities.locator("tbody tr")).to_have_count(len(talker.identities))
    expect(identities.locator("code")).to_have_text(talker.identities)
    assert sorted(set(stays.locator("tbody td:first-child a").all_inner_texts())) == talker.groups
    expect(stays.locator("tbody tr", has_text=busy.name).first).to_contain_text(zh("still in"))

    timeline = page.locator("#timeline")
    entries = timeline.locator("li:not(.more)")
    older = timeline.get_by_role("link", name=zh("Older events"))
    expect(page.locator("main h2")).to_have_text(
        [zh("Contact details"), zh("Tags"), zh("Identities"), zh("Groups, past and present"), zh("Timeline")]
    )
    assert all(chinese(t) for t in page.locator("main h2").all_inner_texts())
    # A page of events and "Older events", which appends the next page in place (htmx).
    expect(entries).to_have_count(PAGE)
    assert chinese(older.inner_text())
    first_page = entries.locator("time").all_inner_texts()
    mark_document(page)
    with page.expect_request(lambda r: "before=" in r.url and r.headers.get("hx-request") == "true"):
        older.click()
    expect(entries).to_have_count(min(talker.events, 2 * PAGE))
    expect(older).to_have_count(1 if talker.events > 2 * PAGE else 0)
    assert_not_reloaded(page)
    times = entries.locator("time").all_inner_texts()
    assert times[:PAGE] == first_page, "the first page of the timeline changed"
    assert times == sorted(times, reverse=True), "the appended events are not older than the first page"
    screenshot(page, "3-member-timeline")


# (4) Members list: search, filter, show more --------------------------------------------------

def test_members_search_filter_and_show_more_update_in_place(page, community, live_server):
    from playwright.sync_api import expect

    open_logged_in(page, live_server)
    nav_to(page, live_server, zh("Members"), "/w/flowers/members/")
    rows = page.locator("#member-rows > tr:not(.more)")
    more = page.locator("#member-rows > tr.more a")
    expect(rows).to_have_count(PAGE)
    expect(more).to_have_count(1)
    mark_document(page)

    # Search by number: the results swap in via htmx, the address bar follows.
    target = community.target
    with page.expect_response(lambda r: f"q={target.number}" in r.url and r.request.headers.get("hx-request") == "true"):
        page.locator("input[name=q]").fill(str(target.number))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{target.number}")
    expect(rows.first).to_contain_text(target.name)
    expect(page).to_have_url(re.compile(rf"[?&]q={target.number}\b"))
    assert_not_reloaded(page)

    # Clear the search, filter by a group kind.
    page.locator("input[name=q]").fill("")
    expect(rows).to_have_count(PAGE)
    page.locator("select[name=kind]").select_option(community.kind.value)
    kind = community.kind
    expect(rows).to_have_count(len(kind.numbers))
    assert {int(t.lstrip("#")) for t in cell_texts(rows, 2)} == kind.numbers  # column 1: the bulk checkboxes
    expect(more).to_have_count(0)
    expect(page.locator("select[name=kind] option:checked")).to_have_text(kind.label)
    assert_not_reloaded(page)

    # Any kind again, then "Show more" appends the next page under the first.
    page.locator("select[name=kind]").select_option("")
    expect(rows).to_have_count(PAGE)
    more.click()
    expect(rows).to_have_count(2 * PAGE)
    shown = [int(t.lstrip("#")) for t in cell_texts(rows, 2)]
    assert shown == community.numbers[: 2 * PAGE]
    expect(more).to_have_count(1 if len(community.numbers) > 2 * PAGE else 0)
    assert_not_reloaded(page)
    screenshot(page, "4-members-show-more")


# (5) Workspace switcher and a workspace without a role ----------------------------------------

def test_the_switcher_moves_between_workspaces_and_a_foreign_workspace_is_404(page, community, live_server):
    from playwright.sync_api import expect

    open_logged_in(page, live_server)
    switcher = page.locator("header .switcher select")
    # Only the two workspaces with a role, by name, each with the user's role there.
    expect(switcher.locator("option")).to_have_text(
        [f"花园私域 · {zh_label(Role.OWNER)}", f"读书会 · {zh_label(Role.VIEWER)}"]
    )
    expect(switcher.locator("option:checked")).to_have_text(re.compile("^花园私域"))

    switcher.select_option("/w/books/")
    expect(page).to_have_url(f"{live_server.url}/w/books/")  # the other workspace's dashboard
    expect(page.locator("h1")).to_contain_text(zh("Dashboard"))
    expect(page.locator("h1 small")).to_have_text("读书会")
    nav_to(page, live_server, zh("Groups"), "/w/books/groups/")
    expect(page.locator("h1 small")).to_have_text("读书会")
    expect(page.locator("main table.data tbody td:first-child a")).to_have_text(community.books_groups)
    expect(page.locator("header .switcher select option:checked")).to_have_text(re.compile("^读书会"))
    screenshot(page, "5-workspace-books")

    page.locator("header .switcher select").select_option("/w/flowers/")
    expect(page).to_have_url(f"{live_server.url}/w/flowers/")
    expect(page.locator("h1")).to_contain_text(zh("Dashboard"))
    expect(page.locator("h1 small")).to_have_text("花园私域")
    page.goto("/")  # home remembers the last workspace used
    expect(page).to_have_url(f"{live_server.url}/w/flowers/")

    for path in ("/w/others/", "/w/others/members/", f"/w/flowers/groups/{community.others_group_id}/"):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.locator("h1")).to_have_text("页面不存在")  # the console's own 404, in the browser's language
        expect(page.locator("body")).not_to_contain_text("别人的社群")
