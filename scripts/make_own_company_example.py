"""Write ``examples/own_company/``: the bundled company as another firm would export it.

    python scripts/make_own_company_example.py

A sample of Kestrel Connect (a fixed share of customers, the last four waves) with nothing in
Kestrel's layout: the survey is Parquet with question codes for columns (``Q1_NPS``, ``Q4_1``..)
and a survey date instead of a wave, regions in Polish and Ukrainian ("Południe", "Київ"); the
customer table is a CSV written on a European PC (``;``, decimal commas, dates as 31.12.2025,
plan codes B/S/P); the contacts are an Excel workbook whose quarter reads "Q3 2026"; the pulse
survey is an SPSS file. ``company.yaml`` maps it all onto the data contract.

:func:`subset` is the same sample in the contract's own layout, so a test can show that the
reports give the same numbers on both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import cxlab as cx
from cxlab.contract import QA_ITEMS, TOUCHPOINTS, Company

OUT = Path(__file__).resolve().parents[1] / "examples" / "own_company"
SEED = 11
SHARE = 0.35            # share of customers kept
N_WAVES = 4             # latest waves kept
REGIONS = {"North": "Północ", "South": "Południe", "West": "Zachód", "East": "Схід",
           "Central": "Київ"}
PLANS = {"Basic": "B", "Standard": "S", "Premium": "P"}
SURVEY = {"response_id": "RESP_ID", "customer_id": "KLIENT", "survey_date": "DATA_ANKIETY",
          "segment": "SEGMENT_KLIENTA", "region": "REGION", "plan": "TARYFA", "ltr": "Q1_NPS",
          "osat": "Q2_SAT", "effort": "Q3_EFFORT",
          **{t: f"Q4_{i}" for i, t in enumerate(TOUCHPOINTS, start=1)}}
CUSTOMERS = {"customer_id": "KLIENT", "segment": "SEGMENT_KLIENTA", "region": "REGION",
             "plan": "TARYFA", "channel": "KANAL", "start_date": "POCZATEK", "end_date": "KONIEC",
             "churned": "ODSZEDL", "tenure_months": "STAZ_MIES", "monthly_revenue": "PRZYCHOD_MIES"}
CONTACTS = {"contact_id": "CONTACT_ID", "customer_id": "KLIENT", "contact_date": "DATA_KONTAKTU",
            "wave": "QUARTER", "region": "REGION", "channel": "KANAL", "team": "ZESPOL",
            "agent_id": "AGENT", "problem_type": "PROBLEM", "fcr": "FCR", "csat": "CSAT_POST",
            "ces": "CES_POST", **{q: q.upper() for q in QA_ITEMS}}
PULSE = {"employee_id": "PRACOWNIK", "team": "ZESPOL", "wave": "FALA",
         "engagement": "ZAANGAZOWANIE", "enps": "ENPS"}


def subset(company: Company | None = None) -> Company:
    """The sample the example holds, in the contract's layout (no truth, no invitations)."""
    company = company or cx.datasets.load("kestrel")
    waves = sorted(company.survey["wave"].unique())[-N_WAVES:]
    rng = np.random.default_rng(SEED)
    ids = company.customers["customer_id"]
    keep = set(ids[rng.random(len(ids)) < SHARE])
    pick = lambda f: f.loc[f["customer_id"].isin(keep)].reset_index(drop=True)  # noqa: E731
    in_waves = lambda f: f.loc[f["wave"].isin(waves)].reset_index(drop=True)  # noqa: E731
    return Company(customers=pick(company.customers), survey=in_waves(pick(company.survey)),
                   contacts=in_waves(pick(company.contacts)), pulse=in_waves(company.pulse),
                   name="own_company")


def _quarter_text(wave: pd.Series) -> pd.Series:
    return "Q" + wave.str[-1] + " " + wave.str[:4]


def _european(frame: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    out = frame.copy()
    for col, d in decimals.items():
        out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{d}f}".replace(".", ","))
    return out


def write(company: Company, out: Path = OUT) -> list[Path]:
    """Write the four exports and keep ``company.yaml`` (hand-written, next to them)."""
    import pyreadstat
    out.mkdir(parents=True, exist_ok=True)
    region = lambda s: s.map(REGIONS)  # noqa: E731
    survey = company.survey.drop(columns="wave").assign(region=lambda d: region(d["region"]),
                                                        plan=lambda d: d["plan"].map(PLANS))
    survey.rename(columns=SURVEY).to_parquet(out / "survey.parquet", index=False)
    cust = company.customers.assign(region=lambda d: region(d["region"]),
                                    plan=lambda d: d["plan"].map(PLANS))
    for col in ("start_date", "end_date"):
        cust[col] = cust[col].dt.strftime("%d.%m.%Y").fillna("")
    _european(cust, {"tenure_months": 2, "monthly_revenue": 2}).rename(columns=CUSTOMERS).to_csv(
        out / "customers.csv", sep=";", index=False, encoding="utf-8", lineterminator="\n")
    contacts = company.contacts.assign(region=lambda d: region(d["region"]),
                                       wave=lambda d: _quarter_text(d["wave"]))
    contacts.rename(columns=CONTACTS).to_excel(out / "contacts.xlsx", index=False,
                                               sheet_name="kontakty")
    pulse = company.pulse.rename(columns=PULSE)
    pyreadstat.write_sav(pulse, str(out / "pulse.sav"),
                         column_labels={"ZAANGAZOWANIE": "Zaangażowanie (1–5)",
                                        "ENPS": "eNPS 0–10"})
    return sorted(out.glob("*"))


def main() -> None:
    files = write(subset())
    total = sum(f.stat().st_size for f in files)
    for f in files:
        print(f"{f.name:<18} {f.stat().st_size / 1024:8.0f} KB")
    print(f"{'total':<18} {total / 1024:8.0f} KB")


if __name__ == "__main__":
    main()
