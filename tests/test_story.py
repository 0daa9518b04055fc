"""The report's story: the summary leads with the flagged change, one ranked action list from one
rule, quadrant placement only where performance differs, honest precision, the alert digest."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import DescrStatsW

import cxlab as cx
from cxlab.report import alerts_digest, story
from cxlab.report import quarterly as rq
from cxlab.report.common import eur, share_text


@pytest.fixture(scope="module")
def south():
    return rq.prepare("quarterly", by="region", segment="South", bootstrap=50)


@pytest.fixture(scope="module")
def north():
    return rq.prepare("quarterly", by="region", segment="North", bootstrap=50)


def test_money_to_two_significant_figures():
    assert eur(291_038) == "€290k" and eur(197_944) == "€200k" and eur(383_750) == "€380k"
    assert eur(-1_704) == "−€1.7k" and eur(1_234_567) == "€1.2m" and eur(624.3) == "€620"
    assert eur(291_038, 3) == "€291k" and eur(0) == "€0" and eur(np.nan) == "–"


def test_bootstrap_share_within_resolution():
    assert share_text(1.0, 200) == "> 99 %" and share_text(0.0, 200) == "< 1 %"
    assert share_text(0.5, 200) == "50 %" and share_text(1.0, 20) == "> 95 %"


def test_south_summary_leads_with_the_outage(south):
    s = story.summary_sentences(south)
    assert 3 <= len(s) <= 5
    assert s[0].startswith("**NPS is −13.4**") and "below its baseline since 2026Q2" in s[0]
    assert "(95% CI " in s[0]
    assert story.verdict(south).startswith("NPS below its baseline since 2026Q2")
    rec = story.record(south)
    assert rec["verdict"] and any("Network reliability" in f for f in rec["flags"])


def test_quiet_region_summary_says_nothing_flagged(north):
    s = story.summary_sentences(north)
    assert "nothing is flagged" in s[0]
    assert story.verdict(north).startswith("No KPI moved beyond the noise")
    assert story.flags_table(north).empty


def test_one_rule_for_the_ranked_list(south):
    rec = rq.recommendations(south)
    pays = rec["list"] == "worth doing first"
    assert (pays == (rec["net_ci_low"] > 0)).all()          # the rule, both ways
    first_unsure = np.argmax(~pays.to_numpy()) if (~pays).any() else len(rec)
    assert pays.iloc[:first_unsure].all() and not pays.iloc[first_unsure:].any()
    for part in (rec.loc[pays], rec.loc[~pays]):             # each list by value
        assert part["net_value"].is_monotonic_decreasing
    # an action whose interval includes zero is never first
    assert rec.iloc[0]["net_ci_low"] > 0 or not pays.any()


def test_performance_gap_matches_statsmodels_and_ignores_noise():
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({d: np.clip(np.rint(6.5 + 1.8 * rng.standard_normal(n)), 1, 10)
                          for d in "abcde"})
    gaps = rq.performance_gaps(frame, list("abcde"))
    d = frame["a"] - frame[list("bcde")].mean(axis=1)
    lo, hi = DescrStatsW(d.to_numpy()).tconfint_mean(alpha=0.05)
    assert gaps.loc["a", "performance_gap_ci_low"] == pytest.approx(lo, rel=1e-10)
    assert gaps.loc["a", "performance_gap_ci_high"] == pytest.approx(hi, rel=1e-10)
    # planted equal means: at most one of five differs by chance (each 5 %); planted low: found
    assert ((gaps["performance_gap_ci_low"] > 0) | (gaps["performance_gap_ci_high"] < 0)).sum() <= 1
    frame["e"] -= 1.0
    low = rq.performance_gaps(frame, list("abcde"))
    assert low.loc["e", "performance_gap_ci_high"] < 0


def test_quadrant_marks_level_drivers(south):
    q = rq.quadrant_table(south)
    level = q["placed"] == rq.LEVEL
    crosses = (q["performance_gap_ci_low"] <= 0) & (q["performance_gap_ci_high"] >= 0)
    assert (level | ~crosses).all()      # every driver whose gap interval holds 0 is "level"
    assert q.loc["Network reliability", "placed"] == "Fix"


def test_alert_digest_routes_to_owners(tmp_path):
    data = cx.datasets.load("kestrel")
    manifest = {"template": "quarterly", "by": "region", "period": "2026Q3",
                "parameters": {"min_base": 30}}
    out = alerts_digest.write_digest(manifest, data, tmp_path)
    table = pd.read_csv(tmp_path / out["csv"])
    south = table.loc[table["segment"] == "South"]
    assert set(south.loc[south["kpi"].str.startswith("network"), "department"]) == \
        {"Network operations"}
    assert (south.loc[south["kpi"] == "network_reliability", "since"] == "2026Q2").all()
    assert not table["segment"].isin(["North", "East", "West", "Central"]).any()
    net = (tmp_path / out["pages"]["Network operations"]).read_text()
    assert "South" in net and "below its baseline since 2026Q2" in net
    assert "Nothing owned by Retail" in (tmp_path / out["pages"]["Retail"]).read_text()
    assert "customer_id" not in table.columns and "response_id" not in table.columns
