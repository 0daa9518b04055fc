"""cx.text checked against the simulator's true themes, a hand-labelled sample written for these
tests (tests/data/comments_hand_labelled.csv), statsmodels and known-truth simulations.

Floors are stated beside each assertion; the measured values are in the closing note of issue 13.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

import cxlab as cx
import cxlab.simulate as sim
import cxlab.text as cxt
from cxlab.checks import CXDataError, CXWarning

ROOT = Path(__file__).resolve().parent.parent
KESTREL = ROOT / "datasets" / "kestrel"
HAND = Path(__file__).resolve().parent / "data" / "comments_hand_labelled.csv"
THEMES = list(sim.COMMENT_THEMES)


@pytest.fixture(scope="module")
def bundle():
    comments = sim.read_comments(KESTREL)
    truth = json.loads((KESTREL / "comments_truth.json").read_text(encoding="utf-8"))
    coded = cxt.code(comments["comment"], "kestrel", language=comments["language"])
    return comments, truth, sim.theme_frame(comments, truth), coded


def precision_recall(pred: pd.Series, true: pd.Series) -> tuple[float, float, int]:
    tp = int(((pred == 1) & (true == 1)).sum())
    return tp / max(int((pred == 1).sum()), 1), tp / max(int((true == 1).sum()), 1), int(true.sum())


# ------------------------------------------------------------------------ coding vs truth
def test_coding_matches_the_simulators_true_themes(bundle):
    """Floors 0.95 precision and 0.90 recall per theme and language (typos in 3.5 % of words
    are what the codeframe misses); measured: precision 1.00, recall 0.96-0.99."""
    comments, _, true, coded = bundle
    written = comments["comment"] != ""
    assert 0.25 < written.mean() < 0.5            # many empty answers
    for lang in ("en", "pl"):
        sel = written & (comments["language"] == lang)
        for t in THEMES:
            p, r, n = precision_recall(coded.loc[sel, t], true.loc[sel, t])
            assert n >= 60, (lang, t, n)
            assert p >= 0.95 and r >= 0.90, f"{lang} {t}: precision {p:.3f}, recall {r:.3f}"
    assert (coded[~written] == 0).all().all()


def test_hand_labelled_sample():
    """Development half (used to extend the codeframe): floors 0.95 precision, 0.85 recall per
    theme. Held-out half (written after the codeframe was frozen, never tuned on): micro
    precision >= 0.85 and recall >= 0.60; this is the honest figure for new phrasings."""
    hand = pd.read_csv(HAND, keep_default_na=False)
    assert len(hand) >= 170 and set(hand["language"]) == {"en", "pl"}
    coded = cxt.code(hand["comment"], "kestrel", language=hand["language"])
    labels = hand["themes"].str.split(";")
    true = pd.DataFrame({t: labels.map(lambda x, t=t: t in x).astype(int) for t in THEMES})
    dev = hand["split"] == "development"
    for t in THEMES:
        p, r, _ = precision_recall(coded.loc[dev, t], true.loc[dev, t])
        assert p >= 0.95 and r >= 0.85, f"development {t}: precision {p:.2f}, recall {r:.2f}"
    hold = hand["split"] == "holdout"
    pred, tru = coded.loc[hold].to_numpy().ravel(), true.loc[hold].to_numpy().ravel()
    tp = int(((pred == 1) & (tru == 1)).sum())
    assert tp / pred.sum() >= 0.85 and tp / tru.sum() >= 0.60, (tp / pred.sum(), tp / tru.sum())


def test_negation_stemming_and_accents():
    texts = ["Never had any problems with billing", "my fault is still not resolved",
             "I was overcharged", "overcharging again", "no signal for two days",
             "nie było żadnych problemów z rachunkami", "ciągłe awarie sieci",
             "kolejna awaria", "nie bylo internetu przez tydzien", "swietna obsluga"]
    lang = ["en"] * 5 + ["pl"] * 5
    c = cxt.code(texts, "kestrel", language=lang)
    assert c.loc[0].sum() == 1 and c.loc[0, "praise"] == 1          # negated "problems"
    assert c.loc[1, "support_unresolved"] == 1                        # negator inside pattern
    assert c.loc[2, "billing_error"] == 1 and c.loc[3, "billing_error"] == 1   # -ed, -ing
    assert c.loc[4, "network_outage"] == 1
    assert c.loc[5].sum() == 1 and c.loc[5, "praise"] == 1
    assert c.loc[6, "network_outage"] == 1 and c.loc[7, "network_outage"] == 1  # awari*
    assert c.loc[8, "network_outage"] == 1                            # no diacritics
    assert c.loc[9, "praise"] == 1


def test_codeframe_is_editable_and_errors_are_clear(tmp_path):
    frame = {"themes": {"pets": {"en": ["dog*", "cat"], "pl": ["pies", "kot*"]}}}
    c = cxt.code(["my dogs", "no cat here", "kotek", ""], frame, language=["en", "en", "pl", "en"])
    assert c["pets"].tolist() == [1, 0, 1, 0]
    path = tmp_path / "mine.yaml"
    path.write_text("themes:\n  late:\n    en: ['late ... delivery']\n", encoding="utf-8")
    assert cxt.code(["the very late parcel delivery"], path)["late"].tolist() == [1]
    with pytest.raises(CXDataError, match="No codeframe"):
        cxt.load_codeframe("nope")
    with pytest.raises(CXDataError, match="language has values"):
        cxt.code(["a", "b"], "kestrel", language=["en", "de"])
    with pytest.raises(CXDataError, match="must be strings"):
        cxt.code(["a", 3], "kestrel")


# ------------------------------------------------------------------------------- discovery
def test_discovered_themes_are_pure(bundle):
    """Comments with exactly one true theme, both languages. TF-IDF + NMF finds phrasings, not
    themes: the generator words each theme in several templates that share no words, so at 8
    components purity is only about 0.46 and it rises with the number of components. Floor at
    40 components: size-weighted purity (share of each discovered theme's comments in its
    majority true theme) >= 0.65, and >= 7 of the 8 true themes are some theme's majority."""
    comments, _, true, _ = bundle
    one = (true.sum(axis=1) == 1) & (comments["comment"] != "")
    d = cxt.discover(comments.loc[one, "comment"], 40, seed=0, language=comments.loc[one, "language"])
    assert d.assignments.index.equals(comments.index[one])
    assert d.terms.shape == (40, 10)
    label = true.loc[one].idxmax(axis=1)
    tab = pd.crosstab(d.assignments, label).drop(index=-1, errors="ignore")
    purity = tab.max(axis=1).sum() / tab.to_numpy().sum()
    assert purity >= 0.65, purity
    assert tab.idxmax(axis=1).nunique() >= 7


