"""Posters: the size asked for, a QR that reads back to the member's own link, the Chinese line drawn."""
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageChops

from siyu.links import posters
from siyu.links.posters import PosterFontMissing, PosterLayout, background_read, poster_image, poster_png
from siyu.links.qr import qr_code, qr_layout, scan_url
from siyu.links.refs import member_ref_read
from siyu.members.models import Member
from tests.conftest import ev, require
from tests.links.test_qr import expected_modules, modules_read

SHORT = "https://go.example.cn/Ab3dE7k"


@pytest.fixture(autouse=True)
def cjk_font(monkeypatch):
    monkeypatch.delenv(posters.FONT_ENV, raising=False)
    require(any(Path(p).is_file() for p in posters.FONT_CANDIDATES), "no CJK font: apt-get install fonts-noto-cjk")


def qr_read(image, layout, url):
    """The modules of the poster's QR, read where the layout puts it."""
    left, top, _, _ = layout.qr_box()
    modules, scale, offset = qr_layout(qr_code(url), size=layout.qr_size)
    square = image.crop((left, top, left + layout.qr_size, top + layout.qr_size))
    return modules_read(square, modules=modules, offset=offset, scale=scale)


def changed_pixels(a, b, box=None):
    diff = ImageChops.difference(a, b).convert("L")
    if box is not None:
        diff = diff.crop(box)
    return diff.point(lambda value: 255 if value > 40 else 0).histogram()[255]


def test_the_png_is_the_size_asked_for_and_the_same_every_time():
    layout = PosterLayout(width=600, height=900, qr_size=300, text_top=80, text_height=80)
    png = poster_png(url=SHORT, text="扫码进群", layout=layout)
    assert png == poster_png(url=SHORT, text="扫码进群", layout=layout)
    image = Image.open(BytesIO(png))
    assert (image.format, image.size) == ("PNG", (600, 900))
    assert Image.open(BytesIO(poster_png(url=SHORT, text="扫码进群"))).size == (1080, 1920)


@pytest.mark.parametrize("position", sorted(posters.POSITIONS))
def test_the_qr_reads_back_as_the_scan_url_wherever_it_is_placed(position):
    text_top = 860 if position.startswith("top") else 40
    layout = PosterLayout(width=800, height=1000, qr_size=320, position=position, text_top=text_top, text_height=80)
    image = poster_image(url=SHORT, text="扫码进群", layout=layout)
    assert qr_read(image, layout, scan_url(SHORT)) == expected_modules(scan_url(SHORT))


def test_the_chinese_line_is_drawn_in_its_box_with_real_glyphs():
    layout = PosterLayout()
    blank = poster_image(url=SHORT, text="", layout=layout)
    join = poster_image(url=SHORT, text="扫码进群", layout=layout)
    box = layout.text_box()
    assert changed_pixels(blank, join, box) > 2000
    assert changed_pixels(blank, join) == changed_pixels(blank, join, box)  # nothing drawn outside the box
    # Other characters draw other shapes (a font without Chinese would draw the same empty boxes).
    assert changed_pixels(join, poster_image(url=SHORT, text="领取礼包", layout=layout), box) > 1000


def test_a_long_line_is_shrunk_to_fit_the_poster():
    layout = PosterLayout(width=600, height=900, qr_size=300, text_top=60, text_height=100)
    blank = poster_image(url=SHORT, text="", layout=layout)
    long = poster_image(url=SHORT, text="扫码加入花友群，领取新人礼包和每周养花课程", layout=layout)
    left, top, right, bottom = layout.text_box()
    diff = ImageChops.difference(blank, long).convert("L").point(lambda v: 255 if v > 40 else 0)
    drawn = diff.getbbox()
    assert drawn is not None and left <= drawn[0] and drawn[2] <= right and top <= drawn[1] and drawn[3] <= bottom


def test_each_members_poster_carries_their_own_reference(ingest, workspace):
    ingest([ev("group.joined", i, actor=f"member{i}", group="g") for i in (1, 2)])
    first, second = Member.objects.filter(workspace=workspace).order_by("number")
    layout = PosterLayout(width=700, height=1000, qr_size=360, text_top=60, text_height=80)
    images = {m.pk: poster_image(url=SHORT, text="邀请你进群", layout=layout, member=m) for m in (first, second)}
    for member in (first, second):
        url = scan_url(SHORT, member=member)
        assert qr_read(images[member.pk], layout, url) == expected_modules(url)
        assert member_ref_read(parse_qs(urlsplit(url).query)["m"][0], workspace) == member.pk
    assert qr_read(images[first.pk], layout, scan_url(SHORT, member=first)) != qr_read(
        images[second.pk], layout, scan_url(SHORT, member=first)
    )


def test_an_uploaded_background_fills_the_poster():
    buffer = BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(buffer, format="JPEG")
    layout = PosterLayout(width=600, height=900, qr_size=300, text_top=80, text_height=80)
    image = poster_image(url=SHORT, text="进群", layout=layout, background=background_read(buffer.getvalue()))
    assert image.size == (600, 900)
    red, green, blue = image.getpixel((5, 5))
    assert red > 180 and green < 60 and blue < 60


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 50])
def test_a_background_that_is_not_an_image_is_refused(data):
    with pytest.raises(ValidationError):
        background_read(data)


def test_a_bad_layout_is_refused():
    for layout in (PosterLayout(width=50), PosterLayout(position="middle"), PosterLayout(qr_size=5000),
                   PosterLayout(text_top=1900), PosterLayout(position="center", text_top=900)):
        with pytest.raises(ValidationError):
            poster_image(url=SHORT, text="进群", layout=layout)


def test_without_a_cjk_font_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(posters, "FONT_CANDIDATES", [str(tmp_path / "NotoSansCJK-Regular.ttc")])
    with pytest.raises(PosterFontMissing, match="fonts-noto-cjk"):
        poster_png(url=SHORT, text="扫码进群")
    monkeypatch.setenv(posters.FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(PosterFontMissing, match="missing.ttf"):
        poster_png(url=SHORT, text="扫码进群")
