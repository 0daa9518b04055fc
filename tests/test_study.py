"""cx.study: schema, validation report, preparation and the study sections.

Expected values come from the construction of each frame (an 11 planted at rows 3 and 7 must be
reported as 11 at rows 3 and 7), from brute-force pandas counts, from scipy (Friedman's chi-square
for Kendall's W) or from the known truth of simulated data (examples/make_messy_example.py and the
bundled Kestrel company) — never from numbers the study code produced itself.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cxlab as cx
from cxlab import cli
from cxlab import study as st
from cxlab.checks import CXDataError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DRIVERS = ["a", "b", "c", "d"]
TRUE_W = {"a": 0.8, "b": 0.5, "c": 0.3, "d": 0.1}


def make(n=240, seed=0):
    """Survey with four 1–5 drivers (known weights), a 0–10 outcome, id, segment and weight."""
    rng = np.random.default_rng(seed)
    halo = rng.normal(size=n)
    X = {k: np.clip(np.round(3 + 0.4 * halo + rng.normal(size=n)), 1, 5) for k in DRIVERS}
    y = np.clip(np.round(0.5 + sum(TRUE_W[k] * X[k] for k in DRIVERS) + rng.normal(0, 1, n)), 0, 10)
    return pd.DataFrame({"rid": [f"r{i:04d}" for i in range(n)], "cid": [f"c{i:04d}" for i in range(n)],
                         "ltr": y, **X, "seg": rng.choice(["x", "y"], n),
                         "w": rng.uniform(0.5, 1.5, n)})


def schema(**extra):
    spec = {"outcome": {"column": "ltr", "scale": [0, 10]},
            "drivers": {"scale": [1, 5], "columns": DRIVERS}, "id": "rid", "segments": ["seg"],
            "analysis": {"bootstrap": 30, "seed": 1}}
    spec.update(extra)
    return st.load_schema(spec)


def issue(report, check, column=None):
    found = [i for i in report.issues if i.check == check and (column is None or i.column == column)]
    assert len(found) == 1, f"expected one {check!r} issue, got {report.summary()}"
    return found[0]


# ------------------------------------------------------------------------------------- schema

def test_schema_forms_and_kind_inference(tmp_path):
    s = st.load_schema({"outcome": {"column": "ltr", "scale": [0, 10]},
                        "drivers": ["a", "b"], "driver_scale": [1, 5]})
    assert s.outcome.kind == "nps" and [d.scale for d in s.drivers] == [(1, 5), (1, 5)]
    s = st.load_schema({"outcome": {"column": "ok", "positive": "yes"},
                        "drivers": {"a": [1, 7], "b": {"scale": [1, 5], "reverse": True,
                                                       "group": "G"}}})
    assert s.outcome.kind == "binary" and s.drivers[1].reverse and s.groups == {"G": ["b"]}
    s = st.load_schema({"outcome": {"column": "sat", "scale": [1, 5]}, "drivers": ["a"]})
    assert s.outcome.kind == "rating"
    cfg = tmp_path / "sub" / "study.yaml"
    cfg.parent.mkdir()
    cfg.write_text("data: survey.csv\noutcome: {column: ltr, scale: [0, 10]}\ndrivers: [a]\n")
    s = st.load_schema(cfg)
    assert st.data_file(s) == cfg.parent.resolve() / "survey.csv"


def test_minimum_base_has_one_name_and_one_default():
    from cxlab.contract import MIN_BASE
    spec = {"outcome": {"column": "ltr", "scale": [0, 10]}, "drivers": ["a"]}
    assert st.load_schema(spec).min_base == MIN_BASE
    assert st.load_schema({**spec, "min_base": 50}).min_base == 50
    assert st.load_schema({**spec, "min_segment": 40}).min_base == 40      # former name
    with pytest.raises(CXDataError, match="minimum base once"):
        st.load_schema({**spec, "min_base": 50, "min_segment": 40})


@pytest.mark.parametrize("spec,match", [
    ({"outcome": "ltr", "drivrs": ["a"]}, "did you mean 'drivers'"),
    ({"outcome": {"column": "sat"}, "drivers": ["a"]}, "state its scale"),
    ({"outcome": {"column": "ltr", "scale": [0, 10]}, "drivers": ["a", "a"]}, "more than once"),
    ({"outcome": {"column": "ltr", "scale": [0, 10]}, "drivers": ["a"],
      "groups": {"G": ["zz"]}}, "'zz', which is not a driver"),
    ({"outcome": {"column": "ltr", "scale": [5, 1]}, "drivers": ["a"]}, "low < high"),
    ({"outcome": {"column": "ltr", "scale": [0, 10]}, "drivers": {"a": {"reverse": True}}},
     "no scale"),
    ({"outcome": {"column": "ltr", "scale": [0, 10]}, "drivers": ["a"],
      "analysis": {"methods": ["magic"]}}, "Unknown importance method"),
    ({"outcome": {"column": "ltr", "scale": [0, 10]}, "drivers": ["a"], "bootstrap": -3},
     "non-negative"),
])
def test_schema_errors_are_readable(spec, match):
    with pytest.raises(CXDataError, match=match):
        st.load_schema(spec)


# ------------------------------------------------------------------------------------- validation

def test_clean_data_passes():
    df = make()
    rep = st.validate(schema(), df)
    assert rep.ok and rep.usable_rows == len(df) and rep.n_rows == len(df)
    assert "0 error(s)" in rep.to_text() and "<li" in rep.to_html() or not rep.issues


def test_out_of_scale_names_values_and_rows_and_stops_the_study():
    df = make()
    df.loc[[3, 7], "b"] = 11
    df.loc[12, "ltr"] = 99
    rep = st.validate(schema(), df)
    i = issue(rep, "out of scale", "b")
    assert i.severity == "error" and i.n == 2 and i.rows == [3, 7] and i.values == [11]
    assert issue(rep, "out of scale", "ltr").rows == [12]
    assert "missing_codes: {ltr: [99]}" in issue(rep, "out of scale", "ltr").message
    with pytest.raises(CXDataError, match=r"'b' is rated 1–5 but 2 value\(s\) are outside: 11"):
        st.prepare(schema(), df)
    fixed = st.validate(schema(missing_codes={"ltr": [99], "b": [11]}), df)
    assert fixed.ok and fixed.columns.set_index("column").loc["b", "n_recoded_missing"] == 2


def test_text_in_numeric_column():
    df = make().astype({"c": object})
    df.loc[5, "c"] = "seven"
    i = issue(st.validate(schema(), df), "text in numeric column", "c")
    assert i.severity == "error" and i.rows == [5] and i.values == ["seven"]


def test_infinite_values_are_errors_even_without_a_scale():
    df = make()
    df.loc[6, "d"] = np.inf
    df.loc[9, "w"] = -np.inf
    rep = st.validate(schema(drivers=DRIVERS, weight="w"), df)
    assert issue(rep, "infinite values", "d").rows == [6]
    assert issue(rep, "infinite values", "w").rows == [9] and not rep.ok


def test_duplicate_ids():
    df = make()
    df.loc[[10, 11], "rid"] = df.loc[9, "rid"]
    i = issue(st.validate(schema(), df), "duplicate ids", "rid")
    assert i.severity == "error" and i.n == 2 and i.rows == [10, 11] and i.values == ["r0009"]


def test_missing_column_suggests_the_close_name():
    rep = st.validate(schema(segments=["segg"]), make())
    assert "did you mean 'seg'" in issue(rep, "columns").message and not rep.ok


def test_join_unmatched_ids_counted_and_no_match_is_an_error():
    df = make()
    cust = pd.DataFrame({"cid": df["cid"].iloc[7:], "churned": 0, "rev": 10.0})
    spec = {"customers": {"path": "x.csv", "id": "cid", "churned": "churned", "revenue": "rev"}}
    i = issue(st.validate(schema(**spec), df, cust), "join", "cid")
    assert i.severity == "warning" and i.n == 7 and i.rows == list(range(7))
    none = cust.assign(cid=cust["cid"].str.upper())
    assert issue(st.validate(schema(**spec), df, none), "join").severity == "error"
    dup = pd.concat([cust, cust.iloc[:2]])
    assert issue(st.validate(schema(**spec), df, dup), "customer file").severity == "error"


def test_join_keys_match_across_int_and_float_ids():
    df = make().assign(num=np.arange(240, dtype=float))
    df.loc[0, "num"] = np.nan                          # a float column because of the gap
    cust = pd.DataFrame({"num": np.arange(240), "churned": 0})
    rep = st.validate(schema(customers={"path": "x", "id": "num", "churned": "churned"}), df, cust)
    assert not [i for i in rep.issues if i.check == "join"]


def test_missing_share_per_column():
    df = make()
    rows = np.arange(0, 240, 5)                       # 48 rows = 20 %
    df.loc[rows, "c"] = np.nan
    rep = st.validate(schema(), df)
    tab = rep.columns.set_index("column")
    assert tab.loc["c", "n_missing"] == 48 and tab.loc["c", "share_missing"] == pytest.approx(0.2)
    assert rep.usable_rows == 240 - 48
    df.loc[np.arange(0, 240) % 5 != 4, "d"] = np.nan   # 80 % missing
    assert issue(st.validate(schema(), df), "mostly missing", "d").severity == "warning"


def test_reversed_scale_warns_and_reverse_true_fixes_it():
    df = make().assign(d=lambda f: 6 - f["a"])          # 'd' asked the other way round
    rep = st.validate(schema(), df)
    assert issue(rep, "reversed scale", "d").severity == "warning"
    assert not [i for i in rep.issues if i.check == "reversed scale" and i.column != "d"]
    sch = schema(drivers={"a": [1, 5], "b": [1, 5], "c": [1, 5],
                          "d": {"scale": [1, 5], "reverse": True}})
    rep2 = st.validate(sch, df)
    assert issue(rep2, "reversed scale", "d").severity == "info"
    prepared = st.prepare(sch, df, report=rep2)
    np.testing.assert_array_equal(prepared.data["d"], 6 - df["d"])


def test_straight_liners_counted_as_brute_force():
    df = make()
    df.loc[20:31, DRIVERS] = 3.0
    brute = int(((df[DRIVERS].nunique(axis=1) == 1) & (df[DRIVERS].notna().sum(axis=1) >= 3)).sum())
    i = issue(st.validate(schema(), df), "straight-lining")
    assert i.n == brute and i.n >= 12 and i.severity == "warning"
    dropped = st.prepare(schema(straightliners="drop"), df)
    step = dropped.flow.set_index("step").loc["straight-liners"]
    assert step["excluded"] == brute and len(dropped.complete) == len(df) - brute


def test_small_segments_warn_and_are_suppressed():
    df = make()
    df.loc[:4, "seg"] = "tiny"
    i = issue(st.validate(schema(), df), "small segments", "seg")
    assert "tiny (n = 5)" in i.message
    sd = st.prepare(schema(), df)
    tab = st.segment_metrics(sd, "seg").set_index("seg")
    assert bool(tab.loc["tiny", "suppressed"]) and not bool(tab.loc["x", "suppressed"])


def test_binary_outcome_levels():
    df = make().assign(ok=lambda f: np.where(f["ltr"] >= 8, "yes", "no"))
    base = {"outcome": {"column": "ok", "kind": "binary"}}
    assert st.validate(schema(**base), df).ok                  # yes/no is understood
    df3 = df.assign(ok=df["ok"].where(df.index != 4, "maybe"))
    i = issue(st.validate(schema(**base), df3), "binary outcome")
    assert "3 distinct values" in i.message
    sat = df.assign(ok=np.where(df["ltr"] >= 8, "satisfied", "neutral or dissatisfied"))
    assert "positive:" in issue(st.validate(schema(**base), sat), "binary outcome").message
    good = st.validate(schema(outcome={"column": "ok", "positive": "satisfied"}), sat)
    assert good.ok
    prepared = st.prepare(schema(outcome={"column": "ok", "positive": "satisfied"}), sat)
    np.testing.assert_array_equal(prepared.data["ok"], (df["ltr"] >= 8).astype(float))


def test_weights():
    df = make()
    df.loc[2, "w"] = -1
    assert issue(st.validate(schema(weight="w"), df), "weight").severity == "error"
    df.loc[2, "w"] = 0
    df.loc[8, "w"] = 0
    rep = st.validate(schema(weight="w"), df)
    assert issue(rep, "weight").severity == "warning" and rep.usable_rows == 238
    sd = st.prepare(schema(weight="w"), df, report=rep)
    assert sd.flow.set_index("step").loc["positive weight", "excluded"] == 2


def test_too_few_usable_rows_is_an_error():
    df = make(n=40)
    rep = st.validate(schema(), df.assign(c=np.where(np.arange(40) < 25, np.nan, df["c"])))
    assert issue(rep, "usable rows").severity == "error"


def test_flow_counts_every_exclusion():
    df = make()
    df.loc[[1, 2], "ltr"] = np.nan
    df.loc[[2, 3, 4], "a"] = np.nan
    df.loc[[5], "d"] = np.nan
    sd = st.prepare(schema(filter={"seg": "x"}), df)
    keep = df[df["seg"] == "x"]
    flow = sd.flow.set_index("step")
    assert flow.loc["filter", "excluded"] == (df["seg"] != "x").sum()
    assert flow.loc["outcome answered", "excluded"] == keep["ltr"].isna().sum()
    with_y = keep[keep["ltr"].notna()]
    assert flow.loc["all drivers answered", "excluded"] == with_y[DRIVERS].isna().any(axis=1).sum()
    assert len(sd.complete) == flow["rows_after"].iloc[-1] == with_y[DRIVERS].notna().all(axis=1).sum()


def test_validate_file_in_chunks_matches_in_memory(tmp_path):
    df = make(n=500, seed=3)
    df.loc[[3, 400], "b"] = 9
    df.loc[[250, 499], "rid"] = "r0001"                # duplicates across chunk borders
    df.loc[100:110, DRIVERS] = 2.0
    df.loc[50:53, "seg"] = "tiny"
    df = df.astype({"c": object})
    df.loc[[5, 60, 130, 444], "c"] = "Don't know"      # counted by the reader in every chunk
    path = tmp_path / "survey.csv"
    df.to_csv(path, index=False, sep=";", decimal=",")
    sch = schema(data=str(path))
    whole = st.validate(sch, cx.io.read_survey(path))
    chunked = st.validate_file(sch, path, chunksize=37)
    key = ["severity", "check", "column", "n"]
    assert whole.summary()[key].equals(chunked.summary()[key])
    assert issue(chunked, "duplicate ids").rows == [250, 499]
    assert issue(chunked, "out of scale", "b").rows == [3, 400]
    pd.testing.assert_frame_equal(whole.columns, chunked.columns)
    assert chunked.usable_rows == whole.usable_rows
    assert issue(chunked, "read", "c").n == 4


# ------------------------------------------------------------------------------------- sections

def test_kendall_w_against_friedman_chi_square():
    rng = np.random.default_rng(0)
    ranks = np.array([rng.permutation(6) + 1 for _ in range(4)], dtype=float)   # 4 raters, 6 items
    chi2 = stats.friedmanchisquare(*ranks.T).statistic      # scipy: items as groups, raters as blocks
    assert st.kendall_w(ranks) == pytest.approx(chi2 / (4 * (6 - 1)), rel=1e-12)
    assert st.kendall_w(np.tile(np.arange(1, 6), (3, 1))) == pytest.approx(1.0)
    assert st.kendall_w(np.array([[1, 2, 3, 4], [4, 3, 2, 1]])) == pytest.approx(0.0)


def test_outcome_summary_matches_hand_counts():
    df = make()
    sd = st.prepare(schema(), df)
    out = st.outcome_summary(sd).set_index("metric")
    y = df["ltr"]
    nps = 100 * ((y >= 9).mean() - (y <= 6).mean())
    assert out.loc["NPS", "value"] == pytest.approx(nps, abs=1e-9)
    assert out.loc["Mean", "value"] == pytest.approx(y.mean(), abs=1e-12)
    dist = st.outcome_distribution(sd).set_index("value")
    assert dist["n"].to_dict() == y.value_counts().to_dict()
    assert dist["share"].sum() == pytest.approx(100)


def test_importance_all_methods_and_truth_ranking():
    df = make(n=2000, seed=5)
    sd = st.prepare(schema(groups={"G": ["c", "d"]}), df)
    comp = st.importance(sd)
    assert comp.primary == "lmg"
    assert set(comp.shares().columns) == set(st.METHODS)
    assert list(comp.shares().index) == ["a", "b", "c", "d"]   # the true weights' order
    lmg = comp.results["lmg"].importance
    ref = cx.drivers.relative_importance(df, "ltr", DRIVERS, method="lmg")
    np.testing.assert_allclose(lmg.loc[DRIVERS, "importance"], ref.loc[DRIVERS, "importance"],
                               rtol=1e-10)
    assert (lmg["ci_low"] <= lmg["importance"]).all() and (lmg["importance"] <= lmg["ci_high"]).all()
    assert comp.agreement()["top3_all_methods"][:1] == ["a"]
    grouped = comp.table[comp.table["grouped"] == True]
    assert set(grouped["driver"]) == {"a", "b", "G"}


def test_binary_outcome_uses_logistic_and_lpm():
    df = make(n=600, seed=2).assign(ok=lambda f: (f["ltr"] >= 8).astype(int))
    sd = st.prepare(schema(outcome={"column": "ok", "kind": "binary"}), df)
    comp = st.importance(sd)
    assert comp.primary == "logistic lmg"
    assert "logistic regression" in comp.results["logistic lmg"].model
    assert {"logistic first", "logistic last", "LPM lmg", "LPM pratt"} <= set(comp.results)
    assert "linear regression" in comp.results["LPM lmg"].model


def test_messy_example_recovers_the_true_driver_order():
    spec = importlib.util.spec_from_file_location("mk", EXAMPLES / "make_messy_example.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    res = st.run(st.load_schema(EXAMPLES / "study_messy.yaml", bootstrap=30))
    truth = sorted(mk.TRUE_WEIGHTS, key=mk.TRUE_WEIGHTS.get, reverse=True)
    assert list(res.importance.shares().index) == truth
    assert res.report.ok and {i.check for i in res.report.warnings} == \
        {"straight-lining", "small segments", "join"}
    seg = res.segments["Region"]["metrics"].set_index("Region")
    assert bool(seg.loc["Inseln", "suppressed"])


def test_retention_link_against_brute_force():
    res = st.run(st.load_schema(EXAMPLES / "study_messy.yaml", bootstrap=0))
    survey = cx.io.read_survey(EXAMPLES / "messy_survey.csv")
    cust = cx.io.read_survey(EXAMPLES / "messy_customers.csv")
    m = survey.merge(cust, on="CustomerID")
    grp = pd.cut(m["Q_LTR"], [-1, 6, 8, 10], labels=["Detractor", "Passive", "Promoter"])
    brute = 100 * m.groupby(grp, observed=True)["Churned"].mean()
    got = res.retention.churn.table.set_index("outcome_group")["churn_rate"]
    for g in ("Detractor", "Passive", "Promoter"):
        assert got[g] == pytest.approx(brute[g], abs=1e-9)
    val = res.retention.value.summary().set_index("group")
    annual = 12 * m.groupby(grp, observed=True)["MonthlyRevenue"].mean()
    n_g = m.groupby(grp, observed=True).size()
    linked = brute / 100 - brute["Promoter"] / 100
    expected = (len(cust) * n_g / n_g.sum() * annual * linked)
    for g in ("Detractor", "Passive"):
        assert val.loc[g, "revenue_at_risk"] == pytest.approx(expected[g], rel=1e-9)


def test_kestrel_example_finds_the_true_top_driver_and_churn_gradient():
    res = st.run(st.load_schema(EXAMPLES / "study_kestrel.yaml", bootstrap=20))
    truth = cx.datasets.load("kestrel").truth["ltr_drivers"]["ranking"]
    studied = [d for d in truth if d in res.schema.driver_columns]
    assert res.importance.shares().index[0] == studied[0]
    churn = res.retention.churn.table.set_index("outcome_group")["churn_rate"]
    assert churn["Detractor"] > churn["Passive"] > churn["Promoter"]
    assert res.retention.logit.summary().set_index("term").loc["ltr", "odds_ratio"] < 1


def test_iranian_example_runs_the_logistic_route():
    res = st.run(st.load_schema(EXAMPLES / "study_iranian_churn.yaml", bootstrap=0))
    assert res.importance.primary == "logistic lmg"
    assert res.importance.shares().index[0] == "Complains"          # churn 83 % vs 10 %
    assert issue(res.report, "duplicate rows").n >= 300             # 300 exact copies in UCI


# ------------------------------------------------------------------------------------- raw .sav

def test_raw_spss_file_to_study_in_one_call(tmp_path):
    import pyreadstat
    df = make(n=300, seed=11)
    df.loc[[4, 8], "ltr"] = 99                      # labelled "Don't know" in SPSS
    df.loc[[1, 2, 3], "a"] = 9                      # declared user-missing in SPSS
    df["region"] = np.where(df["seg"] == "x", 1.0, 2.0)
    sav = df.drop(columns=["seg"])
    pyreadstat.write_sav(sav, str(tmp_path / "survey.sav"),
                         column_labels={"ltr": "How likely are you to recommend us?"},
                         variable_value_labels={"ltr": {0: "Not at all likely",
                                                        10: "Extremely likely", 99: "Don't know"},
                                                "region": {1: "North", 2: "South"}},
                         missing_ranges={"a": [9]})
    (tmp_path / "study.yaml").write_text(
        "data: survey.sav\nid: rid\noutcome: {column: ltr, scale: [0, 10]}\n"
        "drivers: {scale: [1, 5], columns: [a, b, c, d]}\nsegments: [region]\n"
        "analysis: {bootstrap: 20}\n")
    res = st.run(tmp_path / "study.yaml")
    assert res.report.ok
    notes = {(i.check, i.column): i.n for i in res.report.issues if i.check == "read"}
    assert notes == {("read", "ltr"): 2, ("read", "a"): 3}
    assert res.report.usable_rows == 300 - 2 - 3
    assert set(res.segments["region"]["metrics"]["region"]) == {"North", "South"}
    assert list(res.importance.shares().index[:2]) == ["a", "b"]      # the true order
    assert cli.main(["study", "--config", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "out"),
                    "--validate-only"]) == 0


# ------------------------------------------------------------------------------------- command line

def test_cli_stops_on_the_broken_export_with_the_report(tmp_path, capsys):
    code = cli.main(["study", "--config", str(EXAMPLES / "study_messy.yaml"), "--data",
                    str(EXAMPLES / "messy_survey_broken.csv"), "--out", str(tmp_path),
                    "--validate-only"])
    assert code == 2
    text = (tmp_path / "validation.txt").read_text()
    assert "'seven' at rows 42" in text and "11 at rows 17" in text and "R_00299" in text
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "invalid"
    assert "The study stops" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_runs_the_study_notebook_end_to_end(tmp_path):
    code = cli.main(["study", "--config", str(EXAMPLES / "study_messy.yaml"), "--out", str(tmp_path),
                    "--bootstrap", "20"])
    assert code == 0
    page = (tmp_path / "driver_study.html").read_text()
    for text in ("network reliability", "Q_NET", "Value at stake", "Kendall"):
        assert text in page or text.lower() in page.lower()
    assert "Traceback" not in page and "def " not in page
    assert (tmp_path / "driver_study.ipynb").exists() and (tmp_path / "index.html").exists()


def test_near_collinear_drivers_are_reported_to_the_reader_not_silenced(capsys):
    """One warning policy (cxlab.notes.recorded): drivers' near-collinearity CXWarning reaches
    the study's importance notes, and so the page, once per method run that raised it."""
    rng = np.random.default_rng(3)
    a = rng.integers(1, 11, size=400)
    b = a.copy()
    b[:3] = np.clip(b[:3] + 1, 1, 10)                 # the same question asked twice, almost
    data = pd.DataFrame({"a": a, "b": b, "c": rng.integers(1, 11, size=400)})
    data["y"] = np.clip(np.round(0.5 * data["a"] + 0.4 * data["c"] + rng.normal(size=400)), 0, 10)
    res = st.run({"outcome": {"column": "y", "scale": [0, 10]},
                  "drivers": {"scale": [1, 10], "columns": ["a", "b", "c"]},
                  "analysis": {"bootstrap": 20, "methods": ["lmg", "pratt"]}}, data=data)
    notes = [n for n in res.importance.notes if "nearly collinear" in n]
    assert len(notes) == 1 and notes[0].startswith("lmg, pratt: Drivers are nearly collinear")
    st.show_importance(res)                                   # outside Jupyter: printed
    assert "nearly collinear" in capsys.readouterr().out