def test_discover_rejects_too_few_texts():
    with pytest.raises(CXDataError, match="at least"):
        cxt.discover(["a b", ""], 3)


# ------------------------------------------------------------------------------- sentiment
def test_sentiment_against_true_themes(bundle):
    """Praise-only comments read positive and problem-only comments negative in >= 85 % of
    cases (English and Polish); negation flips a word."""
    comments, _, true, _ = bundle
    s = cxt.sentiment(comments["comment"], language=comments["language"])
    written = comments["comment"] != ""
    praise_only = written & (true["praise"] == 1) & (true.sum(axis=1) == 1)
    problems_only = written & (true["praise"] == 0) & (true.sum(axis=1) >= 1)
    for lang in ("en", "pl"):
        sel = comments["language"] == lang
        assert (s.loc[praise_only & sel, "label"] == "positive").mean() >= 0.85
        assert (s.loc[problems_only & sel, "label"] == "negative").mean() >= 0.85
    pair = cxt.sentiment(["good", "not good", "dobra obsługa", "nie jest dobra"],
                         language=["en", "en", "pl", "pl"])
    assert pair["score"].tolist() == [1.0, -1.0, 1.0, -1.0]


# ---------------------------------------------------------------------------- theme impact
def _known_truth(n, rng):
    """Themes x (correlated Bernoulli); P(promoter) and P(detractor) linear in x, so the
    population OLS coefficient on 100 * (promoter - detractor) is known exactly."""
    z = rng.standard_normal((n, 1))
    x = (rng.standard_normal((n, 3)) + 0.6 * z < np.array([-0.8, -1.0, -0.5])).astype(int)
    b_p, b_d = np.array([-0.15, -0.10, 0.05]), np.array([0.20, 0.05, -0.05])
    p_p, p_d = 0.45 + x @ b_p, 0.15 + x @ b_d
    u = rng.random(n)
    ltr = np.where(u < p_p, 10, np.where(u < p_p + p_d, 3, 8))
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(ltr=ltr), 100 * (b_p - b_d)


