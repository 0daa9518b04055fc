"""Company configuration (cxlab.company): the analyst's own tables mapped onto the data contract.

The reference is the bundled company itself: ``examples/own_company`` holds a sample of Kestrel
Connect exported in another firm's layout (Parquet with question codes, a ';' CSV with decimal
commas, Excel, SPSS, Polish and Ukrainian region labels, plan codes). The same sample written in
Kestrel's own layout (``Company.save``) is run through the same reports; the two must give the
same numbers. Both sides hold the same decimal digits, so the tolerance (1e-12 relative) only
allows for the order of floating-point sums.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import cxlab as cx
from cxlab import cli
from cxlab.checks import CXDataError
from cxlab.company import contract_column, load_company, load_config, validate_company
from cxlab.report import common, quarterly, team_scorecard

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_company"
CONFIG = EXAMPLE / "company.yaml"
RTOL = 1e-12


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_own_company_example", ROOT / "scripts" / "make_own_company_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _script()
BACK = {v: k for k, v in MAKE.REGIONS.items()}


@pytest.fixture(scope="module")
def kestrel_folder(tmp_path_factory):
    """The example's sample in Kestrel's own layout (contract column names, CSV)."""
    folder = tmp_path_factory.mktemp("kestrel_sample")
    MAKE.subset().save(folder)
    return folder


def _relabelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Polish/Ukrainian region labels back to Kestrel's, in every text column."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: BACK.get(v, v))
    return out


def _same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    ours = _relabelled(ours).reset_index(drop=True)
    theirs = theirs.reset_index(drop=True)
    if "segment" in ours.columns:           # order by label: Polish names sort differently
        keys = [c for c in ("segment", "kpi") if c in ours.columns]
        ours = ours.sort_values(keys).reset_index(drop=True)
        theirs = theirs.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, rtol=RTOL)


# ------------------------------------------------------------------------------- the loader
def test_example_is_the_kestrel_sample_in_the_contract():
    ours, ref = load_company(CONFIG), MAKE.subset()
    assert ours.tables == ref.tables == ("customers", "survey", "contacts", "pulse")
    for table in ref.tables:
        mine = getattr(ours, table)
        assert list(mine.columns) == cx.contract.columns(table)
        _same(mine, getattr(ref, table))
    assert set(ours.survey["region"]) == set(MAKE.REGIONS.values())   # labels kept as written
    assert CONFIG.resolve() in ours.files


def test_example_files_differ_from_kestrel_and_are_small():
    files = sorted(p for p in EXAMPLE.iterdir() if p.name != "company.yaml")
    assert {p.suffix for p in files} == {".parquet", ".csv", ".xlsx", ".sav"}
    assert sum(p.stat().st_size for p in files) < 2 * 2**20
    head = (EXAMPLE / "customers.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert ";" in head[0] and "KLIENT" in head[0] and "," in head[1]
    assert "Q1_NPS" in pd.read_parquet(EXAMPLE / "survey.parquet").columns


def test_validate_passes_on_the_example_and_counts_rows(capsys):
    report = validate_company(CONFIG)
    assert report.ok, report.to_text()
    flow = report.flow.set_index(["table", "step"])["rows"]
    ref = MAKE.subset()
    for table in ref.tables:
        assert flow[(table, "rows read")] == flow[(table, "rows kept")] == len(getattr(ref, table))
    assert cli.main(["validate", "--config", str(CONFIG)]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def test_by_accepts_the_users_column_name():
    assert contract_column(CONFIG, "REGION") == "region"
    assert contract_column(CONFIG, "region") == "region"
    assert contract_column(CONFIG, "ZESPOL", "contacts") == "team"
    assert contract_column(CONFIG, "not_mapped") == "not_mapped"


# ------------------------------------------------------------------ same numbers as bundled
@pytest.fixture(scope="module")
def quarterly_pair(kestrel_folder):
    opts = {"bootstrap": 100, "period": "2026Q3"}
    ours = quarterly.prepare("quarterly", data=str(CONFIG), by="REGION", **opts)
    theirs = quarterly.prepare("quarterly", data=str(kestrel_folder), by="region", **opts)
    return ours, theirs


def test_quarterly_company_report_gives_the_bundled_numbers(quarterly_pair):
    ours, theirs = quarterly_pair
    assert (ours.by, ours.base, ours.waves) == (theirs.by, theirs.base, theirs.waves)
    _same(common.kpi_table(ours), common.kpi_table(theirs))
    _same(common.trend_table(ours), common.trend_table(theirs))
    _same(common.comparison_table(ours), common.comparison_table(theirs))
    _same(quarterly.churn_table(ours), quarterly.churn_table(theirs))
    a, b = quarterly.driver_result(ours), quarterly.driver_result(theirs)
    assert a is not None
    _same(a.importance.reset_index(), b.importance.reset_index())
    assert a.r2 == pytest.approx(b.r2, rel=RTOL)
    _same(quarterly.actions_table(ours), quarterly.actions_table(theirs))


def test_quarterly_segment_report_in_the_users_labels(kestrel_folder):
    ours = quarterly.prepare("quarterly", data=str(CONFIG), by="REGION", segment="Київ",
                             bootstrap=0)
    theirs = quarterly.prepare("quarterly", data=str(kestrel_folder), by="region",
                               segment="Central", bootstrap=0)
    assert ours.label == "Region Київ" and ours.base == theirs.base > 0
    _same(common.kpi_table(ours), common.kpi_table(theirs))
    _same(common.comparison_table(ours), common.comparison_table(theirs))


def test_team_scorecard_gives_the_bundled_numbers(kestrel_folder):
    opts = {"bootstrap": 50, "by": "ZESPOL"}
    ours = team_scorecard.prepare("team_scorecard", data=str(CONFIG), **opts)
    theirs = team_scorecard.prepare("team_scorecard", data=str(kestrel_folder),
                                    **{**opts, "by": "team"})
    for f in (common.kpi_table, common.comparison_table, team_scorecard.target_table,
              team_scorecard.scorecard_table, team_scorecard.engagement_table):
        _same(f(ours), f(theirs))
    team = team_scorecard.prepare("team_scorecard", data=str(CONFIG), by="team",
                                  segment="Fault Line", bootstrap=0)
    ref = team_scorecard.prepare("team_scorecard", data=str(kestrel_folder), by="team",
                                 segment="Fault Line", bootstrap=0)
    _same(team_scorecard.scorecard_table(team), team_scorecard.scorecard_table(ref))


# ------------------------------------------------------------------------- absent tables
def _config_with(tmp_path: Path, tables: tuple[str, ...], name: str = "partial") -> Path:
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    cfg["tables"] = {t: {**cfg["tables"][t], "source": str(EXAMPLE / cfg["tables"][t]["source"])}
                     for t in tables}
    cfg["name"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def test_absent_tables_leave_sections_out_with_a_note(tmp_path, capsys):
    path = _config_with(tmp_path, ("survey", "customers"))
    report = validate_company(path)
    assert report.ok
    notes = report.summary().query("check == 'absent table'")
    assert set(notes["table"]) == {"contacts", "pulse"}
    company = load_company(path)
    assert company.contacts is None and company.pulse is None
    ctx = quarterly.prepare("quarterly", data=str(path), bootstrap=0)
    for section in (quarterly.show_kpis, quarterly.show_comparison, quarterly.show_drivers,
                    quarterly.show_churn, quarterly.show_value, quarterly.show_actions):
        section(ctx)                                  # no contacts: nothing fails
    # the team scorecard stands on the contacts: refused before any kernel, naming the table
    with pytest.raises(CXDataError, match="no contacts table"):
        cx.report.run("team_scorecard", data=str(path), out=tmp_path / "r", progress=False)
    no_pulse = _config_with(tmp_path, ("survey", "customers", "contacts"), "no_pulse")
    ctx = team_scorecard.prepare("team_scorecard", data=str(no_pulse), bootstrap=0)
    capsys.readouterr()
    team_scorecard.show_engagement(ctx)
    assert "No employee pulse" in capsys.readouterr().out
    assert team_scorecard.engagement_table(ctx).empty


# --------------------------------------------------------------------------- broken data
def _broken(tmp_path: Path) -> Path:
    """The example with real errors in every table."""
    folder = tmp_path / "broken"
    shutil.copytree(EXAMPLE, folder)
    survey = pd.read_parquet(folder / "survey.parquet")
    survey["Q3_EFFORT"] = survey["Q3_EFFORT"].astype(str)            # exported as text
    survey.loc[[3, 10], "Q3_EFFORT"] = "seven"
    survey.loc[[5, 6, 7, 8], "Q1_NPS"] = 11
    survey.loc[12, "RESP_ID"] = survey.loc[11, "RESP_ID"]
    survey.loc[[20, 21], "TARYFA"] = "X"
    survey = survey.rename(columns={"Q2_SAT": "Q2_SATISF"})
    survey.to_parquet(folder / "survey.parquet", index=False)
    text = (folder / "customers.csv").read_text(encoding="utf-8").splitlines()
    cols = text[1].split(";")
    cols[5] = "31.13.2025"                              # POCZATEK: no 13th month
    text[1] = ";".join(cols)
    (folder / "customers.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    return folder / "company.yaml"


def test_broken_data_names_every_problem(tmp_path, capsys):
    config = _broken(tmp_path)
    report = validate_company(config)
    assert not report.ok
    by_check = {(i.table, i.check, i.column): i for i in report.issues}
    missing = by_check[("survey", "missing column", "osat")]
    assert "'Q2_SAT'" in missing.message and "did you mean 'Q2_SATISF'?" in missing.message
    text = by_check[("survey", "text in numeric column", "effort")]
    assert text.n == 2 and text.rows == [3, 10] and text.values == ["seven"]
    out = by_check[("survey", "out of range", "ltr")]
    assert out.n == 4 and out.rows == [5, 6, 7, 8] and "0–10" in out.message
    assert ("survey", "out of range", "effort") not in by_check    # text is not also a range
    assert sum(i.severity == "error" for i in report.issues) == 6
    assert by_check[("survey", "unknown codes", "plan")].n == 2
    assert by_check[("survey", "duplicate ids", "response_id")].rows == [12]
    dates = by_check[("customers", "unparseable dates", "start_date")]
    assert dates.n == 1 and dates.values == ["31.13.2025"] and "%d.%m.%Y" in dates.message
    with pytest.raises(CXDataError, match="failed 6 check"):
        load_company(config)
    assert cli.main(["validate", "--config", str(config), "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'Q2_SATISF'" in err and "'seven'" in err
    assert (tmp_path / "v" / "validation.csv").exists()
    # the report is refused before any kernel starts, with the same report
    assert cli.main(["report", "quarterly", "--config", str(config), "--out",
                     str(tmp_path / "r"), "--quiet"]) == 2
    assert "6 error(s)" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_rows_without_outcome_or_wave_are_left_out_and_counted(tmp_path):
    folder = tmp_path / "gaps"
    shutil.copytree(EXAMPLE, folder)
    survey = pd.read_parquet(folder / "survey.parquet")
    survey.loc[[1, 2], "Q1_NPS"] = np.nan
    survey.loc[[3], "Q1_NPS"] = 99                      # "don't know", declared below
    survey.loc[[4], "DATA_ANKIETY"] = pd.NaT
    survey.to_parquet(folder / "survey.parquet", index=False)
    cfg = yaml.safe_load((folder / "company.yaml").read_text(encoding="utf-8"))
    cfg["tables"]["survey"]["read"] = {"missing_codes": {"Q1_NPS": [99]}}
    (folder / "company.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True),
                                         encoding="utf-8")
    report = validate_company(folder / "company.yaml")
    assert report.ok
    read = report.summary().query("check == 'read'")
    assert read["n"].tolist() == [1] and "99" in read["message"].iloc[0]
    flow = report.flow.set_index(["table", "step"])["rows"]
    assert flow[("survey", "left out: no ltr")] == 3
    assert flow[("survey", "left out: no wave")] == 1
    assert flow[("survey", "rows kept")] == flow[("survey", "rows read")] - 4
    assert len(load_company(folder / "company.yaml").survey) == flow[("survey", "rows kept")]
    assert {"rows left out"} <= set(report.summary()["check"])


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("change, message", [
    (lambda c: c["tables"]["survey"].update(sourse="x"), "'sourse' (did you mean 'source'?)"),
    (lambda c: c["tables"]["survey"]["columns"].update(ltrr="Q1"), "'ltrr' (did you mean 'ltr'?)"),
    (lambda c: c["tables"].update(contact={"source": "x"}), "did you mean 'contacts'?"),
    (lambda c: c["tables"].pop("customers"), "no customers table"),
    (lambda c: c["tables"]["survey"]["read"].update(delimter=";"), "did you mean 'delimiter'?"),
    (lambda c: c["tables"]["survey"]["columns"].update(wave={"from": "D"}), "from_date"),
])
def test_configuration_keys_are_checked(change, message):
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    cfg["tables"]["survey"].setdefault("read", {})
    change(cfg)
    with pytest.raises(CXDataError, match=None) as err:
        load_config(cfg)
    assert message in str(err.value)


def test_wave_labels_in_other_spellings_and_unknown_ones(tmp_path):
    from cxlab.company import _waves
    waves, bad = _waves(pd.Series(["2026Q3", "2026-Q3", "Q3 2026", "q3/2026", "2026 Q1",
                                   "Autumn", None]))
    assert waves.iloc[:5].tolist() == ["2026Q3"] * 4 + ["2026Q1"]
    assert bad.tolist() == [False] * 5 + [True, False]
    assert pd.isna(waves.iloc[6])


def test_duckdb_table_and_sql_sources(tmp_path):
    import duckdb
    pulse = cx.io.read_survey(EXAMPLE / "pulse.sav")
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.register("p", pd.DataFrame(pulse))
    con.execute("CREATE TABLE hr_pulse AS SELECT * FROM p")
    con.close()
    ref = load_company(CONFIG).pulse
    for how in ({"table": "hr_pulse"}, {"sql": "SELECT * FROM hr_pulse WHERE FALA >= '2026Q1'"}):
        cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
        for t in cfg["tables"].values():
            t["source"] = str(EXAMPLE / t["source"])
        cfg["tables"]["pulse"] = {**cfg["tables"]["pulse"], "source": str(db), **how}
        got = load_company(cfg).pulse
        want = ref if "table" in how else ref.loc[ref["wave"] >= "2026Q1"]
        _same(got, want)


# ---------------------------------------------------------------------- one full report
def test_cli_report_from_a_configuration_through_papermill(tmp_path, capsys):
    code = cli.main(["report", "quarterly", "--config", str(CONFIG), "--by", "none",
                     "--out", str(tmp_path), "--workers", "1", "--quiet",
                     "--param", "bootstrap=20"])
    assert code == 0, capsys.readouterr()
    (batch,) = cx.report.read_manifest(tmp_path / "2026Q3" / "manifest.json")["batches"]
    (entry,) = batch["reports"]
    assert entry["status"] == "ok" and batch["data_name"] == "Nadwiślańska Telekom"
    assert "company.yaml" in batch["data_files"] and "survey.parquet" in batch["data_files"]
    html = (tmp_path / "2026Q3" / entry["html"]).read_text(encoding="utf-8")
    assert "Nadwiślańska Telekom" in html and "Traceback" not in html


def test_the_documented_configuration_is_valid():
    """The complete example in examples/README.md parses (every key known)."""
    text = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    block = text.split("# Your own company", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = load_config(yaml.safe_load(block))
    assert set(cfg.tables) == {"survey", "customers", "contacts", "pulse"}
    assert cfg.tables["pulse"].table == "hr_pulse"
    assert cfg.tables["survey"].user_name("wave") == "DATA_ANKIETY"


def test_docstring_examples_run():
    import doctest

    import cxlab.company
    assert doctest.testmod(cxlab.company, optionflags=doctest.ELLIPSIS).failed == 0


def test_runner_resolves_the_users_column_and_checks_before_any_kernel(tmp_path, capsys):
    with pytest.raises(CXDataError, match=r"Unknown region value\(s\) 'Nowhere'"):
        cx.report.run("quarterly", data=str(CONFIG), by="REGION", segments=["Nowhere"],
                      out=tmp_path, progress=False)
    with pytest.raises(SystemExit) as stop:
        cli.main(["report", "--config", str(CONFIG), "--data", "datasets/kestrel"])
    assert stop.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_optional_invitations_table(tmp_path):
    kestrel = cx.datasets.load("kestrel")
    ref = MAKE.subset()
    inv = kestrel.invitations
    inv = inv.loc[inv["customer_id"].isin(ref.customers["customer_id"])
                  & inv["wave"].isin(ref.survey["wave"].unique())].reset_index(drop=True)
    inv.assign(wave=inv["wave"].str[:4] + "-" + inv["wave"].str[4:]).rename(
        columns={"customer_id": "KLIENT", "wave": "FALA", "responded": "ODPOWIEDZIAL"}).to_csv(
        tmp_path / "zaproszenia.csv", index=False)
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for t in cfg["tables"].values():
        t["source"] = str(EXAMPLE / t["source"])
    cfg["tables"]["invitations"] = {
        "source": str(tmp_path / "zaproszenia.csv"),
        "columns": {"customer_id": "KLIENT", "wave": "FALA", "responded": "ODPOWIEDZIAL"}}
    company = load_company(cfg)
    _same(company.invitations, inv)                  # "2026-Q3" read as the wave 2026Q3
