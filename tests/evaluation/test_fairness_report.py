"""The fairness report: plain words first, the same numbers in HTML and JSON."""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from triage.evaluation._audit_spec import AuditSpec
from triage.evaluation.fairness import FairnessReport, audit_fairness
from triage.evaluation.fairness_report import (
    CHANGE_COLUMNS,
    disparity_changes,
    fairness_html,
    fairness_json,
    plain_summary,
    write_fairness_report,
)

DAY = pd.Timestamp("2024-03-01 09:00", tz="UTC")


def _spec(**update: object) -> AuditSpec:
    base: dict[str, object] = {
        "attributes": [
            {"name": "victim_ethnicity", "tests": ["fnr"], "report": ["fpr", "capacity_recall"]},
            {"name": "perpetrator_ethnicity", "tests": ["fdr", "fpr"], "report": ["fnr"]},
        ],
        "operating_point": {"capacity": 20, "threshold": 0.5},
        "bootstrap": {"resamples": 50, "seed": 1},
        "thresholds": {"attribute": "victim_ethnicity"},
    }
    base.update(update)
    return AuditSpec.model_validate(base)


def scored_frame(seed: int = 0) -> pd.DataFrame:
    """White victims' escalations score high; black victims' are missed more often;
    a handful of mixed-ethnicity victims are too few to judge."""
    rng = np.random.default_rng(seed)
    groups = np.array(["white"] * 2000 + ["black"] * 800 + ["mixed"] * 30)
    n = groups.size
    y = rng.random(n) < 0.25
    signal = np.where(groups == "black", 0.05, 0.25)
    score = np.clip(0.3 + signal * y + rng.normal(0, 0.12, n), 0.001, 0.999)
    return pd.DataFrame(
        {
            "reported_at": DAY + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
            "y": y.astype(int),
            "score": score,
            "victim_ethnicity": groups,
            "perpetrator_ethnicity": rng.choice(["white", "asian"], n, p=[0.7, 0.3]),
        }
    )


@cache
def flagged_report() -> FairnessReport:
    return audit_fairness(scored_frame(), _spec())


def test_summary_names_the_flagged_group_and_the_direction() -> None:
    report = flagged_report()
    assert "victim_ethnicity:black:fnr" in report.primary_flags
    summary = plain_summary(report)
    assert summary[0].startswith("What was tested:")
    flagged = [s for s in summary if s.startswith("FLAGGED.") and "'black'" in s]
    assert len(flagged) == 1
    assert "misses more of this group's escalations than for 'white'" in flagged[0]
    assert (
        "Primary tests (missed cases and calibration across victim groups): 1 flagged difference."
        in summary
    )


def test_summary_says_which_groups_were_too_small_and_what_was_not_applied() -> None:
    summary = plain_summary(flagged_report())
    assert any(s.startswith("Too small to judge (victims by ethnicity): 'mixed'") for s in summary)
    assert any(s.startswith("Option considered, not applied") for s in summary)
    assert any("no false-discovery rate (FDR) or false-positive rate (FPR)" in s for s in summary)


def test_summary_without_flags_says_the_primary_test_passed() -> None:
    frame = scored_frame()
    frame["victim_ethnicity"] = np.where(frame.index % 2 == 0, "white", "black")
    frame["score"] = 0.3 + 0.45 * frame["y"]
    report = audit_fairness(frame, _spec())
    summary = plain_summary(report)
    assert report.flags == ()
    assert not any(s.startswith("FLAGGED") for s in summary)
    assert any("no victim group differs from its reference group" in s for s in summary)


def test_html_opens_with_the_summary_and_embeds_the_figures(tmp_path: Path) -> None:
    report = flagged_report()
    html_path, json_path = write_fairness_report(report, tmp_path, extra={"label": "x"})
    assert (html_path.name, json_path.name) == ("fairness.html", "fairness.json")
    page = html_path.read_text(encoding="utf-8")
    summary = page.index("<h2>Summary</h2>")
    assert summary < page.index("<img")
    assert summary < page.index("<table")
    for heading in (
        "Flagged disparities",
        "Capacity view",
        "Perpetrators: false discoveries and false positives",
        "Option considered, not applied: group-specific thresholds",
    ):
        assert f"<h2>{heading}</h2>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    # one per grouping, the capacity view, the threshold option
    assert len(images) == len(report.attributes) + 2
    assert "Fairness audit of the x model" in page


def test_json_and_html_hold_the_same_findings_and_numbers(tmp_path: Path) -> None:
    report = flagged_report()
    html_path, json_path = write_fairness_report(report, tmp_path, extra={"label": "x"})
    data = json.loads(json_path.read_text())
    text = html.unescape(re.sub(r"<[^>]+>", " ", html_path.read_text()))
    text = " ".join(text.split())
    assert data["plain_summary"] == list(plain_summary(report))
    for sentence in data["plain_summary"]:
        assert " ".join(sentence.split()) in text
    black = next(
        d
        for a in data["attributes"]
        for d in a["disparities"]
        if d["group"] == "black" and d["metric"] == "fnr"
    )
    assert f"{black['ratio']:.2f}" in text
    assert f"{black['low']:.2f} – {black['high']:.2f}" in text
    assert data["flags"] == list(report.flags)
    assert data["label"] == "x"


def test_json_reads_back_into_the_same_report(tmp_path: Path) -> None:
    report = flagged_report()
    _, json_path = write_fairness_report(report, tmp_path)
    again = FairnessReport.from_dict(json.loads(json_path.read_text()))
    assert again.to_dict() == report.to_dict()
    assert fairness_json(again) == fairness_json(report)


def test_group_names_are_escaped(tmp_path: Path) -> None:
    frame = scored_frame()
    frame.loc[frame["victim_ethnicity"] == "mixed", "victim_ethnicity"] = "<script>x</script>"
    page = fairness_html(audit_fairness(frame, _spec()))
    assert "<script>x" not in page
    assert "&lt;script&gt;x" in page


def test_changes_between_reports_name_new_and_cleared_flags() -> None:
    before = flagged_report()
    after = audit_fairness(scored_frame(), _spec(tolerance=(0.2, 5.0)))
    changes = disparity_changes(before, after)
    assert list(changes.columns) == list(CHANGE_COLUMNS)
    row = changes.set_index("disparity").loc["victim_ethnicity:black:fnr"]
    assert (row["status_before"], row["change"]) == ("flagged", "cleared")
    assert row["ratio_before"] == pytest.approx(row["ratio_after"])
    back = disparity_changes(after, before).set_index("disparity")
    assert back.loc["victim_ethnicity:black:fnr", "change"] == "newly flagged"
    # every primary disparity is listed, flagged or not
    assert set(changes["disparity"]) >= {d.name for d in before.iter_disparities() if d.primary}
