"""Team scorecard logic: target cascade, team KPIs against brute force, scorecard items against the
simulation's known truth, the engagement link, suppression and segment isolation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxlab import frontline
from cxlab.report import data as rd
from cxlab.report import team_scorecard as rc
from cxlab.checks import CXDataError, CXWarning


@pytest.fixture(scope="module")
def company():
    return rd.load_data("kestrel")


def _team(team="Chat Tech", **kw):
    return rc.prepare("team_scorecard", by="team", segment=team, **kw)


@given(st.lists(st.tuples(st.floats(20, 80), st.integers(1, 500)), min_size=1, max_size=12),
       st.floats(-15, 15))
@settings(max_examples=60, deadline=None)
def test_cascade_meets_the_company_target_when_every_team_meets_its_own(units, stretch):
    """Property (exact arithmetic, no clipping inside 0–100): Σ n·target / Σ n = company target."""
    current = pd.DataFrame({"team": [f"T{i}" for i in range(len(units))],
                            "value": [v for v, _ in units], "n": [n for _, n in units]})
    now = np.average(current["value"], weights=current["n"])
    out = rc.cascade_targets(current, now + stretch)
    assert frontline.cascade_targets(current, now + stretch).company_now == pytest.approx(now)
    assert np.average(out["target"], weights=out["n"]) == pytest.approx(now + stretch)
    assert np.allclose(out["target"] - out["value"], stretch)       # equal uplift


def test_cascade_clips_to_the_scale_and_rejects_empty_input():
    current = pd.DataFrame({"team": ["A", "B"], "value": [99.0, 50.0], "n": [10, 10]})
    with pytest.warns(CXWarning, match=r"Targets of \['A'\] were clipped"):   # to the notes
        out = rc.cascade_targets(current, 80.0)
    assert out["target"].max() == 100.0
    with pytest.raises(CXDataError):
        rc.cascade_targets(current.assign(value=np.nan), 80.0)


def test_team_kpis_match_brute_force(company):
    ctx = _team()
    table = rc.kpi_table(ctx).set_index("kpi")
    c = company.contacts
    cur = c[(c.team == "Chat Tech") & (c.wave == ctx.period)]
    assert table.loc["CSAT", "value"] == pytest.approx(100 * (cur.csat.dropna() >= 4).mean())
    assert table.loc["CSAT", "n"] == cur.csat.notna().sum()
    assert table.loc["FCR", "value"] == pytest.approx(100 * cur.fcr.mean())
    assert table.loc["CES", "value"] == pytest.approx(cur.ces.mean())


def test_target_table_for_a_team_uses_the_company_uplift(company):
    ctx = _team(csat_target=80.0)
    row = rc.target_table(ctx).set_index("kpi").loc["CSAT"]
    c = company.contacts
    cur = c[(c.wave == ctx.period) & c.csat.notna()]
    company_now = 100 * (cur.csat >= 4).mean()
    team_now = 100 * (cur[cur.team == "Chat Tech"].csat >= 4).mean()
    assert row["company_target"] == 80.0 and row["company_now"] == pytest.approx(company_now)
    assert row["team_target"] == pytest.approx(team_now + 80.0 - company_now)
    assert row["status"] in {"on target", "below target", "within the noise of the target"}
    assert set(rc.target_table(ctx)["team"]) == {"Chat Tech"}            # no other team's row


def test_default_target_is_company_now_plus_stretch():
    table = rc.target_table(rc.prepare("team_scorecard", by="team")).drop_duplicates("kpi")
    table = table.set_index("kpi")
    for kpi, stretch in rc.DEFAULT_STRETCH.items():
        assert table.loc[kpi, "company_target"] == pytest.approx(
            min(rc._KPI_RANGE[kpi][1], table.loc[kpi, "company_now"] + stretch))


def test_scorecard_items_recover_the_true_drivers_of_csat():
    """Known truth (truth.json, contact_csat): empathy, ownership, explanation and next steps move
    CSAT; greeting, verification and compliance do not. Company-wide LMG shares must separate
    the two sets: every valued item above every non-valued one."""
    ctx = rc.prepare("team_scorecard", bootstrap=0)
    res, scope = rc.scorecard_drivers(ctx)
    assert scope == "Company"
    truth = ctx.data.truth["contact_csat"]
    share = res.importance["share"]
    name = lambda q: rc.nice(q.removeprefix("qa_"))  # noqa: E731
    valued = [share[name(q)] for q in truth["valued_by_customers"]]
    not_valued = [share[name(q)] for q in truth["not_valued_by_customers"]]
    assert min(valued) > max(not_valued)


def test_scorecard_table_means_match_brute_force(company):
    ctx = _team("Billing Line")
    table = rc.scorecard_table(ctx).set_index("item")
    c = company.contacts
    waves = rd.waves_of(c)
    pool = waves[waves.index(ctx.period) - 3: waves.index(ctx.period) + 1]
    sub = c[(c.team == "Billing Line") & c.wave.isin(pool)]
    assert table.loc["qa_empathy", "value"] == pytest.approx(sub.qa_empathy.mean())
    assert table.loc["qa_empathy", "company"] == pytest.approx(
        c[c.wave.isin(pool)].qa_empathy.mean())


def test_unevaluated_team_has_no_scorecard_rows():
    assert rc.scorecard_table(_team("Email Tech")).empty


def test_engagement_link_is_positive_as_simulated():
    """The simulation gives engaged teams higher CSAT (truth: +0.45 on the latent scale per
    engagement point); the company-wide slope must be positive with its interval above 0."""
    link = rc.engagement_link(rc.prepare("team_scorecard"))
    assert link["slope"] > 0 and link["ci_low"] > 0 and link["teams"] == 12


def test_engagement_table_pools_waves_and_matches_brute_force(company):
    ctx = _team("Fault Line")
    table = rc.engagement_table(ctx)
    p = company.pulse
    sub = p[(p.team == "Fault Line") & p.wave.isin(ctx.waves)]
    own = table[(table.scope == ctx.label) & (table.measure == "engagement")].iloc[0]
    assert own["value"] == pytest.approx(sub.engagement.mean()) and own["n"] == len(sub)
    assert set(table["scope"]) == {ctx.label, "Company"}


@pytest.mark.parametrize("params, message", [
    ({"csat_target": 120}, "csat_target must be a number from 0 to 100"),
    ({"ces_target": 9}, "ces_target must be a number from 1 to 7"),
    ({"top_actions": 3}, "Unknown parameter"),                 # a quarterly-only parameter
    ({"by": "team", "segment": "Chat Tek"}, "Unknown team 'Chat Tek'"),
])
def test_team_parameters_are_validated(params, message):
    with pytest.raises(CXDataError, match=message):
        rc.prepare("team_scorecard", **params)


def test_small_team_is_suppressed_with_a_high_base():
    ctx = _team("Retention Desk", min_base=200)
    assert ctx.suppressed and rc.record(ctx)["status"] == "suppressed"


def test_a_clipped_team_target_is_noted_for_the_reader_not_silenced():
    """One warning policy: frontline's clipping warning reaches ctx.notes (and the manifest)."""
    ctx = rc.prepare("team_scorecard", by="team", segment=None, csat_target=99.5)
    table = rc.target_table(ctx)
    csat = table[table["kpi"] == "CSAT"]
    assert (csat["team_target"].dropna() <= 100).all()
    assert any(n.startswith("targets: Targets of") and "clipped" in n for n in ctx.notes)
