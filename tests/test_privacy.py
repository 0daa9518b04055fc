"""The adversary of the suppression rule (issue 15 defect 3, issue 17 item 5).

For every suppressed cell of a batch on the bundled company (the South cut to 20 answers in
2026Q3 in a filtered copy; the small teams of the bundled contact survey, e.g. Retention Desk's
CES with n = 29), the adversary takes everything published — KPI cards and manifest, the
company page's segment table, every segment's own KPI table, targets and uplifts, changes vs
the previous period — and tries to rebuild the value: by subtraction from the company total
(weighted by the bases, which it is given even where they are not published), from a target
minus the uplift, from previous value plus change. It must fail: either a needed number is not
published, or the feasible interval it can derive covers at least half of the KPI's scale.

The logic is tested on the notebook's record and tables directly (no kernels); one end-to-end
batch (company + 5 regions, bootstrap 20) checks the stakeholder folder as written: the HTML
of every page, the index and the manifest.
"""

from __future__ import annotations

import html as _html
import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from cxlab import datasets
from cxlab.report import quarterly as rq
from cxlab.report import team_scorecard as ts
from cxlab.report.common import complementary_suppression
from cxlab.report.context import QUARTERLY_KPIS
from cxlab.report.record import SUPPRESSION_RULE

PERIOD = "2026Q3"
MIN_BASE = 30
SCALE = {"NPS": (-100.0, 100.0), "CSAT": (0.0, 100.0), "CES": (1.0, 7.0), "FCR": (0.0, 100.0)}


# ---------------------------------------------------------------------------- the rule itself

@pytest.mark.parametrize("counts, expected", [
    ({"N": 400, "S": 20, "W": 90}, {"S", "W"}),          # one small group: the smallest other too
    ({"N": 400, "W": 90}, set()),                         # nothing small, nothing hidden
    ({"N": 400, "S": 5, "T": 6, "W": 90}, {"S", "T", "W"}),   # 5 + 6 < 30: pool must reach 30
    ({"N": 400, "S": 20, "T": 15}, {"S", "T"}),           # 35 >= 30 with two groups
    ({"N": 400, "S": 20, "E": 0}, {"S", "N"}),            # an empty group hides nothing
])
def test_complementary_suppression_rule(counts, expected):
    assert complementary_suppression(counts, MIN_BASE) == expected


def test_rule_pools_at_least_the_minimum_base_on_random_partitions():
    rng = np.random.default_rng(7)
    for _ in range(500):
        counts = {f"g{i}": int(n) for i, n in enumerate(rng.integers(0, 80, rng.integers(2, 9)))}
        hidden = complementary_suppression(counts, MIN_BASE)
        primary = {g for g, n in counts.items() if 0 < n < MIN_BASE}
        assert primary <= hidden
        if hidden:
            pooled = sum(counts[g] for g in hidden)
            published = [g for g, n in counts.items() if n > 0 and g not in hidden]
            assert len(hidden) >= 2 or not published
            assert pooled >= MIN_BASE or not published


# ----------------------------------------------------------------------- the adversary's tools

def _feasible(kpi: str, total: tuple[float, int], published: dict, hidden_n: dict,
              target: str) -> tuple[float, float]:
    """The interval of ``target``'s value consistent with the company value·n, the published
    segments' value·n and every other hidden segment anywhere on the scale (the adversary is
    given every hidden segment's n). Only a primary (small) cell must stay wide: a
    complementary cell is hidden to protect it but is no small cell itself."""
    lo, hi = SCALE[kpi]
    rest = total[0] * total[1] - sum(v * n for v, n in published.values())
    others = {g: n for g, n in hidden_n.items() if g != target}
    n_t = hidden_n[target]
    # rest = x_t n_t + sum x_j n_j with x_j in [lo, hi]
    a = (rest - hi * sum(others.values())) / n_t
    b = (rest - lo * sum(others.values())) / n_t
    return max(lo, a), min(hi, b)


