"""cxlab.frontline against known truth (truth.json of the simulated company, a synthetic linear
model) and brute force (hand arithmetic, numpy least squares, Fisher z by hand)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import cxlab as cx
from cxlab import frontline as fl
from cxlab.checks import CXDataError, CXWarning


@pytest.fixture(scope="module")
def k():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def validity(k):
    return fl.scorecard_validity(k.contacts, bootstrap=100, seed=1)


# ------------------------------------------------------------------ team targets

units = st.lists(st.tuples(st.floats(20, 80), st.integers(1, 500)), min_size=1, max_size=12)


@given(units, st.floats(-15, 15), st.sampled_from(["uplift", "gap"]))
@example(units=[(20.0, 1), (80.0, 500)], stretch=-15.0, rule="gap")     # clips T0 below 0
@settings(max_examples=60, deadline=None)
def test_if_every_team_meets_its_target_the_company_meets_its_own(units, stretch, rule):
    """Property, both rules: Σ n·target / Σ n = company target whenever no target leaves the
    0–100 scale. Values 20–80 and stretch ±15 keep the uplift rule inside it; the gap rule with
    a lowered target (g < 0) can push a weak unit below 0: then the targets are the clipped
    brute-force targets, a CXWarning names the units, and the company falls short of its own."""
    cur = pd.DataFrame({"team": [f"T{i}" for i in range(len(units))],
                        "value": [v for v, _ in units], "n": [n for _, n in units]})
    now = np.average(cur["value"], weights=cur["n"])
    if rule == "uplift":
        raw = cur["value"] + stretch
    else:   # same share g of each gap to 100 closed; brute force
        raw = cur["value"] + stretch / (100 - now) * (100 - cur["value"])
    outside = (raw < 0) | (raw > 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fl.cascade_targets(cur, now + stretch, rule=rule)
    clip_warnings = [w for w in caught if issubclass(w.category, CXWarning)
                     and "clipped" in str(w.message)]
    assert res.company_now == pytest.approx(now)
    assert np.allclose(res.table["target"], raw.clip(0, 100))
    if outside.any():
        assert len(clip_warnings) == 1
        assert str(cur.loc[outside, "team"].tolist()) in str(clip_warnings[0].message)
        assert res.company_if_met == pytest.approx(
            np.average(raw.clip(0, 100), weights=cur["n"]), abs=1e-9)
    else:
        assert not clip_warnings
        assert res.company_if_met == pytest.approx(now + stretch, abs=1e-9)
        if rule == "uplift":
            assert np.allclose(res.table["target"] - res.table["value"], stretch)


@given(st.lists(st.tuples(st.floats(20, 80), st.integers(1, 500)), min_size=2, max_size=12),
       st.floats(0.5, 15))
@settings(max_examples=40, deadline=None)
def test_gap_rule_never_clips_a_raised_target(units, stretch):
    """Raising the target (0 ≤ g ≤ 1) keeps every gap-rule target between value and 100."""
    cur = pd.DataFrame({"team": [f"T{i}" for i in range(len(units))],
                        "value": [v for v, _ in units], "n": [n for _, n in units]})
    now = np.average(cur["value"], weights=cur["n"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CXWarning)
        res = fl.cascade_targets(cur, now + stretch, rule="gap")
    assert res.company_if_met == pytest.approx(now + stretch, abs=1e-9)
    assert (res.table["target"] >= res.table["value"] - 1e-12).all()


def test_gap_rule_asks_weaker_teams_for_more():
    cur = pd.DataFrame({"team": ["weak", "strong"], "value": [60.0, 90.0], "n": [1, 1]})
    t = fl.cascade_targets(cur, 80.0, rule="gap").table.set_index("team")
    # now 75, g = 5/25 = 0.2: weak +8, strong +2 (hand arithmetic)
    assert t.loc["weak", "uplift"] == pytest.approx(8.0)
    assert t.loc["strong", "uplift"] == pytest.approx(2.0)


def test_clipping_is_reported_and_units_without_value_get_no_target():
    cur = pd.DataFrame({"team": ["A", "B", "C"], "value": [99.0, 50.0, np.nan], "n": [10, 10, 5]})
    with pytest.warns(CXWarning, match=r"\['A'\] were clipped"):
        res = fl.cascade_targets(cur, 80.0)
    t = res.table.set_index("team")
    assert t.loc["A", "target"] == 100.0 and np.isnan(t.loc["C", "target"])
    assert t.loc["C", "note"] == "no value: no target"
    with pytest.raises(CXDataError, match="No unit has a value"):
        fl.cascade_targets(cur.assign(value=np.nan), 80.0)
    with pytest.raises(CXDataError, match="outside the scale"):
        fl.cascade_targets(cur, 120.0)
    with pytest.raises(CXDataError, match="value"):
        fl.cascade_targets(cur.drop(columns="value"), 80.0)


def test_team_csat_matches_brute_force(k):
    c = k.contacts
    t = fl.team_csat(c, "2026Q3").set_index("team")
    sub = c[(c.wave == "2026Q3") & (c.team == "Chat Tech")].csat.dropna()
    assert t.loc["Chat Tech", "n"] == len(sub)
    assert t.loc["Chat Tech", "value"] == pytest.approx(100 * (sub >= 4).mean())
    assert len(t) == 12


# ------------------------------------------------------------------ driver targets

def test_driver_targets_recover_known_slopes_and_deliver_the_change():
    """Synthetic truth y = 1 + 0.5 x1 + 0.2 x2 + 0 x3 + noise, n = 20,000: slopes within 0.02
    (5 SE); the driver changes, fed back through the TRUE model, move y by the target change
    within 0.03; x3 (no effect, slope may be ≤ 0) gets (almost) nothing."""
    rng = np.random.default_rng(7)
    n = 20_000
    x = rng.normal(6, 1.5, size=(n, 3))
    x[:, 1] += 0.5 * x[:, 0]                      # correlated drivers
    y = 1 + 0.5 * x[:, 0] + 0.2 * x[:, 1] + rng.normal(0, 1, n)
    df = pd.DataFrame(x, columns=["x1", "x2", "x3"]).assign(y=y)
    res = fl.driver_targets(df, "y", ["x1", "x2", "x3"], change=0.4)
    t = res.table
    assert t.loc["x1", "slope"] == pytest.approx(0.5, abs=0.02)
    assert t.loc["x2", "slope"] == pytest.approx(0.2, abs=0.02)
    assert res.predicted_change == pytest.approx(0.4)
    assert 0.5 * t.loc["x1", "change"] + 0.2 * t.loc["x2", "change"] == pytest.approx(0.4, abs=0.03)
    assert t.loc["x3", "change"] < 0.05
    assert t["share"].sum() == pytest.approx(1.0)
    tgt = fl.driver_targets(df, "y", ["x1", "x2", "x3"], target=y.mean() + 0.4)
    assert tgt.change == pytest.approx(0.4)


def test_driver_targets_slopes_match_numpy_on_kestrel(k):
    drivers = ["network_reliability", "price_value", "billing_accuracy"]
    with pytest.warns(CXWarning, match="left out"):
        res = fl.driver_targets(k.survey, "ltr", drivers, change=0.3)
    d = k.survey[["ltr", *drivers]].dropna()
    beta = np.linalg.lstsq(np.column_stack([np.ones(len(d)), d[drivers]]), d["ltr"], rcond=None)[0]
    assert np.allclose(res.table.loc[drivers, "slope"], beta[1:])
    assert res.n == len(d)
    with pytest.raises(CXDataError, match="either change"):
        fl.driver_targets(k.survey, "ltr", drivers)


@pytest.mark.parametrize("shift", [1, 2])
def test_nps_shift_of_a_whole_point_is_brute_force_nps_of_shifted_answers(k, shift):
    """Shifting every answer by a whole point δ moves each spread answer onto s + δ exactly, so
    the shift needed for NPS(ltr + δ) (computed by hand on integers, capped at 10) is δ."""
    ltr = k.survey.loc[k.survey.wave == "2026Q3", "ltr"]
    ltr = ltr[ltr <= 10 - shift]              # no answer pushed past the top of the scale
    moved = ltr + shift
    nps = 100 * ((moved >= 9).mean() - (moved <= 6).mean())
    assert fl.nps_shift(ltr, nps) == pytest.approx(shift, abs=1e-6)
    assert fl.nps_shift(ltr, 100 * ((ltr >= 9).mean() - (ltr <= 6).mean())) == \
        pytest.approx(0, abs=1e-6)


# ------------------------------------------------------------------ scorecard validity

def test_scorecard_flags_exactly_the_items_customers_do_not_value(k, validity):
    """truth.json contact_csat: greeting, verification and compliance have zero effect; the
    flag (slope interval not above 0) must pick exactly these, and every valued item must beat
    every non-valued one on LMG share."""
    truth = k.truth["contact_csat"]
    assert set(validity.scored_not_driving) == set(truth["not_valued_by_customers"])
    share = validity.table["share"]
    assert share[truth["valued_by_customers"]].min() > share[truth["not_valued_by_customers"]].max()


def test_scorecard_slopes_cover_the_true_effects(k, validity):
    """Slope intervals (95%) cover truth's marginal effect on mean CSAT for empathy,
    explanation and next steps, and 0 for the non-valued items. Ownership also acts through
    first-contact resolution (truth: +0.35 logit of fcr per point), which the item model does not
    hold fixed, so its total effect is above the direct one."""
    truth = k.truth["contact_csat"]["marginal_effect_on_mean_csat"]
    t = validity.table
    for item in ["qa_empathy", "qa_explanation", "qa_next_steps"]:
        assert t.loc[item, "slope_ci_low"] <= truth[item] <= t.loc[item, "slope_ci_high"], item
    for item in ["qa_greeting", "qa_verification", "qa_compliance"]:
        assert t.loc[item, "slope_ci_low"] <= 0 <= t.loc[item, "slope_ci_high"], item
    assert t.loc["qa_ownership", "slope"] > truth["qa_ownership"]


def test_scorecard_means_and_counts_match_brute_force(k, validity):
    c = k.contacts
    ev = c.dropna(subset=list(fl.QA_ITEMS), how="all")
    assert validity.table.loc["qa_empathy", "mean_score"] == pytest.approx(ev.qa_empathy.mean())
    assert validity.n == len(c.dropna(subset=[*fl.QA_ITEMS, "csat"]))
    assert validity.table["share"].sum() == pytest.approx(1.0)
    assert "left out" in validity.notes[0]
    with pytest.raises(CXDataError, match="at least 100"):
        fl.scorecard_validity(c.head(300), bootstrap=0)


# ------------------------------------------------------------------ engagement link

def test_engagement_slope_covers_the_true_effect(k):
    """truth: one engagement point raises mean CSAT (1–5) by 0.28 (effect_on_mean_csat). Both
    the 12-team and the team-quarter slopes on the mean scale must cover it; the 12-team
    interval must be wider (small n)."""
    true = k.truth["contact_csat"]["effect_on_mean_csat"]["team_engagement_point"]
    team = fl.engagement_link(k.pulse, k.contacts, outcome="mean")
    tw = fl.engagement_link(k.pulse, k.contacts, outcome="mean", unit="team_wave")
    for res in (team, tw):
        assert res.ci_low <= true <= res.ci_high
    assert team.teams == tw.teams == 12 and len(team.points) == 12
    assert team.ci_high - team.ci_low > tw.ci_high - tw.ci_low


def test_engagement_link_matches_brute_force(k):
    """Team means by hand; WLS slope = numpy weighted polyfit (weights √n on residuals); r and
    its Fisher-z interval by hand."""
    res = fl.engagement_link(k.pulse, k.contacts)
    eng = k.pulse.groupby("team")["engagement"].mean()
    c = k.contacts.dropna(subset=["csat"])
    top = (c.csat >= 4).groupby(c.team).mean() * 100
    n = c.groupby("team").size()
    pts = res.points.set_index("team")
    assert np.allclose(pts["engagement"], eng[pts.index]) and np.allclose(pts["csat"], top[pts.index])
    slope = np.polyfit(eng[pts.index], top[pts.index], 1, w=np.sqrt(n[pts.index]))[0]
    assert res.slope == pytest.approx(slope)
    r = np.corrcoef(eng[pts.index], top[pts.index])[0, 1]
    half = 1.959963985 / np.sqrt(12 - 3)
    assert res.r == pytest.approx(r)
    assert res.r_ci == pytest.approx((np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)))


def test_engagement_link_rejects_too_few_points(k):
    with pytest.raises(CXDataError, match="at least 4"):
        fl.engagement_link(k.pulse, k.contacts, min_pulse=10_000)


def test_plots_have_labelled_axes(k, validity):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tc = fl.team_csat(k.contacts, "2026Q3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        axes = [fl.cascade_targets(tc, 80).plot(xlabel="CSAT (%)"), validity.plot(),
                fl.engagement_link(k.pulse, k.contacts).plot()]
    for ax in axes:
        assert ax.get_xlabel()
    plt.close("all")
