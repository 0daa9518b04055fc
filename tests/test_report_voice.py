"""The optional comments table (contract, loaders, company configuration) and the quarterly
report's "What customers say" section (cxlab.report.voice): the South's outage theme rises in
2026Q2 beyond its interval, agreeing with the simulator's true themes; personal data planted in
the comments never reach the section's output or the stakeholder HTML."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

import cxlab as cx
from cxlab.checks import CXDataError
from cxlab.contract import Company, files_sha256


@pytest.fixture(scope="module")
def kestrel():
    return cx.datasets.load("kestrel")


# ------------------------------------------------------------------------------ the contract
def test_kestrel_comments_are_linked_to_the_survey(kestrel):
    com, survey = kestrel.comments, kestrel.survey
    assert len(com) == len(survey)                 # one (possibly empty) answer per response
    raw = pd.read_csv(cx.datasets.path("kestrel") / "comments.csv", dtype=str,
                      keep_default_na=False)
    assert com["comment"].tolist() == raw["comment"].tolist()
    joined = com.merge(survey[["response_id", "customer_id", "wave"]], on="response_id",
                       suffixes=("", "_survey"))
    assert (joined["customer_id"] == joined["customer_id_survey"]).all()
    assert (joined["wave"] == joined["wave_survey"]).all()
    assert set(com["language"]) == {"en", "pl"}


def test_optional_tables_leave_the_data_fingerprint_unchanged(kestrel):
    folder = cx.datasets.path("kestrel")
    required = [folder / f for f in ("customers.csv", "survey.csv", "contacts.csv",
                                     "pulse.csv", "truth.json")]
    assert kestrel.data_sha256 == files_sha256(required)
    assert kestrel.comments is not None and kestrel.invitations is not None


def test_company_config_comments_keyed_by_customer_and_wave(kestrel, tmp_path):
    from cxlab.company import load_company, validate_company
    survey = kestrel.survey.head(300)
    survey.to_csv(tmp_path / "survey.csv", index=False)
    kestrel.customers.to_csv(tmp_path / "customers.csv", index=False)
    verb = pd.DataFrame({"KLIENT": survey["customer_id"], "FALA": survey["wave"],
                         "DLACZEGO": ["za drogo"] * len(survey), "JEZYK": "pl"})
    verb.to_csv(tmp_path / "verb.csv", index=False)
    cfg = {"name": "t", "tables": {
        "survey": {"source": "survey.csv"}, "customers": {"source": "customers.csv"},
        "comments": {"source": "verb.csv", "columns": {
            "customer_id": "KLIENT", "wave": "FALA", "comment": "DLACZEGO",
            "language": "JEZYK"}}}}
    import yaml
    (tmp_path / "company.yaml").write_text(yaml.safe_dump(cfg))
    company = load_company(tmp_path / "company.yaml")
    assert company.comments["response_id"].tolist() == survey["response_id"].tolist()
    assert (company.comments["language"] == "pl").all()
    verb.loc[7, "KLIENT"] = "NOBODY"
    verb.to_csv(tmp_path / "verb.csv", index=False)
    report = validate_company(tmp_path / "company.yaml")
    assert not report.ok
    msg = " ".join(i.message for i in report.errors)
    assert "1 comment(s) match no survey response" in msg and "NOBODY" in msg


def test_comments_without_a_comment_column_are_rejected(kestrel):
    from cxlab.contract import link_comments
    with pytest.raises(CXDataError, match="no 'comment' column"):
        link_comments(pd.DataFrame({"response_id": ["R0000001"]}), kestrel.survey)


# ---------------------------------------------------------------------------- the section
def _ctx(**kw):
    from cxlab.report import quarterly as rq
    return rq.prepare("quarterly", **{"data": "kestrel", "period": "2026Q3", **kw})


def test_south_outage_theme_rises_in_2026q2_beyond_its_interval(kestrel):
    from cxlab.report import voice
    ctx = _ctx(by="region", segment="South")
    trend = voice.theme_trend(ctx).set_index(["wave", "theme"])
    q1, q2 = trend.loc[("2026Q1", "network_outage")], trend.loc[("2026Q2", "network_outage")]
    assert not q1["suppressed"] and not q2["suppressed"]
    assert q2["prevalence_ci_low"] > q1["prevalence_ci_high"]
    # the simulator's true themes (independent of the codeframe) rise the same way
    truth = json.loads((cx.datasets.path("kestrel") / "comments_truth.json").read_text())
    true_ids = set(truth["true_themes"]["network_outage"])
    written = kestrel.comments.loc[kestrel.comments["comment"].str.strip() != ""]
    south = written.merge(kestrel.survey[["response_id", "region"]], on="response_id")
    south = south.loc[south["region"] == "South"]
    true_share = {w: south.loc[south["wave"] == w, "response_id"].isin(true_ids).mean()
                  for w in ("2026Q1", "2026Q2")}
    assert true_share["2026Q2"] > 2 * true_share["2026Q1"]
    # coded share within 10 points of the true share (coding recall/precision ~0.9)
    for w, row in (("2026Q1", q1), ("2026Q2", q2)):
        assert abs(row["prevalence"] - 100 * true_share[w]) < 10
    assert ctx.waves[-1] == "2026Q3"


def test_prevalence_table_matches_an_independent_wilson_interval():
    """Shares and intervals against statsmodels' Wilson interval on the coded comments."""
    from statsmodels.stats.proportion import proportion_confint
    from cxlab.report import voice
    ctx = _ctx()
    table = voice.theme_prevalence(ctx)
    frame = voice.comment_frame(ctx)
    now = frame.loc[frame["wave"] == "2026Q3"]
    for theme, row in table.iterrows():
        x, n = int(now[theme].sum()), len(now)
        lo, hi = proportion_confint(x, n, alpha=0.05, method="wilson")
        assert row["n_with"] == x and row["n_comments"] == n
        assert row["prevalence_ci_low"] == pytest.approx(100 * lo, abs=1e-9)
        assert row["prevalence_ci_high"] == pytest.approx(100 * hi, abs=1e-9)
    # effects only where at least min_base pooled comments carry the theme
    pooled = frame.loc[frame["wave"].isin(ctx.waves)]
    few = [t for t in table.index if pooled[t].sum() < ctx.min_base]
    assert table.loc[few, "effect"].isna().all()
    assert table["effect"].notna().any()


