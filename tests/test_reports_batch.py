"""The real templates run end to end on the bundled company: a small parallel batch (company + 2
regions, 2 workers), a rerun for reproducibility and one team scorecard. Checks what a reader of
the published files would see: no code, no respondent rows, no other segment's data, charts
embedded, links that resolve, and the same numbers on a rerun.
"""

from __future__ import annotations

import html
import re

import pytest

import cxlab as cx
from cxlab.contract import files_sha256
from cxlab.report import data as rd
from cxlab.report import record as rr
from cxlab.report import runner as rp

pytestmark = pytest.mark.slow
REGIONS = ("Central", "East", "North", "South", "West")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return rp.run("quarterly", by="region", segments=["North", "South"], out=out, workers=2,
                  params={"bootstrap": 50}, progress=False)


@pytest.fixture(scope="module")
def rerun(tmp_path_factory):
    out = tmp_path_factory.mktemp("again")
    return rp.run("quarterly", by="region", segments=["North"], company=False, out=out,
                  workers=1, params={"bootstrap": 50}, progress=False)


def _html(batch, name):
    return (batch.out_dir / f"{name}.html").read_text()


def test_batch_succeeds_and_publishes_every_report(batch):
    assert batch.ok, batch.summary()
    assert [r["name"] for r in batch.reports] == [
        "quarterly-company", f"quarterly-region-{rp.slug('North')}",
        f"quarterly-region-{rp.slug('South')}"]
    for r in batch.reports:
        assert (batch.out_dir / r["html"]).exists()
        assert (batch.out_dir / r["notebook"]).exists()
        assert [k["name"] for k in r["kpis"]] == ["NPS", "CSAT", "CES"]
    assert not list(batch.out_dir.rglob("*.tmp")) and not list(batch.out_dir.rglob("*.partial*"))


def test_manifest_content(batch):
    import cxlab
    entry = rp.read_manifest(batch.out_dir)["batches"][0]
    files = cx.datasets.load("kestrel").files         # the files the report reads
    assert {"customers.csv", "survey.csv", "contacts.csv", "pulse.csv", "truth.json"} <= {
        p.name for p in files}
    assert entry["data_sha256"] == files_sha256(files)
    assert set(entry["data_files"]) == {p.name for p in files}
    assert entry["cxlab_version"] == cxlab.__version__ and entry["workers"] == 2
    assert entry["parameters"]["bootstrap"] == 50 and entry["period"] == rd.waves_of(
        rd.load_data("kestrel").survey)[-1]
    for r in entry["reports"]:
        assert r["status"] == "ok" and r["seconds"] > 0 and r["attempts"] == 1
        assert r["started"] <= r["finished"]
    assert entry["seconds"] >= max(r["seconds"] for r in entry["reports"])


def test_stakeholder_html_has_no_code_no_rows_no_errors(batch):
    for r in batch.reports:
        page = _html(batch, r["name"])
        for banned in ("cx.report", "report_content", "rq.show", "ts.show", "import cxlab", "ctx =", "globals()",
                       "jp-InputArea",
                       "Traceback", "Error", "Warning", "parameters", "customer_id",
                       "response_id", rr.RECORD_MIME):
            assert banned not in page, (r["name"], banned)
        assert not re.search(r"\b[KR]\d{6,7}\b", page)        # no customer or response ids
        assert "<script" not in page and "http://" not in page and "https://" not in page
        # self-contained: opens offline, nothing fetched from elsewhere
        assert page.count("data:image/png;base64,") >= 3        # trend, drivers, churn
        for section in ("Headline KPIs", "Trend over the last waves", "What drives the score",
                        "Churn and value", "Revenue at risk", "What to do: one ranked list"):
            assert section in page, (r["name"], section)
        assert "€-" not in page                                  # negative money reads −€


def test_segment_report_holds_no_other_segment(batch):
    north = _html(batch, f"quarterly-region-{rp.slug('North')}")
    assert "Region North" in north and "Company" in north
    for other in set(REGIONS) - {"North"}:
        assert other not in north
    company = _html(batch, "quarterly-company")
    assert all(region in company for region in REGIONS)     # the company report shows them all


def test_index_links_resolve_and_show_kpis(batch):
    index = batch.index.read_text()
    links = re.findall(r'href="([^"#]+)"', index)
    reports = [r["html"] for r in batch.reports]
    assert sorted(link for link in links if link in reports) == sorted(reports)
    assert all(link.startswith("alerts/") for link in links if link not in reports)  # the digest
    for link in links:
        assert (batch.out_dir / link).exists()
    nps = batch.reports[1]["kpis"][0]
    shown = html.unescape(index)                    # labels are escaped as numeric references
    assert nps["text"] in shown and "NPS" in shown


def test_rerun_reproduces_the_numbers(batch, rerun):
    first = next(r for r in batch.reports if r["segment"] == "North")
    second = rerun.reports[0]
    assert first["kpis"] == second["kpis"]
    strip = lambda page: re.sub(r"<footer>.*?</footer>", "", page, flags=re.S)  # noqa: E731
    assert strip(_html(batch, first["name"])) == strip(_html(rerun, second["name"]))


def test_team_scorecard_for_one_team(tmp_path):
    team = rp.run("team_scorecard", segments=["Chat Tech"], company=False, out=tmp_path,
                  workers=1, params={"bootstrap": 50}, progress=False)
    assert team.ok, team.summary()
    page = _html(team, team.reports[0]["name"])
    for section in ("Goals cascaded from the company target", "Call-quality scorecard",
                    "Engagement pulse"):
        assert section in page
    assert "Chat Billing" not in page and "Fault Line" not in page
    assert [k["name"] for k in team.reports[0]["kpis"]] == ["CSAT", "CES", "FCR"]