def test_theme_impact_equals_statsmodels_and_wilson():
    rng = np.random.default_rng(5)
    data, _ = _known_truth(2000, rng)
    data["region"] = rng.choice(["N", "S", "E"], len(data))
    res = cxt.theme_impact(data, "ltr", ["a", "b", "c"], controls="region", confidence=0.9)
    y = 100 * ((data["ltr"] >= 9).astype(float) - (data["ltr"] <= 6))
    X = sm.add_constant(pd.concat([data[["a", "b", "c"]].astype(float),
                                   pd.get_dummies(data["region"], drop_first=True, dtype=float)], axis=1))
    fit = sm.OLS(y, X).fit(cov_type="HC3")
    np.testing.assert_allclose(res["effect"], fit.params[["a", "b", "c"]], rtol=1e-10)
    np.testing.assert_allclose(res["effect_ci_low"], fit.conf_int(0.1).loc[["a", "b", "c"], 0], rtol=1e-10)
    lo, hi = proportion_confint(data[["a", "b", "c"]].sum(), len(data), alpha=0.1, method="wilson")
    np.testing.assert_allclose(res["prevalence_ci_low"], 100 * lo, rtol=1e-9)
    np.testing.assert_allclose(res["prevalence_ci_high"], 100 * hi, rtol=1e-9)
    assert res.attrs["unit"] == "NPS points"
    # weights: WLS with the same robust errors; unit weights change nothing
    w = rng.uniform(0.5, 2, len(data))
    resw = cxt.theme_impact(data.assign(w=w), "ltr", ["a", "b", "c"], weights="w")
    fw = sm.WLS(y, X.drop(columns=["S", "N"], errors="ignore")[["const", "a", "b", "c"]],
                weights=w).fit(cov_type="HC3")
    np.testing.assert_allclose(resw["effect"], fw.params[["a", "b", "c"]], rtol=1e-10)
    res1 = cxt.theme_impact(data.assign(w=1.0), "ltr", ["a", "b", "c"], weights="w")
    np.testing.assert_allclose(res1["effect"], cxt.theme_impact(data, "ltr", ["a", "b", "c"])["effect"])


def test_theme_impact_bad_input():
    data = pd.DataFrame({"ltr": [1, 9, 10, 5, np.nan], "t": [0, 1, 1, 0, 1], "u": [0, 2, 1, 0, 1]})
    with pytest.raises(CXDataError, match="'u' must be 0/1"):
        cxt.theme_impact(data, "ltr", ["t", "u"])
    with pytest.warns(CXWarning, match="1 of 5 rows excluded"):
        out = cxt.theme_impact(data, "ltr", ["t"])
    assert out.attrs["n"] == 4 and out.attrs["excluded"] == {"ltr": 1}
    with pytest.raises(CXDataError, match="0-10 score"):
        cxt.theme_impact(data.assign(ltr=[1.5, 2, 3, 4, 5]), "ltr", ["t"])


@pytest.mark.slow
def test_theme_impact_interval_coverage():
    """200 replications at n = 1,500 (NPS outcome) and n = 1,500 (binary outcome, linear
    probabilities): 95 % intervals cover the known coefficients in 91-99 % of replications
    (binomial 99.9 % range around 95 % for 600 interval-replications is 92.3-97.3 %)."""
    rng = np.random.default_rng(11)
    hits, hits_b = [], []
    for _ in range(200):
        data, beta = _known_truth(1500, rng)
        r = cxt.theme_impact(data, "ltr", ["a", "b", "c"])
        hits.append((r["effect_ci_low"] <= beta) & (beta <= r["effect_ci_high"]))
        p = 0.2 + data[["a", "b", "c"]].to_numpy() @ np.array([0.15, 0.05, -0.1])
        data["churned"] = (rng.random(len(data)) < p).astype(int)
        rb = cxt.theme_impact(data, "churned", ["a", "b", "c"])
        truth_b = np.array([15.0, 5.0, -10.0])
        hits_b.append((rb["effect_ci_low"] <= truth_b) & (truth_b <= rb["effect_ci_high"]))
    for h in (hits, hits_b):
        cover = np.asarray(h).mean()
        assert 0.923 <= cover <= 0.973, cover