def _assert_protected(kpi: str, interval: tuple[float, float], truth, where: str):
    """The adversary fails when its interval is at least a quarter of the scale wide (NPS 50
    points, CES 1.5) and twice as wide as the cell's own 95% interval: it learns less than
    publishing the small cell would have told (``truth``: the cell's metric at min_base 1)."""
    lo, hi = SCALE[kpi]
    a, b = interval
    value = truth.value
    assert a - 1e-9 <= value <= b + 1e-9, f"{where}: the adversary's bound is wrong (test bug)"
    need = max(0.25 * (hi - lo), 2 * (truth.ci_high - truth.ci_low))
    assert b - a >= need, (f"{where}: {kpi} {value:.2f} narrowed to {a:.2f}..{b:.2f} "
                           f"(< {need:.2f} wide) from the published numbers")


@pytest.fixture(scope="module")
def south_cut(tmp_path_factory):
    """A copy of the bundled company whose South has 20 answers in 2026Q3."""
    folder = tmp_path_factory.mktemp("south20") / "kestrel_south20"
    shutil.copytree(datasets.path("kestrel"), folder)
    survey = pd.read_csv(folder / "survey.csv")
    cut = (survey["wave"].astype(str) == PERIOD) & (survey["region"] == "South")
    drop = survey.index[cut][20:]
    survey.drop(index=drop).to_csv(folder / "survey.csv", index=False)
    comments = pd.read_csv(folder / "comments.csv", keep_default_na=False)   # answers cut: comments too
    comments[comments["response_id"].isin(survey["response_id"].drop(index=drop))].to_csv(
        folder / "comments.csv", index=False)
    return folder


def _truth(folder, region, kpi):
    """The hidden cell as the data hold it: (metric result at min_base 1, answers)."""
    s = pd.read_csv(folder / "survey.csv")
    s = s.loc[(s["wave"].astype(str) == PERIOD) & (s["region"] == region)]
    k = next(k for k in QUARTERLY_KPIS if k.name == kpi)
    res = k.compute(s[k.column], 1, 0.95)
    return res, int(res.n)


def test_quarterly_records_and_tables_reveal_no_suppressed_region(south_cut):
    """Record level: cards (the manifest), the company's segment table, each region's own
    KPI table and trend; subtraction from the company total fails for every hidden cell."""
    data = str(south_cut)
    company = rq.prepare("quarterly", data=data, period=PERIOD, by="region")
    regions = sorted(company.data.survey["region"].astype(str).unique())
    records = {None: rq.record(company)}
    tables, contexts = {}, {}
    for r in regions:
        ctx = contexts[r] = rq.prepare("quarterly", data=data, period=PERIOD, by="region",
                                       segment=r)
        records[r] = rq.record(ctx)
        tables[r] = (rq.kpi_table(ctx), rq.trend_table(ctx), rq.comparison_table(ctx))
    assert records["South"]["status"] == "suppressed" and records["South"]["base"] is None
    assert not re.search(r"\b20\b", json.dumps(records["South"]))
    comp = rq.comparison_table(company)
    checked = 0
    for kpi in ("NPS", "CSAT", "CES"):
        card = next(c for c in records[None]["kpis"] if c["name"] == kpi)
        published, hidden = {}, {}
        for r in regions:
            cards = {c["name"]: c for c in records[r]["kpis"]}
            row = comp.loc[(comp["segment"] == r) & (comp["kpi"] == kpi)].iloc[0]
            shown = cards.get(kpi, {}).get("value")
            if shown is None or row["suppressed"]:
                assert not np.isfinite(row["value"]), f"{r} {kpi} in the company table"
                hidden[r] = _truth(south_cut, r, kpi)[1]     # the adversary gets every n
                if r in tables:
                    kt, trend, cmp_ = tables[r]
                    k_row = kt.set_index("kpi").loc[kpi]
                    assert not np.isfinite(k_row["value"]) and not np.isfinite(k_row["change"])
                    now = trend.loc[(trend["scope"] != "Company") & (trend["wave"] == PERIOD) &
                                    (trend["kpi"] == kpi)] if kpi == trend["kpi"].iloc[0] else None
                    if now is not None:
                        assert now["value"].isna().all()
                    c_row = cmp_.set_index("kpi").loc[kpi]
                    assert not np.isfinite(c_row["difference"])
                    if kpi == "NPS":      # its NPS mix x active customers = the NPS
                        assert rq.revenue_at_risk(contexts[r]) is None
                if cards.get(kpi):
                    assert cards[kpi].get("change") is None and cards[kpi].get("n") is None
            else:
                published[r] = (shown, cards[kpi]["n"])
        assert "South" in hidden and len(hidden) >= 2, f"{kpi}: no complementary suppression"
        for target in (g for g in hidden if hidden[g] < MIN_BASE):   # the sensitive cells
            truth = _truth(south_cut, target, kpi)[0]
            interval = _feasible(kpi, (card["value"], card["n"]), published, hidden, target)
            _assert_protected(kpi, interval, truth, f"{target} {kpi}")
            checked += 1
    assert checked >= 3


