"""QR codes and signed member references: what a printed code encodes, read back from the image."""
import re
from io import BytesIO
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import segno
from django.utils.http import int_to_base36
from PIL import Image

from siyu.links.qr import BORDER, qr_code, qr_image, qr_layout, qr_png, qr_svg, scan_url
from siyu.links.refs import member_ref, member_ref_read
from siyu.members.models import Member
from tests.conftest import ev

SHORT = "https://go.example.cn/Ab3dE7k"


def modules_read(image, *, modules, offset, scale):
    """The dark modules of a QR drawn in `image`, sampled at each module's centre."""
    gray = image.convert("L")
    return [
        [gray.getpixel((offset + col * scale + scale // 2, offset + row * scale + scale // 2)) < 128 for col in range(modules)]
        for row in range(modules)
    ]


def expected_modules(url):
    """The modules segno draws for exactly this payload, at the error correction the printed code uses."""
    code = qr_code(url)
    assert code.error in ("Q", "H")  # at least 25 % of a printed code may be damaged
    reference = segno.make(url, error=code.error.lower(), version=code.version, mask=code.mask, boost_error=False)
    return [[bool(m) for m in row] for row in reference.matrix]


def members(ingest, workspace, n):
    ingest([ev("group.joined", i, actor=f"member{i}", group="g") for i in range(1, n + 1)])
    return list(Member.objects.filter(workspace=workspace).order_by("number"))


def test_the_scan_url_marks_the_scan_and_keeps_the_links_own_query():
    assert scan_url(SHORT) == f"{SHORT}?qr=1"
    assert scan_url("https://go.example.cn/s/x?lang=zh&qr=0&m=forged") == "https://go.example.cn/s/x?lang=zh&qr=1"


def test_a_member_ref_is_short_url_safe_and_reads_back_only_in_its_own_workspace(ingest, workspace, make_workspace):
    first, second = members(ingest, workspace, 2)
    ref = member_ref(first)
    assert re.fullmatch(r"[0-9a-z]+\.[A-Za-z0-9_-]{16}", ref), ref
    assert len(ref) <= 24
    assert member_ref(first) == ref  # stable: the same poster prints the same code
    assert member_ref(second) != ref
    assert member_ref_read(ref, workspace) == first.pk
    assert member_ref_read(ref, workspace.pk) == first.pk
    assert member_ref_read(ref, make_workspace()) is None


def test_a_forged_or_garbled_member_ref_reads_as_nobody(ingest, workspace):
    (member,) = members(ingest, workspace, 1)
    ref = member_ref(member)
    number, signature = ref.split(".")
    other_number = int_to_base36(member.pk + 1)
    forged = [
        f"{other_number}.{signature}", f"{number}.{signature[:-1]}A" if signature[-1] != "A" else f"{number}.{signature[:-1]}B",
        f"0{ref}", ref.upper(), ref + ".x", "", ".", "x" * 200, None, 42, f"{number}", "-1." + signature, "é." + signature,
    ]
    assert [member_ref_read(value, workspace) for value in forged] == [None] * len(forged)


def test_the_png_encodes_the_scan_url_and_is_the_same_every_time():
    url = scan_url(SHORT)
    png = qr_png(url, scale=8)
    assert png == qr_png(url, scale=8)
    image = Image.open(BytesIO(png))
    modules = qr_code(url).symbol_size(scale=1, border=0)[0]
    assert image.size == ((modules + 2 * BORDER) * 8,) * 2
    assert modules_read(image, modules=modules, offset=BORDER * 8, scale=8) == expected_modules(url)
    # The quiet zone is white all round.
    assert all(image.convert("L").getpixel((x, 3)) == 255 for x in range(image.width))


def test_a_member_code_encodes_their_reference_and_differs_from_anothers(ingest, workspace):
    first, second = members(ingest, workspace, 2)
    url = scan_url(SHORT, member=first)
    query = parse_qs(urlsplit(url).query)
    assert query["qr"] == ["1"]
    assert member_ref_read(query["m"][0], workspace) == first.pk
    assert qr_png(url) != qr_png(scan_url(SHORT, member=second))


def test_a_size_in_pixels_picks_the_largest_whole_scale_that_fits():
    url = scan_url(SHORT)
    width = qr_code(url).symbol_size(scale=1, border=BORDER)[0]
    image = Image.open(BytesIO(qr_png(url, size=500)))
    assert image.size == ((500 // width) * width,) * 2
    assert Image.open(BytesIO(qr_png(url, size=1))).size == (width, width)  # never smaller than one pixel a module


def test_the_poster_image_is_exactly_the_size_asked_and_reads_back():
    url = scan_url(SHORT)
    image = qr_image(url, size=333)
    assert image.size == (333, 333)
    modules, scale, offset = qr_layout(qr_code(url), size=333)
    assert modules_read(image, modules=modules, offset=offset, scale=scale) == expected_modules(url)


def test_the_svg_is_xml_the_same_every_time_and_scaled():
    url = scan_url(SHORT)
    svg = qr_svg(url, scale=5)
    assert svg == qr_svg(url, scale=5)
    root = ElementTree.fromstring(svg)
    width = qr_code(url).symbol_size(scale=5, border=BORDER)[0]
    assert root.get("width") == str(width) and root.get("height") == str(width)
    assert root.find("{http://www.w3.org/2000/svg}title").text == url