def test_theme_effects_recovered_on_the_bundled_company(bundle):
    """With the true themes, each 99 % interval (8 themes: family-wise about 92 %) of the
    bundled company contains the population coefficient of comments_truth.json; with the coded
    themes as well (coding errors are rare, so the target barely moves)."""
    comments, truth, true, coded = bundle
    k = cx.datasets.load("kestrel")
    written = (comments["comment"] != "").to_numpy()
    target = pd.Series({t: v["value"] for t, v in truth["theme_effects"]["ltr_nps_points"].items()})
    for themes in (true, coded):
        data = themes[written].assign(ltr=k.survey["ltr"].to_numpy()[written])
        res = cxt.theme_impact(data, "ltr", THEMES, confidence=0.99)
        inside = (res["effect_ci_low"] <= target) & (target <= res["effect_ci_high"])
        assert inside.all(), res.assign(target=target)[~inside]


def test_theme_hazard_ratios_recovered_with_cx_retention(bundle):
    """Themes in a churn model: cx.retention.churn_cox on the episode frame, theme columns as
    predictors. Against the population log hazard ratios of comments_truth.json: every theme
    within 3.29 standard errors (99.9 %) and the joint Wald test of all eight p >= 0.01. (The
    bundled company's slow_speed estimate is 2.85 SE below its population value, an unlucky draw
    that a per-theme 99 % check would flag; the joint test gives p = 0.23.)"""
    from scipy import stats
    comments, truth, true, _ = bundle
    k = cx.datasets.load("kestrel")
    frame = cx.retention.analysis_frame(k, responses="all")
    data = frame.merge(true.assign(response_id=comments["response_id"],
                                   written=comments["comment"] != ""), on="response_id")
    data = data[data["written"]]
    cox = cx.retention.churn_cox(data, "duration", "churned", THEMES)
    table = cox.summary().set_index("term").loc[THEMES]
    target = np.array([truth["theme_effects"]["churn_log_hazard_ratio"][t]["value"] for t in THEMES])
    z = (table["coef"].to_numpy() - target) / table["se"].to_numpy()
    assert np.all(np.abs(z) < 3.29), dict(zip(THEMES, z.round(2)))
    V = np.asarray(cox.fit.cov_params())[-len(THEMES):, -len(THEMES):]
    d = table["coef"].to_numpy() - target
    assert stats.chi2.sf(d @ np.linalg.solve(V, d), len(THEMES)) >= 0.01


@pytest.mark.slow
def test_theme_effect_intervals_cover_the_truth_across_companies():
    """25 fresh companies (seeds 9000-9024, not those the truth was computed from): the 95 %
    intervals of the NPS effect (theme_impact) and of the Cox log hazard ratio cover the
    population values of comments_truth.json in 91-99 % of the 200 theme-intervals each
    (99 % binomial range around 95 %: 91.0-99.0 %)."""
    truth = json.loads((KESTREL / "comments_truth.json").read_text(encoding="utf-8"))["theme_effects"]
    nps_t = np.array([truth["ltr_nps_points"][t]["value"] for t in THEMES])
    cox_t = np.array([truth["churn_log_hazard_ratio"][t]["value"] for t in THEMES])
    hit_nps, hit_cox = [], []
    for seed in range(9000, 9025):
        comp = sim.company(seed=seed)
        frame, tr = sim.comments(comp)
        themes = sim.theme_frame(frame, tr)
        keep = (frame["comment"] != "").to_numpy()
        data = themes[keep].assign(ltr=comp.survey["ltr"].to_numpy()[keep])
        r = cxt.theme_impact(data, "ltr", THEMES)
        hit_nps.append((r["effect_ci_low"] <= nps_t) & (nps_t <= r["effect_ci_high"]))
        ep = cx.retention.analysis_frame(comp, responses="all").set_index("response_id")
        d = ep.loc[frame["response_id"][keep]].reset_index().join(themes[keep].reset_index(drop=True))
        t = cx.retention.churn_cox(d, "duration", "churned", THEMES).summary().set_index("term")
        lo, hi = np.log(t.loc[THEMES, "ci_low"]), np.log(t.loc[THEMES, "ci_high"])
        hit_cox.append((lo <= cox_t) & (cox_t <= hi))
    for h in (hit_nps, hit_cox):
        assert 0.91 <= np.asarray(h).mean() <= 0.99, np.asarray(h).mean()