def test_team_targets_reveal_no_suppressed_team():
    """Issue 17: Retention Desk's CES (n = 29) was 6.51 (team target) − 0.20 (uplift). Now no
    team whose KPI is suppressed has a target, a value or a change published; and subtraction
    from the company value fails for every hidden team."""
    company = ts.prepare("team_scorecard", period=PERIOD, by="team")
    targets = ts.target_table(company)
    comp = ts.comparison_table(company)
    contacts = company.data.contacts
    now = contacts.loc[contacts["wave"].astype(str) == PERIOD]
    checked = 0
    for k in ts.prepare("team_scorecard", period=PERIOD, by="team").kpis:
        t = targets.loc[targets["kpi"] == k.name]
        hidden = set(t.loc[t["suppressed"], "team"])
        if k.name == "CES":
            assert "Retention Desk" in hidden
        if not hidden:
            continue
        assert len(hidden) >= 2
        assert t.loc[t["suppressed"], ["team_now", "team_target"]].isna().all().all()
        rows = comp.loc[comp["kpi"] == k.name].set_index("segment")
        assert set(rows.index[rows["suppressed"]]) == hidden
        counts = now.groupby(now["team"].astype(str))[k.column].count()
        published = {g: (r["value"], counts[g]) for g, r in rows.iterrows() if g not in hidden}
        total = k.compute(now[k.column], 1, 0.95)
        for team in hidden:
            own = ts.prepare("team_scorecard", period=PERIOD, by="team", segment=team)
            row = ts.target_table(own).set_index("kpi").loc[k.name]
            assert row["status"] == "suppressed" and not np.isfinite(row["team_target"])
            card = next(c for c in ts.record(own)["kpis"] if c["name"] == k.name)
            assert card["value"] is None and card["n"] is None and card.get("change") is None
            if counts[team] >= MIN_BASE:
                continue        # complementary: hidden, but not itself a small cell
            truth = k.compute(now.loc[now["team"].astype(str) == team, k.column], 1, 0.95)
            interval = _feasible(k.name, (total.value, total.n), published,
                                 {g: int(counts[g]) for g in hidden}, team)
            _assert_protected(k.name, interval, truth, f"{team} {k.name}")
            checked += 1
    assert checked >= 1


# ----------------------------------------------------------------- one end-to-end batch

class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _text(page: str) -> str:
    p = _Text()
    p.feed(page)
    return re.sub(r"\s+", " ", _html.unescape(" ".join(p.parts)))