def test_no_comments_table_gives_a_plain_note(capsys):
    from cxlab.report import voice
    ctx = _ctx()
    ctx.data = Company(customers=ctx.data.customers, survey=ctx.data.survey,
                       contacts=ctx.data.contacts, pulse=ctx.data.pulse, name="bare")
    voice.show_voice(ctx)
    out = capsys.readouterr().out
    assert "No comments table" in out


def test_small_cell_shows_no_themes_and_no_quotes(capsys):
    from cxlab.report import voice
    ctx = _ctx(by="region", segment="South", min_base=1000)
    ctx.suppressed = False                  # the survey base passes; the comment base does not
    voice.show_voice(ctx)
    out = capsys.readouterr().out
    assert "Fewer than 1000 written comments" in out
    assert "“" not in out


# --------------------------------------------------------------------------- personal data
def _luhn_complete(stem: str) -> str:
    digits = [int(d) for d in stem + "0"]
    for i in range(len(digits) - 2, -1, -2):
        digits[i] = digits[i] * 2 - 9 if digits[i] * 2 > 9 else digits[i] * 2
    return stem + str((10 - sum(digits) % 10) % 10)


def _iban(country: str, bban: str) -> str:
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def _personal(i: int) -> dict:
    first = ["Anna", "Marek", "Olivia", "George", "Zofia", "Tomasz"][i % 6]
    last = ["Kowalska", "Nowak", "Thompson", "Whitfield", "Wiśniewska", "Zieliński"][i % 6] + \
        "abcdefghij"[i % 10]
    card = _luhn_complete(f"453914880{i:06d}")
    iban = _iban("PL", f"10901014{i:016d}")
    return {"name": f"{first} {last}", "email": f"{first.lower()}.{last.lower()}{i}@example.com",
            "phone": f"+48 601 {i % 1000:03d} {(7 * i) % 1000:03d}", "card": card,
            "card_spaced": " ".join(card[k:k + 4] for k in range(0, 16, 4)), "iban": iban,
            "account": f"{88000000 + 37 * i}"}