def test_themes_are_drivers(bundle):
    """Theme columns go straight into cx.drivers.relative_importance: LMG shares sum to the R²
    of the OLS of ltr on the themes (statsmodels)."""
    comments, _, _, coded = bundle
    k = cx.datasets.load("kestrel")
    written = (comments["comment"] != "").to_numpy()
    data = coded[written].assign(ltr=k.survey["ltr"].to_numpy()[written].astype(float))
    imp = cx.drivers.relative_importance(data, "ltr", THEMES, method="lmg")
    r2 = sm.OLS(data["ltr"], sm.add_constant(data[THEMES].astype(float))).fit().rsquared
    assert imp["importance"].sum() == pytest.approx(r2, rel=1e-8)
    assert imp["importance"].idxmax() == "praise"


def test_revenue_at_risk_per_theme(bundle):
    """theme_revenue_at_risk = customers with the theme x (their 12-month churn - churn of
    commenters with no theme) x annual revenue, checked by hand."""
    comments, _, true, _ = bundle
    k = cx.datasets.load("kestrel")
    frame = cx.retention.analysis_frame(k, responses="all", horizon=12)
    data = frame.merge(true.assign(response_id=comments["response_id"],
                                   written=comments["comment"] != ""), on="response_id")
    data = data[data["written"]].assign(annual=lambda d: 12 * d["monthly_revenue"])
    with pytest.warns(CXWarning, match="excluded"):
        res = cxt.theme_revenue_at_risk(data, THEMES, "churn_12m", "annual")
    obs = data[data["churn_12m"].notna()]
    base = obs.loc[obs[THEMES].sum(axis=1) == 0, "churn_12m"].mean()
    sub = obs[obs["network_outage"] == 1]
    expected = len(sub) * (sub["churn_12m"].mean() - base) * sub["annual"].mean()
    table = res.table.set_index("group")
    assert table.loc["network_outage", "revenue_at_risk"] == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------------ privacy: redaction
PII_COMMENTS = [
    ("en", "My name is Joanna Pietrzak, email joanna.p@gmail.com, call 07700 900123", 
     ["Joanna", "Pietrzak", "joanna.p@gmail.com", "07700 900123"]),
    ("en", "Card 4111 1111 1111 1111 was charged twice, account no 88123456",
     ["4111 1111 1111 1111", "88123456"]),
    ("en", "Refund to GB82 WEST 1234 5698 7654 32 please. Regards, Tom", ["GB82", "Tom"]),
    ("en", "Mrs Henderson in the shop was rude; my mobile is +44 7911 123456",
     ["Henderson", "+44 7911 123456", "7911"]),
    ("en", "Hi Sandra, thanks. Customer ref 5551234567", ["Sandra", "5551234567"]),
    ("pl", "Nazywam się Jan Kowalski, tel. +48 601 234 567, jan.kowalski@wp.pl",
     ["Jan", "Kowalski", "601 234 567", "jan.kowalski@wp.pl"]),
    ("pl", "Pani Wiśniewska obiecała zwrot na PL61 1090 1014 0000 0712 1981 2874",
     ["Wiśniewska", "PL61", "1090 1014"]),
    ("pl", "Pozdrawiam, Marek Zieliński. Numer klienta 123456789", ["Marek", "Zieliński", "123456789"]),
    ("pl", "Dzień dobry Anno, karta 5500 0000 0000 0004 obciążona", ["Anno", "5500 0000 0000 0004"]),
]