@pytest.mark.slow
def test_batch_stakeholder_folder_leaks_no_suppressed_cell(south_cut, tmp_path):
    from cxlab.report import runner
    batch = runner.run("quarterly", period=PERIOD, by="region", data=str(south_cut),
                       out=tmp_path, params={"bootstrap": 20}, workers=2, progress=False)
    folder = batch.out_dir if hasattr(batch, "out_dir") else tmp_path / PERIOD
    manifest = json.loads((folder / "manifest.json").read_text())
    reports = [r for b in manifest["batches"] for r in b["reports"]]
    south = next(r for r in reports if r.get("segment") == "South")
    assert south["status"] == "suppressed" and south.get("base") is None
    told = {k: v for k, v in south.items() if k not in {"parameters", "started", "finished",
                                                          "run"}}     # bootstrap 20, times
    assert not re.search(r"\b20\b", json.dumps(told)), "the South's n is published"
    analyst = json.loads((folder.parent / f"{folder.name}.analyst.json").read_text())
    bases = {k: v for b in analyst.values() for k, v in b.get("suppressed_bases", {}).items()}
    assert bases == {south["name"]: 20}            # the analyst file, outside the folder, has it
    index = _text((folder / "index.html").read_text())
    assert SUPPRESSION_RULE[:60] in index
    pages = {p.name: _text(p.read_text()) for p in folder.glob("*.html")}
    assert not any("South" in name for name in pages), "a page for the suppressed South"
    # the adversary's numbers: every KPI card in the manifest (as on the index)
    by_seg = {r.get("segment"): {c["name"]: c for c in r.get("kpis", [])} for r in reports}
    for kpi in ("NPS", "CSAT", "CES"):
        total = by_seg[None][kpi]
        published = {g: (c[kpi]["value"], c[kpi]["n"]) for g, c in by_seg.items()
                     if g is not None and c.get(kpi, {}).get("value") is not None}
        hidden = {g: _truth(south_cut, g, kpi)[1] for g in by_seg
                  if g is not None and g not in published}
        assert "South" in hidden and len(hidden) >= 2
        for g in hidden:
            card = by_seg[g].get(kpi, {})
            assert card.get("value") is None and card.get("n") is None
            assert card.get("ci_low") is None and card.get("change") is None
            if hidden[g] >= MIN_BASE:
                continue        # complementary: hidden, but not itself a small cell
            interval = _feasible(kpi, (total["value"], total["n"]), published, hidden, g)
            _assert_protected(kpi, interval, _truth(south_cut, g, kpi)[0], f"{g} {kpi} (batch)")
    # the pages print no row of a hidden region with a number beside it
    company_page = next(t for n, t in pages.items() if n.endswith("company.html"))
    for g in hidden:
        m = re.search(rf"\b{g}\b\s+(suppressed)", company_page)
        assert m, f"{g} is not shown as suppressed in the company's segment table"
    # complements of shares: the revenue-at-risk table split the active customers by this
    # quarter's NPS mix (promoters − detractors over all = the NPS to a rounding)
    mixes = 0
    for name, text in pages.items():
        mix = re.search(r"Detractor ([\d,]+) [+−][\d.]+ pts .*?Passive ([\d,]+) [+−][\d.]+ pts "
                        r".*?Promoter ([\d,]+) ", text)
        if mix is None:
            continue
        mixes += 1
        d, p_, pr = (int(x.replace(",", "")) for x in mix.groups())
        implied = 100 * (pr - d) / (d + p_ + pr)
        for g in hidden:
            if f"-{g.lower()}-" in name:
                raise AssertionError(f"{name}: {g}'s NPS mix is published (NPS {implied:.1f})")
    assert mixes >= 3, "the NPS-mix attack found no table at all (the regex is stale)"


def test_alert_digest_lists_no_hidden_segment(south_cut):
    """A flag of a group hidden to protect a smaller one (its value and n beside the company
    figure) would give the smaller one away: the digest drops it, keeps the others."""
    from cxlab.report.alerts_digest import without_hidden
    survey = pd.read_csv(south_cut / "survey.csv")
    rows = pd.DataFrame({"department": "CX programme office", "kpi": "NPS", "period": PERIOD,
                         "segment": ["South", "Central", "North"], "value": [1.0, 2.0, 3.0]})
    kept = without_hidden(rows, survey, "region", PERIOD, MIN_BASE)
    assert list(kept["segment"]) == ["North"]
    tp = rows.assign(kpi="billing_clarity")
    assert "South" not in set(without_hidden(tp, survey, "region", PERIOD, MIN_BASE)["segment"])
