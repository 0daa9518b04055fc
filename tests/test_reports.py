"""Unit tests of cxlab.report: parameter validation, KPI logic against brute force, suppression,
stakeholder filtering, atomic writes, the retry rule and the batch bookkeeping.

Kernel-free where possible; the batch test runs a tiny template (no pandas in the kernel) so it
stays at a few seconds. The real templates run in tests/test_reports_batch.py.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cxlab.report import data as rd
from cxlab.report import html as rh
from cxlab.report import parameters as rpar
from cxlab.report import quarterly as rc
from cxlab.report import record as rr
from cxlab.report import runner as rp
from cxlab.checks import CXDataError


@pytest.fixture(scope="module")
def kestrel():
    return rd.load_data("kestrel")


def _ctx(**params):
    return rc.prepare("quarterly", **params)


# ------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("params, message", [
    ({"period": "2026Q9"}, "quarter written like '2026Q3'"),
    ({"period": "2019Q1"}, "not in the data"),
    ({"period": 2026}, "a string"),
    ({"by": "region", "segment": "Nrth"}, "Choose one of: Central, East, North, South, West"),
    ({"segment": "North"}, "without by"),
    ({"by": "regoin"}, "no such column"),
    ({"data": "/nonexistent/survey.csv"}, "neither a bundled dataset"),
    ({"min_base": "thirty"}, "min_base must be a whole number"),
    ({"min_base": 0}, "min_base must be at least 1"),
    ({"confidence": 95}, "confidence must be a number from 0.5"),
    ({"bootstrap": 2.5}, "bootstrap must be a whole number"),
])
def test_bad_parameters_are_rejected_with_the_fix(params, message):
    with pytest.raises(CXDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _ctx(**params)


def test_unknown_injected_names_are_rejected_with_a_suggestion():
    import cxlab
    namespace = {"cx": cxlab, "In": [], "_": None, "data": "kestrel", "perid": "2026Q3"}
    with pytest.raises(CXDataError, match=r"Unknown parameter\(s\) 'perid' \(did you mean 'period'\?\)"):
        rc.prepare("quarterly", namespace)


def test_prepare_defaults_to_latest_wave_and_previous(kestrel):
    waves = rd.waves_of(kestrel.survey)
    ctx = _ctx(by="region", segment="North")
    assert ctx.period == waves[-1] and ctx.previous == waves[-2]
    assert ctx.waves == waves[-6:]
    assert ctx.label == "Region North"
    expected = int(((kestrel.survey.wave == ctx.period) & (kestrel.survey.region == "North")).sum())
    assert ctx.base == expected and not ctx.suppressed


def test_run_rejects_unknown_params_before_any_kernel(tmp_path):
    with pytest.raises(CXDataError, match=r"did you mean 'bootstrap'\?"):
        rp.run("quarterly", params={"bootstrapp": 10}, out=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------- parameters: one declaration, three users

@pytest.mark.parametrize("name", list(rpar.TEMPLATES))
def test_template_parameter_cell_is_the_declaration(name):
    """The notebook's parameter cell (what papermill replaces) assigns exactly the declared
    parameters, in order, with the declared defaults; its text is the generated cell."""
    spec = rpar.template_spec(name)
    nb = nbformat.read(spec.path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    tree = ast.parse(cells[0].source)
    assigned = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
    assert list(assigned) == list(spec.names) and assigned == spec.defaults
    assert cells[0].source == rpar.cell_source(name), "regenerate with cell_source()"


def test_cli_default_and_checks_come_from_the_declaration(capsys):
    from cxlab import cli
    declared = rpar.template_spec("quarterly").parameter("min_base")
    args = cli.build_parser("report").parse_args(["report"])
    assert args.min_base == declared.default == 30          # contract.MIN_BASE
    for name in ("bootstrap", "confidence", "top_actions"):
        p = rpar.template_spec("quarterly").parameter(name)
        with pytest.raises(CXDataError, match=name):
            rpar.validate_parameters("quarterly", {name: p.high + 1})


def test_report_sections_have_no_defaults_of_their_own():
    """Sections read validated parameters (``ctx.options[name]``), never ``.get(name, default)``."""
    import inspect

    from cxlab.report import common, context, team_scorecard
    for module in (common, context, rc, team_scorecard):
        assert "options.get(" not in inspect.getsource(module), module.__name__


# ------------------------------------------------------------------------------ KPI numbers

def _brute_nps(x):
    x = np.asarray(x, float)
    return 100 * ((x >= 9).mean() - (x <= 6).mean())


def test_kpi_table_matches_brute_force(kestrel):
    """Values against direct counting on the raw rows (exact up to float rounding)."""
    ctx = _ctx(by="region", segment="East", period="2026Q2")
    table = rc.kpi_table(ctx).set_index("kpi")
    s = kestrel.survey
    cur = s[(s.wave == "2026Q2") & (s.region == "East")]
    prev = s[(s.wave == "2026Q1") & (s.region == "East")]
    assert table.loc["NPS", "value"] == pytest.approx(_brute_nps(cur.ltr), abs=1e-9)
    assert table.loc["NPS", "change"] == pytest.approx(_brute_nps(cur.ltr) - _brute_nps(prev.ltr),
                                                       abs=1e-9)
    assert table.loc["CSAT", "value"] == pytest.approx(100 * (cur.osat >= 4).mean(), abs=1e-9)
    assert table.loc["CES", "value"] == pytest.approx(cur.effort.mean(), abs=1e-9)
    assert table.loc["NPS", "n"] == len(cur)
    # every interval brackets its estimate
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()


def _synthetic(tmp_path, prev_scores, cur_scores, name="synth"):
    """A survey folder with two waves in one region; osat/effort mirror ltr."""
    rows = []
    for wave, scores in (("2026Q1", prev_scores), ("2026Q2", cur_scores)):
        for i, x in enumerate(scores):
            rows.append({"response_id": f"R{wave}{i}", "customer_id": f"C{i}", "wave": wave,
                         "region": "Only", "ltr": int(x), "osat": int(1 + round(x * 4 / 10)),
                         "effort": int(1 + round(x * 6 / 10))})
    folder = tmp_path / name
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "survey.csv", index=False)
    return folder


def test_change_called_only_when_larger_than_noise(tmp_path):
    """Known truth: an NPS jump from −100 to +100 is a change; identical waves are not."""
    rng = np.random.default_rng(1)
    same = rng.integers(0, 11, 400)
    up = _synthetic(tmp_path, [3] * 200, [10] * 200, "up")
    flat = _synthetic(tmp_path, same, rng.permutation(same), "flat")
    t_up = rc.kpi_table(rc.prepare("quarterly", data=str(up))).set_index("kpi")
    t_flat = rc.kpi_table(rc.prepare("quarterly", data=str(flat))).set_index("kpi")
    assert t_up.loc["NPS", "verdict"] == "up" and t_up.loc["NPS", "change"] == pytest.approx(200)
    assert (t_flat["verdict"] == "no change beyond the noise").all()
    assert (t_flat["change"].abs() < 1e-9).all()


def test_tiny_segment_is_suppressed_everywhere(tmp_path):
    folder = _synthetic(tmp_path, [9] * 12, [9] * 12)
    ctx = rc.prepare("quarterly", data=str(folder))
    assert ctx.suppressed and "fewer than 30" in ctx.reason and "12" not in ctx.reason
    table = rc.kpi_table(ctx)
    assert table["suppressed"].all() and table["value"].isna().all()
    assert rc.kpi_cards(ctx) == []
    assert rc.record(ctx)["status"] == "suppressed"
    # the same data with a lower base is shown
    assert not rc.prepare("quarterly", data=str(folder), min_base=10).suppressed


def test_segment_comparison_holds_only_segment_and_company(kestrel):
    ctx = _ctx(by="region", segment="West")
    table = rc.comparison_table(ctx).set_index("kpi")
    s = kestrel.survey[kestrel.survey.wave == ctx.period]
    assert table.loc["NPS", "segment"] == pytest.approx(_brute_nps(s[s.region == "West"].ltr))
    assert table.loc["NPS", "company"] == pytest.approx(_brute_nps(s.ltr))
    text = table.to_string()
    for other in ("North", "South", "East", "Central"):
        assert other not in text


def test_trend_covers_requested_waves_with_company_benchmark(kestrel):
    ctx = _ctx(by="region", segment="South", waves=4)
    trend = rc.trend_table(ctx)
    assert sorted(trend["scope"].unique()) == ["Company", "Region South"]
    assert list(trend.loc[trend.scope == "Company", "wave"]) == ctx.waves
    s = kestrel.survey
    first = s[(s.wave == ctx.waves[0]) & (s.region == "South")]
    got = trend[(trend.scope == "Region South") & (trend.wave == ctx.waves[0])]["value"].iloc[0]
    assert got == pytest.approx(_brute_nps(first.ltr))


def test_churn_table_counts_match_raw_join(kestrel):
    """12-month churn per NPS group recomputed by hand from customers + survey."""
    ctx = _ctx(by="region", segment="North")
    table = rc.churn_table(ctx).set_index("nps_group")
    s = kestrel.survey[kestrel.survey.region == "North"].merge(
        kestrel.customers[["customer_id", "end_date"]], on="customer_id")
    end = pd.Timestamp("2026-09-30")
    horizon = s.survey_date + pd.DateOffset(months=12)
    churned = s.end_date.notna() & (s.end_date <= horizon)
    known = s[horizon <= end]          # followed for a full year (no early-churner bias)
    assert table["n"].sum() == len(known)
    assert rc.churn_link(ctx).waves[-1] <= "2025Q3"
    promoters = known.ltr >= 9
    rate = 100 * churned[known.index][promoters].mean()
    # episodes in retention.analysis_frame use 30.44-day months: a churn date within a day or
    # two of the anniversary may fall on either side, hence the tolerance
    assert table.loc["Promoter", "churn_rate"] == pytest.approx(rate, abs=1.0)
    assert table.loc["Detractor", "churn_rate"] > table.loc["Promoter", "churn_rate"]


# ------------------------------------------------------------------------ stakeholder HTML

def _dirty_notebook():
    nb = new_notebook()
    params = new_code_cell("segment = 'North'", metadata={"tags": ["parameters"]})
    injected = new_code_cell("segment = 'South'", metadata={"tags": ["injected-parameters"]})
    noisy = new_code_cell("import secret_code_marker", outputs=[
        new_output("stream", name="stderr", text="CXWarning: something\n"),
        new_output("stream", name="stdout", text="kept line\n"),
        new_output("display_data", data={"text/plain": "<Figure size 640x480 with 1 Axes>"}),
        new_output("display_data", data={"text/html": "<b>table</b>", "text/plain": "tbl"}),
        new_output("error", ename="ValueError", evalue="boom", traceback=["Traceback ..."]),
    ])
    rec = new_code_cell("rq.record(ctx)", outputs=[
        new_output("display_data", data={rr.RECORD_MIME: {"status": "ok", "kpis": []}})],
        metadata={"tags": ["remove-cell"]})
    nb.cells = [new_markdown_cell("# Title"), params, injected, noisy, rec,
                new_code_cell("x = 1", outputs=[])]
    return nb


def test_stakeholder_notebook_keeps_only_narrative_and_results():
    clean = rh.stakeholder_notebook(_dirty_notebook())
    assert [c.cell_type for c in clean.cells] == ["markdown", "code"]
    outputs = clean.cells[1].outputs
    assert clean.cells[1].source == ""
    assert [o.get("name") or list(o["data"]) for o in outputs] == ["stdout", ["text/html"]]
    html = rh.stakeholder_html(_dirty_notebook(), title="T")
    for banned in ("secret_code_marker", "CXWarning", "Traceback", "boom", "segment =",
                   "Figure size", rr.RECORD_MIME, "jp-InputArea", "In&nbsp;["):
        assert banned not in html
    assert "kept line" in html and "<b>table</b>" in html


def test_read_record_finds_the_recorded_values():
    assert rr.read_record(_dirty_notebook()) == {"status": "ok", "kpis": []}
    assert rr.read_record(new_notebook()) == {}


# ----------------------------------------------------------------------------- atomic files

def test_atomic_write_never_leaves_half_a_file(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    rp.atomic_write(target, "old complete page")

    def crash(src, dst):
        raise KeyboardInterrupt  # Ctrl-C between writing and renaming
    monkeypatch.setattr(rp.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        rp.atomic_write(target, "new page " * 10_000)
    monkeypatch.undo()
    assert target.read_text() == "old complete page"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]   # no temp file left
    rp.atomic_write(target, "new page")
    assert target.read_text() == "new page"


# ------------------------------------------------------------------ runner: retry and failure

def _job(tmp_path, template):
    return rp.Job("r", template, {"segment": None}, tmp_path, notebook=Path("notebooks", "r.ipynb"),
                  cwd=tmp_path, title="T", label="Company", timeout=60)


def _fake_execute(outcomes):
    calls = []

    def execute(input_path, output_path, **kw):
        calls.append(kw)
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        nb = new_notebook(cells=[new_code_cell("", outputs=[new_output(
            "display_data", data={rr.RECORD_MIME: {"status": "ok", "kpis": [{"name": "K"}]},
                                  "text/plain": "x"})], metadata={"tags": ["remove-cell"]}),
            new_markdown_cell("# Done")])
        nbformat.write(nb, output_path)
        return nb
    return execute, calls


def test_one_retry_after_a_kernel_start_failure(tmp_path, monkeypatch):
    import papermill
    execute, calls = _fake_execute([RuntimeError("Kernel died before replying to kernel_info"),
                                    "ok"])
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    entry = rp.execute_job(_job(tmp_path, tmp_path / "t.ipynb"))
    assert entry["status"] == "ok" and entry["attempts"] == 2
    assert "retried after a kernel start failure" in entry["notes"][0]
    assert (tmp_path / "r.html").exists() and entry["kpis"] == [{"name": "K"}]
    # the kernel is explicit (this interpreter) and so is the working directory
    assert calls[0]["cwd"] == str(tmp_path) and "kernel_manager_class" in calls[0]


def test_cell_error_is_not_retried_and_publishes_nothing(tmp_path, monkeypatch):
    import papermill
    from papermill.exceptions import PapermillExecutionError
    (tmp_path / "r.html").write_text("stale report from an earlier run")
    err = PapermillExecutionError(3, 2, "x = 1", "ValueError", "bad segment", ["Traceback"])
    execute, calls = _fake_execute([err])
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    entry = rp.execute_job(_job(tmp_path, tmp_path / "t.ipynb"))
    assert entry["status"] == "failed" and entry["attempts"] == 1 and len(calls) == 1
    assert entry["error"].startswith("ValueError: bad segment")
    assert not (tmp_path / "r.html").exists() and entry["html"] is None


def test_kernel_start_failure_twice_fails(tmp_path, monkeypatch):
    import papermill
    execute, calls = _fake_execute([TimeoutError("kernel start timed out")] * 2)
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    entry = rp.execute_job(_job(tmp_path, tmp_path / "t.ipynb"))
    assert entry["status"] == "failed" and len(calls) == 2


def test_kernel_argv_is_this_interpreter():
    import sys
    km = rp._kernel_manager_class()(kernel_name="python3")
    assert km.kernel_spec.argv[0] == sys.executable


# ------------------------------------------------------------- a real (tiny) batch, inline

TINY_TEMPLATE = [
    ("data = 'x'\nperiod = None\nby = None\nsegment = None\nmin_base = 30", ["parameters"]),
    ("from IPython.display import display, HTML\n"
     "if segment == 'Fail':\n    raise RuntimeError('injected failure in segment ' + segment)\n"
     "display(HTML('<p class=\"value\">segment=%s period=%s</p>' % (segment, period)))", []),
    ("display({'%s': {'status': 'ok', 'kpis': [{'name': 'NPS', 'text': '+1.0'}]}}, raw=True)"
     % rr.RECORD_MIME, ["remove-cell"]),
]


@pytest.fixture(scope="module")
def tiny_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    nb = new_notebook(cells=[new_code_cell(src, metadata={"tags": tags}) for src, tags in TINY_TEMPLATE])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, root / "tiny_quarterly.ipynb")
    rows = ([("North", 9)] * 40 + [("Fail", 8)] * 40 + [("Tiny", 10)] * 5)
    survey = pd.DataFrame({"wave": "2026Q3", "region": [r for r, _ in rows],
                           "ltr": [x for _, x in rows]})
    (root / "data").mkdir()
    survey.to_csv(root / "data" / "survey.csv", index=False)
    batch = rp.run(str(root / "tiny_quarterly.ipynb"), data=root / "data", by="region",
                   out=root / "reports", workers=1, progress=False)
    return root, batch


def test_failing_segment_is_marked_and_the_rest_complete(tiny_batch):
    root, batch = tiny_batch
    status = {r["segment"]: r["status"] for r in batch.reports}
    assert status == {None: "ok", "North": "ok", "Fail": "failed", "Tiny": "suppressed"}
    assert not batch.ok and batch.failed == [f"tiny_quarterly-region-{rp.slug('Fail')}"]
    out = root / "reports" / "2026Q3"
    assert (out / f"tiny_quarterly-region-{rp.slug('North')}.html").exists()
    fail_name = f"tiny_quarterly-region-{rp.slug('Fail')}"
    assert not (out / f"{fail_name}.html").exists()                     # never rendered
    assert (out / "notebooks" / f"{fail_name}.ipynb").exists()          # kept for analysts
    fail = next(r for r in batch.reports if r["segment"] == "Fail")
    assert "injected failure in segment Fail" in fail["error"]
    tiny = next(r for r in batch.reports if r["segment"] == "Tiny")
    assert tiny["base"] is None and "fewer than" in tiny["error"] and tiny["notebook"] is None
    assert not re.search(r"\b5\b", tiny["error"])          # the n of a suppressed group stays out
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.partial*"))


def test_index_marks_failed_and_suppressed_and_links_only_published(tiny_batch):
    root, batch = tiny_batch
    index = (root / "reports" / "2026Q3" / "index.html").read_text()
    assert f'href="tiny_quarterly-region-{rp.slug("North")}.html"' in index
    assert f'href="tiny_quarterly-region-{rp.slug("Fail")}.html"' not in index
    assert "failed — not published" in index and "suppressed — base too small" in index
    assert "injected failure in segment Fail" in index
    north = (root / "reports" / "2026Q3" /
             f"tiny_quarterly-region-{rp.slug('North')}.html").read_text()
    assert "segment=North period=2026Q3" in north and "raise RuntimeError" not in north


def test_manifest_records_inputs_versions_and_times(tiny_batch):
    root, batch = tiny_batch
    manifest = rp.read_manifest(root / "reports" / "2026Q3")
    entry = manifest["batches"][0]
    import cxlab
    import hashlib
    survey = root / "data" / "survey.csv"
    assert entry["data_files"] == {"survey.csv": hashlib.sha256(survey.read_bytes()).hexdigest()}
    assert entry["cxlab_version"] == cxlab.__version__ and entry["period"] == "2026Q3"
    assert entry["parameters"]["min_base"] == 30 and entry["status"] == "failed"
    for report in entry["reports"]:
        assert set(report) >= {"name", "status", "parameters", "started", "finished", "seconds"}
        if report["status"] == "ok":
            assert report["seconds"] > 0 and report["started"] <= report["finished"]
            assert report["parameters"]["period"] == "2026Q3"
    assert {r["parameters"]["segment"] for r in entry["reports"]} == {None, "North", "Fail", "Tiny"}


def test_rerun_replaces_the_batch_entry_not_duplicates(tiny_batch, tmp_path):
    root, _ = tiny_batch
    manifest = {"period": "2026Q3", "cxlab_version": "0", "batches": [
        {"id": "a", "template": "quarterly", "reports": [], "period": "2026Q3",
         "cxlab_version": "0"}]}
    out = tmp_path / "2026Q3"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = {"id": "a", "template": "quarterly", "period": "2026Q3", "cxlab_version": "0",
             "started": "t", "reports": [{"name": "x", "status": "ok", "html": "x.html",
                                          "kpis": []}]}
    with rp.Publication(out) as pub:
        rp._finish(again, pub, 0.0, partial=False)
    got = rp.read_manifest(out)
    assert len(got["batches"]) == 1 and got["batches"][0]["reports"][0]["name"] == "x"


def test_actions_come_from_the_whatif_chain_on_the_segment_only(kestrel):
    ctx = _ctx(by="region", segment="South", bootstrap=40, top_actions=3)
    res = rc.actions_result(ctx)
    top = rc.actions_table(ctx)
    assert len(top) == 3 and list(top["rank"]) == sorted(top["rank"])
    assert top["net_value"].is_monotonic_decreasing
    south = kestrel.customers[kestrel.customers.region == "South"]
    assert res.settings["customers"] == (south.churned == 0).sum()   # the segment's base only
    assert res.settings["n_driver_model"] <= (kestrel.survey.region == "South").sum()
    # each action's value interval brackets its estimate
    assert ((top["net_ci_low"] <= top["net_value"]) & (top["net_value"] <= top["net_ci_high"])).all()
    # whatif's merged sparse levels and failed draws reach the report's notes (and the manifest)
    st = res.settings
    assert st["merged_levels"], "South has segments with few churn events (plumbing needs one)"
    for m in st["merged_levels"]:
        assert any(m["note"] in n for n in ctx.notes), m["note"]
    assert st["failed_draws"] == 0 or any("bootstrap draws" in n for n in ctx.notes)


def test_driver_model_uses_widely_rated_touchpoints_and_recovers_the_leader(kestrel):
    """Known truth: network reliability carries the largest true weight on ltr (truth.json)."""
    ctx = _ctx(bootstrap=30)
    res = rc.driver_result(ctx)
    truth = ctx.data.truth["ltr_drivers"]["ranking"]
    assert res.importance["share"].idxmax() == rc.nice(truth[0])
    assert set(rc.driver_frame(ctx).left_out) == {"onboarding", "shop_experience"}
    assert 0 < res.r2_ci[0] <= res.r2 <= res.r2_ci[1] < 1


def test_scripted_outage_is_called_a_change_and_a_quiet_region_is_not(kestrel):
    """Known truth (truth.json 'event'): a network outage programme hits the South from its
    from_wave on. The report for that quarter must call the South's NPS drop 'down'; the North,
    untouched by the event, must not show an NPS change beyond the noise."""
    event = kestrel.truth["event"]
    south = rc.kpi_table(_ctx(period=event["from_wave"], by="region", segment=event["region"]))
    north = rc.kpi_table(_ctx(period=event["from_wave"], by="region", segment="North"))
    assert south.set_index("kpi").loc["NPS", "verdict"] == "down"
    assert north.set_index("kpi").loc["NPS", "verdict"] == "no change beyond the noise"
