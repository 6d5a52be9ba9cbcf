"""Static files as `siyu serve` serves them (siyu.settings.base): collected when they changed, under hashed names,
compressed (Brotli and gzip) and cached for good. The test settings keep the plain storage; these tests run the real one."""
import re

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.templatetags.static import static

from siyu.core.staticfiles import static_collect_if_needed, static_fingerprint
from tests.conftest import hashed_static


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """Collected once for the module (compressing every file takes seconds)."""
    root = tmp_path_factory.mktemp("collected") / "static"
    with hashed_static(root):
        assert static_collect_if_needed() is True
        yield root


def test_serve_collects_only_when_the_files_changed(collected, tmp_path):
    assert (collected / "staticfiles.json").is_file() and collected.with_name("static.collected").is_file()
    assert static_collect_if_needed() is False  # nothing changed since: serve starts at once
    before = static_fingerprint()
    extra = tmp_path / "extra.css"
    extra.write_text("body { color: teal }")
    with override_settings(STATICFILES_DIRS=[tmp_path]):
        added = static_fingerprint()
        extra.write_text("body { color: maroon }")
        changed = static_fingerprint()
    assert len({before, added, changed}) == 3  # a new file, then a changed one: collected again at the next start


def test_plain_storage_collects_nothing(tmp_path):
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STATIC_ROOT=tmp_path / "static", STORAGES={**settings.STORAGES, "staticfiles": plain}):
        assert static_collect_if_needed() is False
    assert not (tmp_path / "static").exists()


def test_hashed_files_are_served_compressed_and_cached_for_good(collected):
    url = static("plotly/plotly-finance.min.js")
    assert re.fullmatch(r"/static/plotly/plotly-finance\.min\.[0-9a-f]{12}\.js", url), url
    client = Client()  # a new handler, so WhiteNoise reads the collected STATIC_ROOT
    plain = client.get(url)
    size = int(plain["Content-Length"])
    assert plain.status_code == 200 and "Content-Encoding" not in plain
    assert plain["Cache-Control"] == "max-age=315360000, public, immutable"
    for accepted, encoding in (("gzip", "gzip"), ("gzip, deflate, br", "br")):
        response = client.get(url, headers={"Accept-Encoding": accepted})
        assert response["Content-Encoding"] == encoding and response["Vary"] == "Accept-Encoding"
        assert response["Cache-Control"] == "max-age=315360000, public, immutable"
        assert int(response["Content-Length"]) < size / 2.5, (encoding, response["Content-Length"], size)
    assert "immutable" not in client.get("/static/plotly/plotly-finance.min.js")["Cache-Control"]  # unhashed: short
