"""Console areas (issue 13.1): every page module declares its routes and menu entries; the navigation is built
from them and shows a role only the entries it may open."""
import ast
from pathlib import Path

import pytest
from django.urls import reverse

import siyu.console
from siyu.console.areas import ConsoleArea, MenuEntry, area_register, areas
from siyu.core.models import Role

pytestmark = pytest.mark.django_db
CONSOLE = Path(siyu.console.__file__).parent


def test_urls_import_nothing_mid_file_and_append_no_lists():
    tree = ast.parse((CONSOLE / "urls.py").read_text())
    first_code = next(i for i, node in enumerate(tree.body) if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)))
    assert not any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in tree.body[first_code:])
    assert not any(isinstance(node, ast.AugAssign) for node in ast.walk(tree))
    # No page module keeps a route list of its own beside its area.
    for module in CONSOLE.glob("*.py"):
        if module.name != "urls.py":
            assert "\nurlpatterns" not in module.read_text(), module.name


def test_every_area_route_is_served_under_the_workspace(workspace):
    names = [route.name for area in areas() for route in area.routes]
    assert len(names) == len(set(names)) and {"dashboard", "links", "segments", "outbox", "member_import_start"} <= set(names)
    assert reverse("console:links", args=[workspace.slug]) == f"/w/{workspace.slug}/links/"


def test_an_area_key_is_claimed_once():
    with pytest.raises(ValueError):
        area_register(ConsoleArea(key="links", menu=[MenuEntry("x", "links", order=1)]))


@pytest.mark.parametrize("role", list(Role))
def test_the_navigation_shows_each_role_only_what_it_may_open(client, workspace, make_staff, role):
    client.force_login(make_staff(workspace, role=role))
    response = client.get(reverse("console:dashboard", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE="en")
    menu = response.context["console_menu"]
    urls = [url for _label, url, _lit in menu]
    assert [lit for _l, _u, lit in menu].count(True) == 1  # the dashboard's entry is lit
    leads, mine = reverse("console:leads", args=[workspace.slug]), reverse("console:leads_mine", args=[workspace.slug])
    assert (mine in urls, leads in urls) == ((True, False) if role == Role.SALES else (False, True))
    assert (reverse("admin:index") in urls) is (role in (Role.OWNER, Role.ADMIN))
    for url in urls:
        assert client.get(url).status_code == 200, (role, url)
