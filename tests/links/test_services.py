"""Creating links: slugs, target validation, UTM, domains, codes."""
import secrets

import pytest
from django.core.exceptions import ValidationError

from siyu.links.models import Link
from siyu.links.services import (
    SLUG_ALPHABET, channel_code_create, code_target_add, link_domain_add, utm_url,
)


def refusal(exc_info, field="target_url"):
    return " ".join(exc_info.value.message_dict[field])


def test_generated_slugs_are_seven_characters_without_look_alikes(make_link):
    slugs = {make_link().slug for _ in range(30)}
    assert len(slugs) == 30
    assert all(len(s) == 7 and set(s) <= set(SLUG_ALPHABET) for s in slugs)
    assert not set("0O1lIo") & set(SLUG_ALPHABET)


def test_a_generated_slug_that_collides_is_retried(make_link, monkeypatch):
    taken = make_link(slug="aaaaaaa")
    draws = iter("aaaaaaa" + "aaaaaaa" + "bbbbbbb")
    monkeypatch.setattr(secrets, "choice", lambda alphabet: next(draws))
    link = make_link()
    assert (taken.slug, link.slug) == ("aaaaaaa", "bbbbbbb")


def test_custom_slugs_are_validated(make_link, make_workspace):
    assert make_link(slug="spring-camp_2026").slug == "spring-camp_2026"
    with pytest.raises(ValidationError) as taken:
        make_link(slug="spring-camp_2026")
    assert "is taken" in refusal(taken, "slug")
    with pytest.raises(ValidationError) as taken_elsewhere:  # /s/ slugs are shared by every workspace
        make_link(slug="spring-camp_2026", workspace=make_workspace())
    assert "is taken" in refusal(taken_elsewhere, "slug")
    for bad in ("a", "-lead", "with space", "斯", "a/b", "x" * 65):
        with pytest.raises(ValidationError) as invalid:
            make_link(slug=bad)
        assert "2 to 64 letters" in refusal(invalid, "slug")
    for reserved in ("admin", "API", "static", "s"):
        with pytest.raises(ValidationError) as refused:
            make_link(slug=reserved)
        assert "is reserved" in refusal(refused, "slug")


def test_a_slug_is_unique_per_domain(workspace, make_link):
    domain = link_domain_add(workspace=workspace, host="Go.Example.cn")
    assert domain.host == "go.example.cn"
    make_link(slug="camp")
    on_domain = make_link(slug="camp", domain=domain)
    assert Link.objects.filter(slug="camp").count() == 2 and on_domain.domain == domain


@pytest.mark.parametrize("url, message", [
    ("javascript:alert(1)", "Only http:// and https:// URLs"),
    ("ftp://example.com/file", "Only http:// and https:// URLs"),
    ("data:text/html,hi", "Only http:// and https:// URLs"),
    ("//example.com/x", "Only http:// and https:// URLs"),
    ("https://example.com/a\x00b", "control character (code 0)"),
    ("https://example.com/\nSet-Cookie:x", "control character (code 10)"),
    ("https://example.com/a b", "contains whitespace"),
    (" https://example.com/", "contains whitespace"),
    ("https://", "has no host name"),
    ("https://user:pw@example.com/", "user name or password"),
    ("https://example.com:99999/", "not a valid URL"),
    ("http://testserver/s/abc", "one of our own short links"),
    ("https://go.example.cn/anything", "one of our own short-link domains"),
    ("", "Enter the URL"),
    ("https://example.com/" + "x" * 2000, "at most 2000"),
    ("https://evil.example.com/\u202e", "direction-changing character (U+202E)"),  # issue 14.10
    ("https://exa\u200bmple.com/", "invisible or direction-changing character (U+200B)"),
    ("https://example.com/?q=\u2066x\u2069", "(U+2066)"),
    ("https://example.com/\ufeff", "(U+FEFF)"),
])
def test_bad_targets_are_refused_with_a_clear_message(workspace, make_link, url, message):
    link_domain_add(workspace=workspace, host="go.example.cn")
    with pytest.raises(ValidationError) as refused:
        make_link(target_url=url)
    assert message in refusal(refused)


def test_good_targets_are_accepted(make_link):
    for url in ("https://example.com", "http://example.com/s/page", "https://shop.example.cn/p?id=1#x", "https://例子.cn/"):
        assert make_link(target_url=url).target_url == url


def test_utm_parameters_are_appended_to_the_target(make_link):
    link = make_link(target_url="https://example.com/p?id=1&utm_source=old", utm={"utm_source": "poster", "utm_campaign": "spring 26"})
    assert utm_url(link) == "https://example.com/p?id=1&utm_source=poster&utm_campaign=spring+26"
    assert utm_url(make_link(target_url="https://example.com/p?id=1")) == "https://example.com/p?id=1"
    with pytest.raises(ValidationError):
        make_link(utm={"utm_nope": "x"})


def test_validity_and_limits_are_checked(make_link, workspace):
    from datetime import datetime, timezone

    start = datetime(2026, 5, 1, tzinfo=timezone.utc)
    with pytest.raises(ValidationError) as refused:
        make_link(valid_from=start, valid_until=start)
    assert "after its start" in refusal(refused, "valid_until")
    with pytest.raises(ValidationError):
        make_link(max_visits=0)


def test_a_channel_code_owns_a_link_and_ordered_targets(workspace):
    code = channel_code_create(workspace=workspace, name="春季海报", backup_url="https://example.com/full")
    assert code.link.target_url == "" and code.link.workspace == workspace
    first = code_target_add(code=code, url="https://example.com/g1", capacity=2)
    second = code_target_add(code=code, url="https://example.com/g2")
    assert (first.position, second.position, second.capacity) == (0, 1, 200)
    with pytest.raises(ValidationError) as refused:
        code_target_add(code=code, url="javascript:alert(1)")
    assert "Only http" in refusal(refused, "url")
    with pytest.raises(ValidationError):
        channel_code_create(workspace=workspace, name="x", backup_url="ftp://example.com")


def test_a_link_update_keeps_the_slug_and_checks_like_create(make_link):
    from siyu.links.services import link_update

    link = make_link(slug="keep-me", utm={"utm_source": "a", "utm_medium": "b"}, tags=["x"])
    link_update(link=link, target_url="https://example.com/new", utm={"utm_source": "c"}, max_visits=3, tags=["y", " "])
    link.refresh_from_db()
    assert (link.slug, link.target_url, link.utm_source, link.utm_medium, link.max_visits, link.tags) == (
        "keep-me", "https://example.com/new", "c", "", 3, ["y"])
    with pytest.raises(ValidationError) as refused:
        link_update(link=link, target_url="javascript:x")
    assert "Only http" in refusal(refused)


@pytest.mark.parametrize("character", ["\u202e", "\u200b", "\u200d", "\u2067", "\u061c"])
def test_slugs_and_code_names_refuse_bidi_and_zero_width_characters(workspace, make_link, character):
    with pytest.raises(ValidationError) as refused:
        make_link(slug=f"spring{character}sale")
    assert f"U+{ord(character):04X}" in refusal(refused, "slug")
    with pytest.raises(ValidationError) as refused:
        channel_code_create(workspace=workspace, name=f"春季{character}海报")
    assert "invisible or direction-changing" in refusal(refused, "name")
