"""`siyu link create|list|disable` and `siyu links flush`."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from siyu.links.models import Link
from tests.links.conftest import open_visit


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_list_disable_and_flush(workspace):
    url = run("link", "create", "--workspace", workspace.slug, "--target", "https://example.com/a", "--slug", "camp26",
              "--utm-source", "poster", "--valid-until", "2099-01-01T00:00:00+08:00", "--max-visits", "5", "--tag", "spring")
    assert url.strip().endswith("/s/camp26")
    link = Link.objects.get(slug="camp26")
    assert (link.utm_source, link.max_visits, link.tags) == ("poster", 5, ["spring"])
    assert open_visit(link).status == 302
    assert "read 1 clicks" in run("links", "flush")
    listing = run("link", "list", "--workspace", workspace.slug)
    assert "camp26\thttps://example.com/a\tlive until 2098-12-31 16:00\tclicks 1\tscans 0" in listing
    assert "camp26 disabled" in run("link", "disable", "--workspace", workspace.slug, "camp26")
    assert Link.objects.get(slug="camp26").disabled


def test_create_refuses_bad_input_with_the_reason(workspace):
    from django.utils import translation

    with translation.override("en"), pytest.raises(CommandError, match="target_url: Only http:// and https://"):
        run("link", "create", "--workspace", workspace.slug, "--target", "javascript:alert(1)")
    with translation.override("zh-hans"), pytest.raises(CommandError, match="只能是 http:// 或 https://"):
        run("link", "create", "--workspace", workspace.slug, "--target", "javascript:alert(1)")
    with pytest.raises(CommandError, match="Unknown workspace"):
        run("link", "create", "--workspace", "nope", "--target", "https://example.com")