def test_redact_removes_personal_data():
    out = cxt.redact([t for _, t, _ in PII_COMMENTS])
    for (_, text, secrets), red in zip(PII_COMMENTS, out):
        for s in secrets:
            assert s not in red, (s, red)
    assert out[1].startswith("Card [CARD]")
    assert "[IBAN]" in out[6] and "[EMAIL]" in out[5] and "[PHONE]" in out[5]
    # not personal data: left alone
    keep = cxt.redact(["Paying for 500Mb, getting 40", "waited 45 minutes", "price up by 10%"])
    assert keep.tolist() == ["Paying for 500Mb, getting 40", "waited 45 minutes", "price up by 10%"]


def test_redact_clears_the_bundled_personal_data(bundle):
    """Every comment the simulator gave personal data loses it: no e-mail, no run of 6+ digits,
    and none of the simulator's fake names after a cue."""
    comments, truth, _, _ = bundle
    ids = [i for kind in truth["personal_data"].values() for i in kind]
    assert len(ids) >= 100
    sel = comments["response_id"].isin(ids)
    red = cxt.redact(comments.loc[sel, "comment"])
    assert not red.str.contains("@").any()
    assert not red.str.contains(r"\d[\d ]{5,}\d").any()
    names = sim._FIRST["en"] + sim._FIRST["pl"] + sim._LAST["en"] + sim._LAST["pl"]
    leaked = red[red.str.contains("|".join(names))]
    assert leaked.empty, leaked.head().tolist()


def test_quotes_are_safe(bundle):
    """The quotes table: redacted, no ids or row labels, only cells with at least min_base
    comments; a comment stuffed with personal data never reaches it."""
    comments, _, _, coded = bundle
    k = cx.datasets.load("kestrel")
    written = (comments["comment"] != "").to_numpy()
    texts = comments.loc[written, "comment"].copy()
    stuffed = ("The internet keeps dropping. My name is Joanna Pietrzak, joanna.p@gmail.com, "
               "+48 601 234 567, card 4111 1111 1111 1111")
    texts.iloc[:200] = stuffed                                   # a flood of personal data
    themes = cxt.code(texts, "kestrel", language=comments.loc[written, "language"])
    region = k.survey.loc[written, "region"].to_numpy()
    region = region + " " + k.survey.loc[written, "wave"].to_numpy()   # small cells exist
    q = cxt.quotes(texts, themes, by=region, min_base=30, n=3, seed=1)
    assert list(q.columns) == ["theme", "group", "base", "quote"]
    assert isinstance(q.index, pd.RangeIndex)
    assert (q["base"] >= 30).all()
    joined = " ".join(q["quote"])
    for secret in ("Joanna", "Pietrzak", "gmail", "601 234", "4111"):
        assert secret not in joined
    assert not re.search(r"R\d{7}|K\d{6}", joined)
    counts = themes.groupby(region).sum()
    small = [(t, g) for t in themes.columns for g in counts.index if counts.loc[g, t] < 30]
    assert small and set(small) == set(q.attrs["suppressed"])
    assert not any(((q["theme"] == t) & (q["group"] == g)).any() for t, g in small)
    with pytest.raises(CXDataError, match="aligned"):
        cxt.quotes(texts, themes.iloc[:5])


def test_outage_theme_rises_in_the_south_in_2026q2(bundle):
    """The scripted event shows in the coded comments: the South's outage share jumps from
    2026Q2 on (by >= 20 points over its 2025 level) while other regions stay flat (< 5)."""
    comments, _, _, coded = bundle
    k = cx.datasets.load("kestrel")
    written = comments["comment"] != ""
    d = coded[written].assign(region=k.survey["region"], wave=k.survey["wave"])
    share = d.groupby([d["region"] == "South", d["wave"] >= "2026Q2"])["network_outage"].mean() * 100
    before = d[d["wave"].str.startswith("2025")]
    south_2025 = before.loc[before["region"] == "South", "network_outage"].mean() * 100
    assert share.loc[(True, True)] - south_2025 >= 20
    other_2025 = before.loc[before["region"] != "South", "network_outage"].mean() * 100
    assert abs(share.loc[(False, True)] - other_2025) < 5


def test_parallel_coding_equals_serial(bundle):
    comments, _, _, _ = bundle
    texts = comments["comment"] + " " + comments.index.astype(str)     # 12,284 distinct texts
    serial = cxt.code(texts, "kestrel", language=comments["language"])
    parallel = cxt.code(texts, "kestrel", language=comments["language"], n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
