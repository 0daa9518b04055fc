"""Write the deliberately messy example export (and a broken variant) for the driver study.

    python examples/make_messy_example.py

"Acme Broadband" is fictional. The files imitate a survey-platform export opened and re-saved
on a European Windows machine: cp1252 encoding, ';' delimiter, decimal commas, the platform's two
extra header rows (question text and {"ImportId": ...}), "Don't know" typed into rating cells,
99 = "not applicable" codes, a reverse-coded item (Q_CONTRACT: 1 = best), straight-liners, a tiny
region, weights, and survey customer ids partly missing from the customer file.

The outcome is generated with KNOWN driver weights (TRUE_WEIGHTS below), so the study's
ranking can be checked against the truth.

messy_survey.csv          passes validation once the configuration declares the 99 code and the
                          reversed item (examples/study_messy.yaml); warnings remain.
messy_survey_broken.csv   the same export with real errors: a rating of 11 on a 1–5 scale, the
                          word "seven" in a rating, duplicated response ids, a negative weight.
messy_customers.csv       customer-outcome file (churned 0/1, monthly revenue).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N = 800
SEED = 7
DRIVERS = ["Q_BILL", "Q_NET", "Q_SUPPORT", "Q_PRICE", "Q_APP", "Q_CONTRACT"]
QUESTIONS = {
    "ResponseId": "Response ID", "CustomerID": "Customer number",
    "Q_LTR": "How likely are you to recommend Acme Broadband to a friend or colleague? (0–10)",
    "Q_BILL": "How satisfied are you with… – your bills (clear, correct)",
    "Q_NET": "How satisfied are you with… – network reliability",
    "Q_SUPPORT": "How satisfied are you with… – customer support",
    "Q_PRICE": "How satisfied are you with… – price for what you get",
    "Q_APP": "How satisfied are you with… – the Acme app",
    "Q_CONTRACT": "How do you rate your contract terms? (1 = excellent … 5 = very poor)",
    "Region": "Region", "Plan": "Plan", "Weight": "Weight (post-stratification)",
}
#: True effects on the 0–10 outcome per rating point (Q_CONTRACT as answered runs the other way).
TRUE_WEIGHTS = {"Q_NET": 0.9, "Q_SUPPORT": 0.6, "Q_PRICE": 0.45, "Q_BILL": 0.25, "Q_APP": 0.1,
                "Q_CONTRACT": 0.3}


def simulate(rng: np.random.Generator) -> dict[str, np.ndarray]:
    halo = rng.normal(size=N)
    ratings = {}
    for d in DRIVERS:
        latent = 0.5 * halo + rng.normal(size=N) + (0.4 if d == "Q_APP" else 0.0)
        ratings[d] = np.clip(np.round(3.2 + 1.0 * latent), 1, 5)
    ltr = -1.2 + sum(TRUE_WEIGHTS[d] * ratings[d] for d in DRIVERS) + rng.normal(0, 1.1, N)
    ratings["Q_CONTRACT"] = 6 - ratings["Q_CONTRACT"]           # asked the other way round
    ratings["Q_LTR"] = np.clip(np.round(ltr), 0, 10)
    return ratings


def rows(rng: np.random.Generator, broken: bool) -> tuple[list[list[str]], list[list[str]]]:
    r = simulate(rng)
    regions = rng.choice(["Nord", "Süd", "Ost", "West"], N, p=[0.3, 0.3, 0.2, 0.2]).astype(object)
    regions[rng.choice(N, 8, replace=False)] = "Inseln"           # a tiny segment
    plans = rng.choice(["Basis", "Plus", "Premium"], N, p=[0.4, 0.4, 0.2])
    weights = np.round(rng.uniform(0.5, 2.0, N), 2)
    cust_ids = [f"AC{100000 + i}" for i in range(N)]
    cells = {c: [f"{v:g}" for v in r[c]] for c in ["Q_LTR", *DRIVERS]}
    for d in DRIVERS:                                           # not applicable -> 99
        for i in rng.choice(N, 25, replace=False):
            cells[d][i] = "99"
    for i in rng.choice(N, 12, replace=False):                  # typed-in non-answers
        cells[DRIVERS[i % len(DRIVERS)]][i] = "Don't know"
    for i in rng.choice(N, 15, replace=False):                  # straight-liners (as answered)
        v = str(rng.integers(1, 6))
        for d in DRIVERS:
            cells[d][i] = v
    resp_ids = [f"R_{i:05d}" for i in range(N)]
    if broken:
        cells["Q_NET"][17] = "11"
        cells["Q_PRICE"][42] = "seven"
        resp_ids[300] = resp_ids[299]
        resp_ids[301] = resp_ids[299]
        weights[5] = -1.0
    header = ["ResponseId", "CustomerID", "Q_LTR", *DRIVERS, "Region", "Plan", "Weight"]
    out = [header, [QUESTIONS[h] for h in header],
           [json.dumps({"ImportId": f"QID_{h}"}) for h in header]]
    for i in range(N):
        out.append([resp_ids[i], cust_ids[i], cells["Q_LTR"][i], *(cells[d][i] for d in DRIVERS),
                    regions[i], plans[i], f"{weights[i]:.2f}".replace(".", ",")])
    # customers: 15 respondents are not in the customer file (e.g. new since the extract)
    missing = set(rng.choice(N, 15, replace=False).tolist())
    ltr = r["Q_LTR"]
    p_churn = 1 / (1 + np.exp(-(-1.0 - 0.35 * (ltr - 7))))
    churned = rng.random(N) < p_churn
    revenue = np.round(np.where(plans == "Premium", 69, np.where(plans == "Plus", 45, 29))
                       * rng.lognormal(0, 0.1, N), 2)
    cust = [["CustomerID", "Churned", "MonthlyRevenue"]]
    cust += [[cust_ids[i], str(int(churned[i])), f"{revenue[i]:.2f}".replace(".", ",")]
             for i in range(N) if i not in missing]
    return out, cust


def write(path: Path, table: list[list[str]]) -> None:
    with open(path, "w", encoding="cp1252", newline="") as fh:
        csv.writer(fh, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")\
            .writerows(table)


def main() -> None:
    survey, customers = rows(np.random.default_rng(SEED), broken=False)
    write(HERE / "messy_survey.csv", survey)
    write(HERE / "messy_customers.csv", customers)
    broken, _ = rows(np.random.default_rng(SEED), broken=True)
    write(HERE / "messy_survey_broken.csv", broken)
    print("wrote messy_survey.csv, messy_survey_broken.csv, messy_customers.csv")


if __name__ == "__main__":
    main()
