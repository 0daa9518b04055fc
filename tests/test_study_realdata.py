"""Full driver studies on real surveys the kit may not ship, read from ../shared/data next to the
repository (skipped when absent; the files are never copied into the repository).

* Airline passenger satisfaction (25,976 answers, 14 service ratings 1–5 with 0 = not applicable,
  binary satisfied outcome): the logistic route. Reference: statsmodels ``Logit`` McFadden
  pseudo-R² for the "first" and "last" importances, brute-force pandas counts for the recodes.
* ECSI mobile phone survey (250 customers, 17 items on 0–100): the linear route. Reference:
  statsmodels ``OLS`` R², which LMG must decompose exactly.
"""

from pathlib import Path

import pandas as pd
import pytest

from cxlab import cli
from cxlab import study as st

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
AIRLINE = SHARED / "airline_passenger_satisfaction" / "airline_test_split.csv"
ECSI = SHARED / "ecsi_plspm" / "ecsi_mobile.csv"
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def airline():
    if not AIRLINE.exists():
        pytest.skip(f"{AIRLINE} is not available (local test data, not shipped)")
    schema = st.load_schema(EXAMPLES / "study_airline.yaml", bootstrap=10)
    assert st.data_file(schema).resolve() == AIRLINE.resolve()
    return st.run(schema), pd.read_csv(AIRLINE)


@pytest.mark.slow
def test_airline_recodes_and_usable_rows_match_brute_force(airline):
    res, raw = airline
    ratings = res.schema.driver_columns
    tab = res.report.columns.set_index("column")
    for c in ratings:
        assert tab.loc[c, "n_recoded_missing"] == int((raw[c] == 0).sum()), c
    assert res.report.ok
    assert res.report.usable_rows == int((raw[ratings] != 0).all(axis=1).sum())   # 23,863
    assert len(res.prepared.complete) == res.report.usable_rows
    share = res.outcome.set_index("metric")["value"].iloc[0]
    assert share == pytest.approx(100 * (raw["satisfaction"] == "satisfied").mean(), abs=1e-9)


@pytest.mark.slow
def test_airline_logistic_importance_against_statsmodels(airline):
    import statsmodels.api as sm
    res, _ = airline
    df = res.prepared.complete
    y = df["satisfaction"].to_numpy()
    drivers = res.schema.driver_columns
    first = res.importance.results["logistic first"].importance
    last = res.importance.results["logistic last"].importance

    def mcfadden(cols):
        return sm.Logit(y, sm.add_constant(df[cols].to_numpy())).fit(disp=0).prsquared

    full = mcfadden(drivers)
    assert res.importance.results["logistic first"].r2 == pytest.approx(full, abs=1e-6)
    for d in ("Online boarding", "Inflight entertainment", "Gate location"):
        # tolerance: both are Newton/IRLS maximum-likelihood fits converged to ~1e-8 in ll
        assert first.loc[d, "importance"] == pytest.approx(mcfadden([d]), abs=1e-6)
        rest = [c for c in drivers if c != d]
        assert last.loc[d, "importance"] == pytest.approx(full - mcfadden(rest), abs=1e-6)
    # the source's quick check: Online boarding has the largest point-biserial r (.50)
    assert all(r.importance["rank"].idxmin() in ("Online boarding", "Digital")
               for r in res.importance.results.values())
    for r in res.importance.results.values():
        imp = r.importance
        assert ((imp["ci_low"] <= imp["importance"] + 1e-12)
                & (imp["importance"] <= imp["ci_high"] + 1e-12)).all()


@pytest.fixture(scope="module")
def ecsi():
    if not ECSI.exists():
        pytest.skip(f"{ECSI} is not available (local test data, not shipped)")
    return st.run(st.load_schema(EXAMPLES / "study_ecsi.yaml", bootstrap=50)), pd.read_csv(ECSI)


def test_ecsi_lmg_decomposes_the_ols_r2(ecsi):
    import statsmodels.api as sm
    res, raw = ecsi
    items = res.schema.driver_columns
    r2 = sm.OLS(raw["sat1"], sm.add_constant(raw[items])).fit().rsquared
    lmg = res.importance.results["lmg"]
    assert lmg.r2 == pytest.approx(r2, abs=1e-10)
    assert lmg.importance["importance"].sum() == pytest.approx(r2, abs=1e-10)
    grouped = res.importance.results["lmg (groups)"].importance
    assert grouped["importance"].sum() == pytest.approx(r2, abs=1e-10)
    top = res.outcome.set_index("metric").loc["Top box (≥ 88.89)", "value"]
    assert top == pytest.approx(100 * (raw["sat1"] >= 88.89).mean(), abs=1e-9)
    assert res.report.ok and res.report.usable_rows == len(raw) == 250


def test_ecsi_one_command_validation(tmp_path):
    if not ECSI.exists():
        pytest.skip("ECSI data not available")
    code = cli.main(["study", "--config", str(EXAMPLES / "study_ecsi.yaml"), "--out", str(tmp_path),
                    "--validate-only"])
    assert code == 0 and "0 error(s)" in (tmp_path / "validation.txt").read_text()
