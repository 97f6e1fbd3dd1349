"""The IVR days page's pure parts: the state a day is coloured with, and the SVG charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from callcentre.ivr_page import charts, states

SVG = "{http://www.w3.org/2000/svg}"
DEADLINE = datetime(2026, 8, 4, 6, tzinfo=timezone.utc)
LOADED = {"source_calls": 1000, "loaded_calls": 995, "rejected_calls": 5}


def facts(**overrides) -> states.DayFacts:
    return states.DayFacts(**{"deadline": DEADLINE, "ended": True, **overrides})


@pytest.mark.parametrize("case,now,expected", [
    (facts(run_state="success", **LOADED), DEADLINE, states.BALANCED),
    (facts(run_state="success", **{**LOADED, "loaded_calls": 980, "rejected_calls": 20}), DEADLINE, states.REJECTS),
    # Exactly at the threshold is not above it.
    (facts(run_state="success", **{**LOADED, "loaded_calls": 990, "rejected_calls": 10}), DEADLINE, states.BALANCED),
    (facts(run_state="failed", **LOADED), DEADLINE, states.FAILED),  # the newest attempt failed
    (facts(run_state="failed"), DEADLINE - timedelta(hours=3), states.FAILED),
    (facts(run_state="running", **LOADED), DEADLINE, states.RUNNING),
    (facts(run_state="queued"), DEADLINE + timedelta(days=30), states.RUNNING),
    (facts(), DEADLINE + timedelta(hours=1), states.LATE),  # no run at all, deadline just passed
    (facts(run_state="success"), DEADLINE + timedelta(days=40), states.LATE),  # ran (a dry run) but never loaded
    (facts(deadline_alerted=True), DEADLINE + timedelta(days=40), states.LATE),  # reported: late until loaded
    (facts(), DEADLINE + timedelta(days=40), states.NEVER_RUN),  # an old day nobody ever ran
    (facts(deadline=None), DEADLINE + timedelta(days=1), states.NEVER_RUN),  # deadline alert disabled
    (facts(), DEADLINE - timedelta(hours=2), states.PENDING),  # ended, before its deadline
    (facts(ended=False), DEADLINE - timedelta(days=1), states.PENDING),  # today
    (facts(run_state="success", **{**LOADED, "loaded_calls": 900}), DEADLINE, states.FAILED),  # unbalanced
    (facts(run_state="success", drifted=True, **LOADED), DEADLINE, states.DRIFTED),  # its check found drift
    (facts(run_state="success", drifted=True, **{**LOADED, "loaded_calls": 980, "rejected_calls": 20}), DEADLINE,
     states.DRIFTED),  # drift outranks the reject warning: the figures themselves are stale
    (facts(run_state="failed", drifted=True, **LOADED), DEADLINE, states.FAILED),  # a newer run failed
    (facts(run_state="running", drifted=True, **LOADED), DEADLINE, states.RUNNING),  # being reloaded
    (facts(run_state=None, source_calls=0, loaded_calls=0, rejected_calls=0), DEADLINE, states.BALANCED),  # empty day
])
def test_day_state(case, now, expected):
    assert states.day_state(case, now) == expected


def test_the_reject_threshold_is_the_callers():
    day = facts(run_state="success", **{**LOADED, "loaded_calls": 980, "rejected_calls": 20})
    assert states.day_state(day, DEADLINE, threshold=0.05) == states.BALANCED
    assert states.day_state(day, DEADLINE, threshold=0.019) == states.REJECTS


def bars(svg: str) -> list[tuple[str, int, float]]:
    root = ET.fromstring(svg)
    found = []
    for group in root.iter(f"{SVG}g"):
        rect = group.find(f"{SVG}rect")
        found.append((group.get("data-rule"), int(group.get("data-count")), float(rect.get("width"))))
    return found


def test_rejects_chart_bars_longest_first_and_proportional():
    svg = charts.rejects_chart({"caller_missing": 10, "duration_negative": 40, "wait_negative": 0,
                                "end_before_start": 10}, "Rejected", "none")
    found = bars(svg)
    assert [(rule, n) for rule, n, _ in found] == [
        ("duration_negative", 40), ("caller_missing", 10), ("end_before_start", 10)]  # zero left out
    longest = found[0][2]
    assert found[1][2] == pytest.approx(longest / 4, abs=0.1)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "40" in texts and "duration_negative" in texts


def test_rejects_chart_without_rejects_says_so():
    svg = charts.rejects_chart({}, "Rechazadas", "Sin llamadas rechazadas")
    root = ET.fromstring(svg)
    assert bars(svg) == []
    assert [t.text for t in root.iter(f"{SVG}text")] == ["Sin llamadas rechazadas"]
    assert root.find(f"{SVG}title").text == "Rechazadas"


def test_chart_text_is_escaped():
    evil = "</text><script>alert(1)</script><text x='0' onload=\"x\">&"
    svg = charts.rejects_chart({evil: 3}, evil, evil)
    assert "<script" not in svg and "onload=\"" not in svg
    root = ET.fromstring(svg)  # still one well-formed document
    assert root.find(f"{SVG}title").text == evil
    assert bars(svg)[0][0] == evil
    strip = charts.hours_strip([], evil)
    assert "<script" not in strip and ET.fromstring(strip).find(f"{SVG}title").text == evil


def test_hours_strip_shows_all_24_hours_with_their_state_rows_and_tries():
    cells = [charts.HourCell(0, "success", 950, 1), charts.HourCell(3, "failed", None, 3),
             charts.HourCell(13, "running", 12_345, 2), charts.HourCell(23, "success", 1_500_000, 1)]
    root = ET.fromstring(charts.hours_strip(cells, "Hours"))
    groups = {int(g.get("data-hour")): g for g in root.iter(f"{SVG}g")}
    assert sorted(groups) == list(range(24))
    assert {h: (g.get("data-state"), g.get("data-tries")) for h, g in groups.items() if g.get("data-state") != "none"} == {
        0: ("success", "1"), 3: ("failed", "3"), 13: ("running", "2"), 23: ("success", "1")}
    assert groups[5].get("data-state") == "none" and groups[5].get("data-tries") == "0"
    labels = {h: [t.text for t in g.iter(f"{SVG}text")] for h, g in groups.items()}
    assert labels[0] == ["00", "950"] and labels[13] == ["13", "12k"] and labels[23] == ["23", "1.5M"]
    assert labels[3] == ["03", None]  # a failed attempt read nothing
    fills = {h: g.find(f"{SVG}rect").get("fill") for h, g in groups.items()}
    assert fills[3] == charts.HOUR_COLOURS["failed"] and fills[0] == charts.HOUR_COLOURS["success"]
    assert fills[5] == charts.HOUR_COLOURS["none"]
    # Three rows of eight: hours 8 and 16 start the second and third rows under hour 0.
    rects = {h: g.find(f"{SVG}rect") for h, g in groups.items()}
    assert rects[8].get("x") == rects[16].get("x") == rects[0].get("x")
    assert float(rects[0].get("y")) < float(rects[8].get("y")) < float(rects[16].get("y"))
    assert rects[7].get("y") == rects[0].get("y")


def test_charts_scale_to_the_width_they_are_given():
    for svg in (charts.rejects_chart({"x": 1}, "t", "e"), charts.hours_strip([], "t")):
        root = ET.fromstring(svg)
        assert root.get("width") == "100%" and root.get("viewBox").startswith("0 0 ")
