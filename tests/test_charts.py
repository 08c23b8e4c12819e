"""The dashboard's SVG charts (api/web/charts.py): each is well-formed XML in the SVG namespace,
scalable (viewBox, width 100%), an accessible image (role, title, desc with the figures), says
its figures as text (not by colour alone), keeps Vietnamese labels and escapes what a label
could inject, and says "no data yet" instead of dividing by zero."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from lxml import etree

from api.web import charts
from api.web.charts import (
    agency_bars,
    daily_bars,
    format_duration,
    format_number,
    format_percent,
    latency_lines,
    share_donut,
    stacked_bar,
)

SVG = "{http://www.w3.org/2000/svg}"
NASTY = 'Phường <Trường Vinh> & "Bến Thủy" </text><script>alert(1)</script>'
START = dt.date(2026, 3, 1)


def _days(n: int, value: Callable[[int], int] = lambda i: i % 5) -> list[tuple[dt.date, int]]:
    return [(START + dt.timedelta(days=i), value(i)) for i in range(n)]


def _latencies(n: int) -> list[tuple[str, float | None, float | None]]:
    return [((START + dt.timedelta(days=i)).isoformat(),
             None if i % 4 == 3 else 60.0 + i, None if i % 4 == 3 else 300.0 + i)
            for i in range(n)]


SEGMENTS = [("Sớm hạn", 12, charts.GREEN), ("Đúng hạn", 30, charts.BLUE),
            ("Trễ hạn", 4, charts.ORANGE), ("Quá hạn", 2, charts.RED),
            ("Đang xử lý", 7, charts.GREY)]
AGENCIES = [("Ủy ban nhân dân tỉnh Nghệ An", 120.0), ("UBND phường Trường Vinh", 87.0),
            ("UBND xã Hưng Nguyên Nam", 0.0)]

#: every chart, drawn with data
CHARTS: dict[str, Callable[[], str]] = {
    "share_donut": lambda: share_donut(0.875, "Văn bản gửi đi được ký số"),
    "stacked_bar": lambda: stacked_bar(SEGMENTS, "Tình hình xử lý"),
    "daily_bars": lambda: daily_bars(_days(30), "Văn bản đến theo ngày", color=charts.BLUE),
    "latency_lines": lambda: latency_lines(_latencies(30), "Độ trễ chuyển phát"),
    "agency_bars": lambda: agency_bars(AGENCIES, "Văn bản gửi đi theo cơ quan"),
}


def parse(svg: str) -> etree._Element:
    """The chart as XML: an ``<svg>`` in the SVG namespace that scales and is a named image."""
    root = etree.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    assert re.fullmatch(r"0 0 \d+(\.\d+)? \d+(\.\d+)?", root.get("viewBox")), root.get("viewBox")
    assert root.get("width") == "100%" and root.get("height") is None
    assert root.get("role") == "img"
    title, desc = root[0], root[1]
    assert title.tag == f"{SVG}title" and title.text.strip()
    assert desc.tag == f"{SVG}desc" and desc.text.strip()
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert not list(root.iter(f"{SVG}script", f"{SVG}image", f"{SVG}a", f"{SVG}foreignObject"))
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no asset
    return root


def texts(root: etree._Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def desc(root: etree._Element) -> str:
    return root[1].text


@pytest.mark.parametrize("name", list(CHARTS))
def test_every_chart_is_a_well_formed_accessible_svg(name: str) -> None:
    svg = CHARTS[name]()
    assert isinstance(svg, str)
    root = parse(svg)
    assert texts(root), name


def test_two_charts_have_different_ids() -> None:
    ids = [parse(make()).get("aria-labelledby") for make in CHARTS.values()]
    assert len(set(ids)) == len(ids)


def test_numbers_the_reader_s_way() -> None:
    assert format_number(1234.5, "vi") == "1.234,5" and format_number(1234.5, "en") == "1,234.5"
    assert format_number(2.0, "vi") == "2" and format_number(0.04, "vi") == "0"
    assert format_percent(0.875, "vi") == "87,5 %" and format_percent(0.875, "en") == "87.5%"
    assert format_percent(1.0, "vi") == "100 %"
    assert format_duration(45, "vi") == "45 giây" and format_duration(210, "vi") == "3,5 phút"
    assert format_duration(7200, "vi") == "2 giờ" and format_duration(90, "en") == "90 seconds"


def test_share_donut_writes_the_share() -> None:
    root = parse(share_donut(0.875, "Văn bản gửi đi được ký số"))
    assert "87,5 %" in texts(root)
    assert desc(root) == "Văn bản gửi đi được ký số: 87,5 %."
    assert "87.5%" in texts(parse(share_donut(0.875, "Signed", lang="en")))
    assert "100 %" in texts(parse(share_donut(1.7, "Quá 1")))  # clamped, not a broken ring


def test_stacked_bar_writes_every_part() -> None:
    root = parse(stacked_bar(SEGMENTS, "Tình hình xử lý"))
    words = texts(root)
    for label, value, _color in SEGMENTS:
        assert any(w.startswith(f"{label}: {value} (") for w in words), (label, words)
    assert "Sớm hạn: 12 (21,8 %)" in words
    assert {"12", "30", "7"} <= set(words)  # written on the parts wide enough
    assert "Tổng 55" in desc(root)


def test_daily_bars_values_and_thinned_labels() -> None:
    root = parse(daily_bars(_days(30), "Văn bản đến"))
    words = texts(root)
    day_labels = [w for w in words if re.fullmatch(r"\d\d/\d\d", w)]
    assert day_labels[0] == "01/03" and len(day_labels) <= 12
    bars = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}rect") is not None]
    assert len(bars) == sum(1 for _d, v in _days(30) if v)  # zero days draw no bar
    assert bars[0].find(f"{SVG}title").text == "02/03/2026: 1"
    assert words.count("4") >= 6  # each bar's value written above it
    assert "Tổng 60 / 30 ngày" in desc(root)


def test_daily_bars_one_day_and_a_leap_year() -> None:
    one = parse(daily_bars([("2026-03-01", 3)], "Một ngày"))
    assert "01/03" in texts(one) and "3" in texts(one)
    year = [(dt.date(2024, 1, 1) + dt.timedelta(days=i), i % 7) for i in range(366)]
    root = parse(daily_bars(year, "Một năm", color=charts.ORANGE, lang="en"))
    day_labels = [w for w in texts(root) if re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", w)]
    assert 2 <= len(day_labels) <= 12, day_labels
    assert all(r.get("fill") == charts.ORANGE for g in root.iter(f"{SVG}g")
               for r in g.iter(f"{SVG}rect"))
    assert "6" in texts(root)  # the highest bar keeps its value


@pytest.mark.parametrize(("top", "unit"), [(90.0, "giây"), (900.0, "phút"), (20000.0, "giờ")])
def test_latency_unit_follows_the_magnitude(top: float, unit: str) -> None:
    days = [(START, top / 2, top), (START + dt.timedelta(days=1), None, top / 3)]
    root = parse(latency_lines(days, "Độ trễ"))
    assert f"({unit})" in texts(root)
    assert unit in desc(root)


def test_latency_lines_break_where_a_day_has_none() -> None:
    root = parse(latency_lines(_latencies(8), "Độ trễ chuyển phát"))
    # days 0-2 and 4-6 have figures, 3 and 7 none: two runs per line
    assert len(list(root.iter(f"{SVG}polyline"))) == 4
    lone = [(START, None, None), (START + dt.timedelta(days=1), 30.0, 50.0),
            (START + dt.timedelta(days=2), None, None)]
    alone = parse(latency_lines(lone, "Một ngày có số liệu"))
    assert not list(alone.iter(f"{SVG}polyline"))
    assert list(alone.iter(f"{SVG}circle")) and "có số liệu 1/3 ngày" in desc(alone)
    words = texts(alone)
    assert "trung vị (p50): 30 giây" in words and "p95: 50 giây" in words


def test_agency_bars_cut_long_names_and_say_how_many_are_left_out() -> None:
    long_name = "Ủy ban nhân dân xã Nghĩa Đàn Thượng thuộc tỉnh Nghệ An (tên rất dài)"
    rows = [(long_name, 5.0)] + [(f"UBND xã số {i}", float(i)) for i in range(1, 20)]
    root = parse(agency_bars(rows, "Gửi đi theo cơ quan", limit=10))
    words = texts(root)
    cut = next(w for w in words if w.startswith("Ủy ban nhân dân xã Nghĩa"))
    assert cut.endswith("…") and len(cut) <= 30
    tooltips = [t.text for t in root.iter(f"{SVG}title")]
    assert f"{long_name}: 5" in tooltips
    assert "và 10 cơ quan khác" in words and "và 10 cơ quan khác" in desc(root)
    share = parse(agency_bars([("A", 0.5), ("B", 0.25)], "Tỷ lệ ký số", fmt="percent",
                              lang="en"))
    assert {"50%", "25%"} <= set(texts(share))
    own = parse(agency_bars([("A", 3.0)], "Own", fmt=lambda v: f"{v:.0f} văn bản"))
    assert "3 văn bản" in texts(own)


@pytest.mark.parametrize("make", [
    lambda label: share_donut(0.5, label),
    lambda label: stacked_bar([(label, 3, charts.BLUE)], label),
    lambda label: daily_bars(_days(3, lambda i: 1), label),
    lambda label: latency_lines(_latencies(3), label),
    lambda label: agency_bars([(label, 1.0)], label),
])
def test_labels_are_escaped_and_kept(make: Callable[[str], str]) -> None:
    svg = make(NASTY)
    root = parse(svg)  # no script element came out of the label
    assert "<script>" not in svg and "<Trường" not in svg
    assert NASTY in root[0].text  # the title is the label, intact (lxml unescapes it)
    assert any("Trường Vinh" in w for w in texts(root) + [desc(root)])


def test_a_label_with_characters_xml_forbids_still_parses() -> None:
    parse(share_donut(0.5, "Ký số\x00\x07 hợp lệ"))


@pytest.mark.parametrize(("lang", "words"), [("vi", "Chưa có số liệu"), ("en", "No data yet")])
@pytest.mark.parametrize("make", [
    lambda lang: daily_bars([], "Đến theo ngày", lang=lang),
    lambda lang: daily_bars(_days(30, lambda i: 0), "Đến theo ngày", lang=lang),
    lambda lang: latency_lines([], "Độ trễ", lang=lang),
    lambda lang: latency_lines([(START, None, None), (START, None, None)], "Độ trễ", lang=lang),
    lambda lang: stacked_bar([("Sớm", 0, charts.GREEN), ("Trễ", 0, charts.ORANGE)], "Hạn",
                             lang=lang),
    lambda lang: agency_bars([], "Cơ quan", lang=lang),
    lambda lang: agency_bars([("A", 0.0)], "Cơ quan", lang=lang),
    lambda lang: share_donut(None, "Ký số", lang=lang),
])
def test_no_data_is_said_not_divided_by(make: Callable[[str], str], lang: str,
                                        words: str) -> None:
    root = parse(make(lang))
    assert words in texts(root) and words in desc(root)