_TEMPLATES = [
    "charged twice on my bill again. my name is {name}, email {email}",
    "wrong amount on the invoice, call me on {phone} please",
    "the internet keeps dropping, outage every evening. Card {card_spaced} was billed anyway",
    "overcharged, refund to IBAN {iban} - {email}",
    "too expensive for what it is. Regards, {name}. Account {account}",
    "nazywam się {name}, ciągle awaria internetu, tel {phone}, karta {card}",
]


def _planted(kestrel, region="North", period="2026Q3"):
    """kestrel with every written comment of ``region`` in ``period`` replaced by one carrying
    personal data, and the personal strings planted."""
    com = kestrel.comments.copy()
    reg = com.merge(kestrel.survey[["response_id", "region"]], on="response_id")["region"]
    rows = np.flatnonzero((reg.to_numpy() == region) & (com["wave"].to_numpy() == period) &
                          (com["comment"].str.strip().to_numpy() != ""))
    secrets = set()
    for k, i in enumerate(rows):
        p = _personal(k)
        com.iloc[i, com.columns.get_loc("comment")] = _TEMPLATES[k % len(_TEMPLATES)].format(**p)
        com.iloc[i, com.columns.get_loc("language")] = "pl" if k % 6 == 5 else "en"
        used = re.findall(r"{(\w+)}", _TEMPLATES[k % len(_TEMPLATES)])
        secrets |= {p[u] for u in used}
        secrets |= {p["name"].split()[1]}          # the surname alone
    planted = Company(customers=kestrel.customers, survey=kestrel.survey,
                      contacts=kestrel.contacts, pulse=kestrel.pulse, truth=kestrel.truth,
                      name="kestrel_pii", comments=com)
    return planted, secrets, len(rows)


def _leaks(text: str, secrets) -> list[str]:
    """Planted strings visible in ``text`` once HTML entities are decoded (what a reader sees),
    also as digit runs with their separators removed (a card number re-spaced). Embedded
    images (base64 data URIs) are left out: their characters are no text a reader sees."""
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", html.unescape(text))
    flat = re.sub(r"\s+", " ", text)
    digits = re.sub(r"(?<=\d)[\s().-]+(?=\d)", "", text)
    found = [s for s in secrets if s in flat]
    found += [s for s in secrets if re.fullmatch(r"[+\d ]{8,}", s)
              and re.sub(r"\D", "", s) in digits]
    return found


def test_section_content_leaks_no_personal_data(kestrel, capsys):
    from cxlab.report import voice
    planted, secrets, n = _planted(kestrel)
    assert n >= 60
    ctx = _ctx(by="region", segment="North")
    ctx.data = planted
    voice.show_voice(ctx)
    out = html.unescape(capsys.readouterr().out)
    assert "charged twice" in out or "awaria" in out or "overcharged" in out   # quotes shown
    assert "[EMAIL]" in out or "[NAME]" in out or "[PHONE]" in out or "[CARD]" in out
    assert _leaks(out, secrets) == []
    ids = set(kestrel.survey["response_id"]) | set(kestrel.survey["customer_id"])
    assert not [t for t in re.findall(r"\b[RK]\d{6,7}\b", out) if t in ids]
    quotes = voice.quote_table(ctx)
    assert list(quotes.columns) == ["theme", "base", "quote"]
    assert (quotes["base"] >= ctx.min_base).all()


@pytest.mark.slow
def test_stakeholder_html_leaks_no_personal_data(kestrel, tmp_path):
    """One papermill run: the North report of a folder whose North comments carry personal
    data; neither the stakeholder HTML nor the executed notebook's outputs show any of it."""
    from cxlab.report import runner
    planted, secrets, _ = _planted(kestrel)
    folder = planted.save(tmp_path / "data")
    batch = runner.run("quarterly", period="2026Q3", by="region", data=str(folder),
                       out=tmp_path / "out", segments=["North"], company=False,
                       params={"bootstrap": 20}, workers=1, progress=False)
    assert batch.ok
    pages = list((tmp_path / "out").rglob("*.html"))
    north = [p for p in pages if "north" in p.name.lower()]
    assert north, [p.name for p in pages]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert _leaks(text, secrets) == [], page.name
    page = html.unescape(north[0].read_text(encoding="utf-8"))
    assert "What customers say" in page
    assert any(tag in page for tag in ("[EMAIL]", "[NAME]", "[PHONE]", "[CARD]", "[IBAN]"))
