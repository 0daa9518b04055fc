"""A generative model of a subscription business with KNOWN true effects: "Kestrel Connect".

``company()`` simulates customers, a quarterly relationship survey, contacts with a post-contact
survey and call-quality scorecard, and an employee pulse, from a fixed seed. The true parameters
(``TrueEffects``) are written beside the data (``Company.truth``), so an analysis can be checked
against what generated the data. The bundled dataset ``kestrel`` is ``company()`` with defaults.

The model, in brief (all draws from ``numpy.random.default_rng(seed)``):

* Touchpoint ratings. Each customer has a latent experience per quarter: a halo factor, a factor
  per domain (network, billing, support, channels) and item noise, all AR(1) across quarters.
  The customer's *true rating* of touchpoint k in quarter q is ``R = clip(round(mean_k + shifts
  + sd_k * z), 1, 10)``; a respondent reveals R exactly (item non-response aside).
* Overall scores. Latent ``L = ltr_intercept + sum_k w_k R_k + u`` with ``u`` independent of the
  ratings (so OLS of ltr on the ratings is consistent for ``w``); the customer's ltr that quarter
  is ``S = clip(round(L), 0, 10)``. osat (1-5) and effort (1-7) are thresholded latent linear
  scores of the ratings with their own weights.
* Churn. Piecewise-constant monthly hazard (continuous time within a month)
  ``h = h0 * HR_ltr^(S - 8) * HR_price^(R_price - 7) * HR_billacc^(R_billacc - 8) * HR_plan
  * HR_tenure * HR_segment * HR_unresolved^[unresolved contact in the 3 previous months]``,
  so hazards depend on the same ltr a respondent reveals (a Cox model on observed ltr recovers
  HR_ltr), and price/billing matter beyond ltr.
* Contacts. Poisson per problem type (network faults more likely when network ratings are low),
  routed to a channel, a team and an agent; fcr and post-contact csat/ces depend on the agent's
  scorecard behaviours (only empathy, ownership, explanation and next steps matter to customers),
  on fcr and on the team's engagement.

Run ``company(n_customers=..., seed=..., effects=TrueEffects(...))`` to make other companies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

from .contract import QA_ITEMS, TABLES, TOUCHPOINTS, Company, columns, read_csv_bytes

__all__ = ["QA_ITEMS", "TOUCHPOINTS", "Company", "TrueEffects", "company", "population_lmg"]

SEGMENTS = ("Consumer", "Small business")
REGIONS = ("North", "South", "East", "West", "Central")
PLANS = ("Basic", "Standard", "Premium")
ACQ_CHANNELS = ("Online", "Retail store", "Telesales", "Partner")
CONTACT_CHANNELS = ("Phone", "Chat", "Email", "Shop")
PROBLEMS = ("Billing", "Network fault", "Device", "Plan change", "Cancellation", "Technical support")
# domain of each touchpoint (index into the domain factors)
_DOMAIN = {"onboarding": 3, "network_reliability": 0, "network_speed": 0, "billing_clarity": 1,
           "billing_accuracy": 1, "price_value": 1, "support_resolution": 2, "support_speed": 2,
           "digital_selfservice": 3, "shop_experience": 3}
# team -> channel; routing rules in _route()
TEAMS = {
    "Billing Line": "Phone", "Fault Line": "Phone", "Device Line": "Phone", "Retention Desk": "Phone",
    "Business Care": "Phone", "Chat Billing": "Chat", "Chat Tech": "Chat", "Email Billing": "Email",
    "Email Tech": "Email", "Shops North": "Shop", "Shops South": "Shop", "Shops East-West": "Shop",
}


@dataclass
class TrueEffects:
    """The true parameters of the simulated company. Change any of them to simulate another one.

    Ratings are on their published scales; "weights" are points of the latent score per rating
    point; hazard ratios (HR) are per month, multiplicative, per unit stated in the field name.
    """
    # --- touchpoint ratings: population mean and spread (1-10 scale) -------------------------
    rating_mean: dict = field(default_factory=partial(dict, onboarding=7.4, network_reliability=7.4, network_speed=7.0,
                           billing_clarity=7.1, billing_accuracy=7.8, price_value=6.4,
                           support_resolution=6.9, support_speed=6.5, digital_selfservice=7.3,
                           shop_experience=7.9))
    rating_sd: float = 1.9
    halo_loading: float = 0.55        # correlation structure: halo + domain factor + item noise
    domain_loading: float = 0.55
    quarter_persistence: float = 0.75  # AR(1) of the latent factors from one quarter to the next
    region_shift: dict = field(default_factory=partial(dict, North=0.25, South=-0.15, East=0.0, West=0.15, Central=-0.1))
    plan_shift: dict = field(default_factory=partial(dict, Basic=-0.3, Standard=0.0, Premium=0.35))
    # --- overall scores: latent linear models of the true ratings ----------------------------
    ltr_weights: dict = field(default_factory=partial(dict, network_reliability=0.30, support_resolution=0.22, price_value=0.16,
                           network_speed=0.10, billing_accuracy=0.10, digital_selfservice=0.07,
                           support_speed=0.05, billing_clarity=0.04, onboarding=0.03,
                           shop_experience=0.0))
    ltr_intercept: float = 0.25
    ltr_noise_sd: float = 1.25
    disaffected_share: float = 0.06        # customers whose ltr sits lower, whatever the ratings
    disaffected_shift: float = 3.0         # ltr points
    osat_weights: dict = field(default_factory=partial(dict, network_reliability=0.22, support_resolution=0.16, price_value=0.10,
                            network_speed=0.08, billing_accuracy=0.14, billing_clarity=0.08,
                            digital_selfservice=0.06, support_speed=0.06, onboarding=0.03,
                            shop_experience=0.02))
    osat_cuts: tuple = (4.3, 5.0, 5.8, 8.1)   # latent osat thresholds for 2|1, 3|2, 4|3, 5|4
    osat_noise_sd: float = 0.75
    effort_weights: dict = field(default_factory=partial(dict, digital_selfservice=0.30, support_speed=0.25, billing_clarity=0.20,
                              onboarding=0.10, support_resolution=0.10, network_reliability=0.05))
    effort_cuts: tuple = (4.8, 5.5, 6.2, 7.0, 8.0, 9.2)
    effort_noise_sd: float = 1.0
    # --- churn: monthly hazard -----------------------------------------------------------------
    base_monthly_hazard: float = 0.0068    # for ltr 8, price 7, billing accuracy 8, Standard, tenure >= 24
    hr_ltr_point: float = 0.82             # per point of ltr (0-10)
    hr_price_value_point: float = 0.90     # per point of price_value, beyond ltr
    hr_billing_accuracy_point: float = 0.92
    hr_plan: dict = field(default_factory=partial(dict, Basic=1.5, Standard=1.0, Premium=0.85))
    hr_tenure: dict = field(default_factory=lambda: {"<12": 1.8, "12-24": 1.3, ">=24": 1.0})
    hr_small_business: float = 0.85
    hr_unresolved_contact: float = 1.7     # any contact with fcr = 0 in the 3 previous months
    # --- contacts --------------------------------------------------------------------------------
    contact_rate: dict = field(default_factory=partial(dict, **{"Billing": 0.26, "Network fault": 0.19, "Device": 0.10,
                               "Plan change": 0.12, "Cancellation": 0.045,
                               "Technical support": 0.15}))  # per customer-year at average ratings
    fcr_logit: dict = field(default_factory=partial(dict, **{"Billing": 1.2, "Network fault": 0.4, "Device": 0.9, "Plan change": 1.9,
                            "Cancellation": 1.1, "Technical support": 0.7}))
    fcr_ownership_logit: float = 0.35      # per scorecard point of ownership
    csat_effects: dict = field(default_factory=partial(dict, fcr=1.0, qa_empathy=0.35, qa_ownership=0.30, qa_explanation=0.25,
                            qa_next_steps=0.20, qa_greeting=0.0, qa_verification=0.0,
                            qa_compliance=0.0))   # latent csat (residual sd 1) per point / for fcr=1
    csat_engagement: float = 0.45          # latent csat per point of team engagement (1-5)
    csat_cuts: tuple = (-1.75, -1.1, -0.4, 0.85)
    csat_customer_ltr: float = 0.08        # latent csat per point of the customer's ltr that quarter
    csat_channel: dict = field(default_factory=partial(dict, Phone=0.0, Chat=0.0, Email=-0.2, Shop=0.15))
    ces_effects: dict = field(default_factory=partial(dict, fcr=1.1, qa_explanation=0.25, qa_next_steps=0.20))
    ces_cuts: tuple = (-1.9, -1.4, -0.9, -0.35, 0.3, 1.1)
    # --- response -----------------------------------------------------------------------------
    survey_invite_share: float = 0.50      # share of active customers invited each wave
    survey_response_rate: float = 0.24     # at ltr 8, Consumer
    survey_response_ltr_logit: float = 0.12  # per ltr point: unhappy customers answer less
    survey_response_small_business: float = 0.6  # odds ratio
    contact_survey_response: float = 0.35
    qa_evaluated_share: float = 0.20       # of phone and chat contacts
    # --- employees ----------------------------------------------------------------------------
    engagement_mean: float = 3.6
    engagement_team_sd: float = 0.35
    engagement_wave_sd: float = 0.20
    # --- value --------------------------------------------------------------------------------
    monthly_revenue: dict = field(default_factory=partial(dict, Basic=32.0, Standard=52.0, Premium=79.0))
    revenue_small_business_factor: float = 1.5
    revenue_sd_log: float = 0.18
    gross_margin: float = 0.30
    annual_discount_rate: float = 0.10
    # --- scripted event -------------------------------------------------------------------------
    event: dict | None = field(default_factory=lambda: {
        "region": "South", "from_wave": "2026Q2",
        "description": "Network outage programme in the South: network reliability ratings drop "
                       "and network faults rise, so more contacts go unresolved and more customers "
                       "leave.",
        "network_reliability_shift": -3.0, "network_speed_shift": -1.0,
        "network_fault_rate_multiplier": 4.0, "network_fault_fcr_logit_shift": -1.0})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------------- helpers
def _wave_to_period(wave: str) -> pd.Period:
    try:
        return pd.Period(wave, freq="Q")
    except Exception as exc:  # pragma: no cover - message only
        raise ValueError(f"wave {wave!r} is not a quarter like '2024Q4'") from exc


def _ar1(rng, shape_first, n_steps, rho):
    """Stationary AR(1) with unit variance: array (n_steps, *shape_first)."""
    out = np.empty((n_steps, *shape_first))
    out[0] = rng.standard_normal(shape_first)
    innov = np.sqrt(1 - rho ** 2)
    for t in range(1, n_steps):
        out[t] = rho * out[t - 1] + innov * rng.standard_normal(shape_first)
    return out


def _cut(latent, cuts, low):
    """Ordinal value low + number of thresholds below the latent value."""
    return low + np.searchsorted(np.asarray(cuts), latent, side="right")


def population_lmg(cov: np.ndarray, names) -> dict:
    """LMG (Shapley) decomposition of R^2 from a covariance matrix whose last row/column is the
    outcome (Lindeman, Merenda & Gold 1980; Groemping 2006). Returns raw shares (sum to R^2)."""
    p = len(names)
    sxx, sxy, syy = cov[:p, :p], cov[:p, p], cov[p, p]
    r2 = {(): 0.0}
    for k in range(1, p + 1):
        for s in combinations(range(p), k):
            idx = list(s)
            beta = np.linalg.solve(sxx[np.ix_(idx, idx)], sxy[idx])
            r2[s] = float(sxy[idx] @ beta / syy)
    weight = {k: factorial(k) * factorial(p - k - 1) / factorial(p) for k in range(p)}
    shares = np.zeros(p)
    for s, val in r2.items():
        for j in range(p):
            if j in s:
                continue
            with_j = tuple(sorted(s + (j,)))
            shares[j] += weight[len(s)] * (r2[with_j] - val)
    return dict(zip(names, shares))


# ------------------------------------------------------------------------------------ generator
def company(n_customers: int = 20_000, seed: int = 2026, effects: TrueEffects | None = None,
            start: str = "2024-01-01",
            waves=("2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"),
            name: str = "Kestrel Connect") -> Company:
    """Simulate a broadband-and-mobile subscription company with known true effects.

    Customers are followed month by month from ``start`` to the end of the last wave
    (observation end). Same arguments -> identical data, bit for bit.
    """
    eff = effects if effects is not None else TrueEffects()
    if not isinstance(eff, TrueEffects):
        raise TypeError("effects must be a cx.simulate.TrueEffects; change fields with "
                        "dataclasses.replace(TrueEffects(), hr_ltr_point=0.7)")
    _validate(eff)
    if n_customers < 100:
        raise ValueError("n_customers must be at least 100")
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    if t0 != t0.to_period("M").start_time:
        raise ValueError(f"start must be the first day of a month, got {start!r}")
    wave_periods = [_wave_to_period(w) for w in waves]
    if sorted(wave_periods) != wave_periods or len(set(wave_periods)) != len(wave_periods):
        raise ValueError("waves must be distinct quarters in increasing order")
    q0 = t0.to_period("Q")
    if wave_periods[0] < q0:
        raise ValueError(f"the first wave {waves[0]} is before start {start}")
    obs_end = wave_periods[-1].end_time.normalize()             # last day of the last wave
    n_months = (obs_end.to_period("M") - t0.to_period("M")).n + 1
    month_start = pd.date_range(t0, periods=n_months + 1, freq="MS")
    mdays = np.diff((month_start - t0).days.to_numpy())           # days in each month
    mstart_day = (month_start[:-1] - t0).days.to_numpy()          # day offset of each month
    n_q = (wave_periods[-1] - q0).n + 1
    quarters = [q0 + i for i in range(n_q)]
    month_q = np.array([(month_start[m].to_period("Q") - q0).n for m in range(n_months)])

    n = n_customers
    tp = list(TOUCHPOINTS)
    K = len(tp)
    # ---------------------------------------------------------------- customers (static part)
    seg = rng.choice(2, size=n, p=[0.86, 0.14])
    reg = rng.choice(5, size=n, p=[0.22, 0.20, 0.21, 0.19, 0.18])
    plan = rng.choice(3, size=n, p=[0.33, 0.46, 0.21])
    acq = rng.choice(4, size=n, p=[0.42, 0.24, 0.20, 0.14])
    existing = rng.random(n) < 0.64
    # start day relative to t0 (negative for customers already there at t0)
    # tenure at start: exponential (mean 38 months) truncated at 10 years, by inverse CDF
    tenure0 = -38.0 * np.log1p(-rng.random(n) * (1 - np.exp(-120 / 38)))          # months
    start_day = np.where(existing, -np.ceil(tenure0 * 30.4375),
                         rng.integers(0, int(mstart_day[-1] + mdays[-1]), n)).astype(int)
    rev = np.array([eff.monthly_revenue[p] for p in PLANS])[plan]
    rev = rev * np.where(seg == 1, eff.revenue_small_business_factor, 1.0)
    rev = np.round(rev * np.exp(eff.revenue_sd_log * rng.standard_normal(n)
                                - eff.revenue_sd_log ** 2 / 2), 2)
    digital_user = rng.random(n) < np.where(seg == 1, 0.75, 0.86)
    shop_user = rng.random(n) < np.where(acq == 1, 0.70, 0.28)

    # ------------------------------------------------------- true ratings per customer-quarter
    rho = eff.quarter_persistence
    halo = _ar1(rng, (n,), n_q, rho)                       # (Q, n)
    dom = _ar1(rng, (n, 4), n_q, rho)                      # (Q, n, 4)
    item = _ar1(rng, (n, K), n_q, 0.5)                     # (Q, n, K)
    lh, ld = eff.halo_loading, eff.domain_loading
    lu = np.sqrt(max(1 - lh ** 2 - ld ** 2, 0.0))
    dom_idx = np.array([_DOMAIN[t] for t in tp])
    z = lh * halo[:, :, None] + ld * dom[:, :, dom_idx] + lu * item          # (Q, n, K)
    mean = np.array([eff.rating_mean[t] for t in tp])
    shift = (np.array([eff.region_shift[r] for r in REGIONS])[reg]
             + np.array([eff.plan_shift[p] for p in PLANS])[plan])               # (n,)
    lat = mean[None, None, :] + shift[None, :, None] + eff.rating_sd * z
    # Small business rates support lower; Premium rates price/value lower (pays more)
    lat[:, :, tp.index("support_speed")] -= 0.4 * (seg == 1)
    lat[:, :, tp.index("price_value")] -= 0.6 * (plan == 2) - 0.3 * (plan == 0)
    ev = eff.event
    if ev:
        ev_reg = REGIONS.index(ev["region"])
        ev_q = (_wave_to_period(ev["from_wave"]) - q0).n
        hit = (np.arange(n_q)[:, None] >= ev_q) & (reg[None, :] == ev_reg)      # (Q, n)
        lat[:, :, tp.index("network_reliability")] += ev["network_reliability_shift"] * hit
        lat[:, :, tp.index("network_speed")] += ev["network_speed_shift"] * hit
    else:
        ev_reg, ev_q = -1, n_q + 1
    R = np.clip(np.rint(lat), 1, 10)                                            # (Q, n, K)

    w_ltr = np.array([eff.ltr_weights.get(t, 0.0) for t in tp])
    # persistent part of u: normal, plus a minority of disaffected customers (a long low tail)
    u_pers = rng.standard_normal(n) - eff.disaffected_shift / (eff.ltr_noise_sd * np.sqrt(0.5)) * (
        rng.random(n) < eff.disaffected_share)
    u = eff.ltr_noise_sd * (np.sqrt(0.5) * u_pers[None, :]
                            + np.sqrt(0.5) * rng.standard_normal((n_q, n)))
    L = eff.ltr_intercept + R @ w_ltr + u                                       # (Q, n)
    S = np.clip(np.rint(L), 0, 10)
    w_os = np.array([eff.osat_weights.get(t, 0.0) for t in tp])
    O = R @ w_os + 0.5 * u + eff.osat_noise_sd * rng.standard_normal((n_q, n))
    OS = _cut(O, eff.osat_cuts, 1)
    w_ef = np.array([eff.effort_weights.get(t, 0.0) for t in tp])
    E = R @ w_ef + eff.effort_noise_sd * rng.standard_normal((n_q, n))
    EF = _cut(E, eff.effort_cuts, 1)

    # --------------------------------------------------------------------- teams and agents
    team_names = list(TEAMS)
    n_team = len(team_names)
    n_agents = rng.integers(8, 16, n_team)
    agent_team = np.repeat(np.arange(n_team), n_agents)
    n_ag = len(agent_team)
    # agent traits, centred within team: teams differ in engagement, channel and problem mix,
    # not in the average skill of their agents (so team engagement -> CSAT is not confounded)
    def centred(x):
        return x - (np.bincount(agent_team, x) / n_agents)[agent_team]
    agent_skill = 0.4 * centred(rng.standard_normal(n_ag))           # fcr logit
    care = centred(rng.standard_normal(n_ag))                         # drives valued behaviours
    diligence = centred(rng.standard_normal(n_ag))                    # drives process behaviours
    qa_base = {"qa_greeting": 4.4, "qa_verification": 4.5, "qa_compliance": 4.3,
               "qa_empathy": 3.6, "qa_ownership": 3.5, "qa_explanation": 3.7, "qa_next_steps": 3.3}
    qa_agent = np.column_stack([
        qa_base[q] + 0.45 * (care if q in ("qa_empathy", "qa_ownership", "qa_explanation",
                                           "qa_next_steps") else diligence)
        + 0.2 * rng.standard_normal(n_ag) for q in QA_ITEMS])      # (agents, 7)
    eng_team = eff.engagement_mean + eff.engagement_team_sd * rng.standard_normal(n_team)
    eng_tq = eng_team[None, :] + eff.engagement_wave_sd * _ar1(rng, (n_team,), n_q, 0.5)  # (Q, T)
    # agents: a little better engagement -> nothing else; skill is independent of engagement
    team_first_agent = np.concatenate([[0], np.cumsum(n_agents)[:-1]])

    # ------------------------------------------------------------------- monthly simulation
    hr = eff
    log_h0 = np.log(eff.base_monthly_hazard)
    plan_lhr = np.log(np.array([hr.hr_plan[p] for p in PLANS]))[plan]
    seg_lhr = np.log(hr.hr_small_business) * (seg == 1)
    i_price, i_bacc = tp.index("price_value"), tp.index("billing_accuracy")
    i_net = tp.index("network_reliability")
    end_day = np.full(n, np.iinfo(np.int64).max)
    churned = np.zeros(n, dtype=bool)
    last_unresolved_month = np.full(n, -100)
    prob_rates = np.array([eff.contact_rate[p] for p in PROBLEMS])
    fcr_base = np.array([eff.fcr_logit[p] for p in PROBLEMS])
    contact_parts = []
    for m in range(n_months):
        q = month_q[m]
        d0, nd = mstart_day[m], mdays[m]
        active = (start_day < d0 + nd) & ~churned
        idx = np.flatnonzero(active)
        Rq = R[q, idx]
        # churn: exposure from max(start, month start) to month end
        ten_m = (d0 - start_day[idx]) / 30.4375
        ten_lhr = np.where(ten_m < 12, np.log(hr.hr_tenure["<12"]),
                           np.where(ten_m < 24, np.log(hr.hr_tenure["12-24"]),
                                    np.log(hr.hr_tenure[">=24"])))
        lh_ = (log_h0 + np.log(hr.hr_ltr_point) * (S[q, idx] - 8)
               + np.log(hr.hr_price_value_point) * (Rq[:, i_price] - 7)
               + np.log(hr.hr_billing_accuracy_point) * (Rq[:, i_bacc] - 8)
               + plan_lhr[idx] + ten_lhr + seg_lhr[idx]
               + np.log(hr.hr_unresolved_contact) * (last_unresolved_month[idx] >= m - 3))
        entry = np.maximum(start_day[idx], d0)
        t_exit = entry + rng.exponential(1.0, idx.size) / np.exp(lh_) * 30.4375
        # exits are whole days; a customer who joined this month stays at least one day
        exit_day = np.floor(t_exit).astype(np.int64) + 1
        leave = exit_day < d0 + nd
        end_day[idx[leave]] = exit_day[leave]
        churned[idx[leave]] = True
        # contacts this month, per problem type
        rates = np.tile(prob_rates, (idx.size, 1)) / 12.0
        rates[:, 1] *= np.exp(-0.25 * (Rq[:, i_net] - 7.4))
        rates[:, 0] *= np.exp(-0.15 * (Rq[:, i_bacc] - 7.8))
        rates[:, 4] *= np.exp(-0.30 * (S[q, idx] - 8))
        rates *= np.where(seg[idx] == 1, 1.3, 1.0)[:, None]
        if q >= ev_q:
            rates[:, 1] *= np.where(reg[idx] == ev_reg, ev["network_fault_rate_multiplier"], 1.0)
        counts = rng.poisson(rates)
        ci, cp = np.nonzero(counts)
        reps = counts[ci, cp]
        ci, cp = np.repeat(ci, reps), np.repeat(cp, reps)
        cust = idx[ci]
        lo = np.maximum(start_day[cust], d0)
        hi = np.minimum(end_day[cust], d0 + nd)                 # exclusive
        ok = hi > lo
        cust, cp, lo, hi = cust[ok], cp[ok], lo[ok], hi[ok]
        cday = lo + np.floor(rng.random(cust.size) * (hi - lo)).astype(np.int64)
        team, chan = _route(rng, cp, seg[cust], reg[cust], digital_user[cust], shop_user[cust])
        agent = team_first_agent[team] + np.floor(rng.random(cust.size)
                                                  * n_agents[team]).astype(np.int64)
        beh = np.clip(np.rint(qa_agent[agent] + 0.35 * rng.standard_normal((cust.size, 1))
                              + 0.7 * rng.standard_normal((cust.size, len(QA_ITEMS)))), 1, 5)
        own = beh[:, QA_ITEMS.index("qa_ownership")]
        fl = (fcr_base[cp] + agent_skill[agent] + eff.fcr_ownership_logit * (own - 3.5)
              + np.select([chan == 2, chan == 3, chan == 1], [-0.4, 0.2, -0.1], 0.0))
        if q >= ev_q:
            fl = fl + ev["network_fault_fcr_logit_shift"] * ((reg[cust] == ev_reg) & (cp == 1))
        fcr = rng.random(cust.size) < 1 / (1 + np.exp(-fl))
        last_unresolved_month[cust[~fcr]] = m
        contact_parts.append((cust, cday, cp, chan, team, agent, beh, fcr.astype(int),
                              np.full(cust.size, q)))

    # ---------------------------------------------------------------------- customers table
    obs_end_day = (obs_end - t0).days + 1          # exclusive end of observation
    end_obs = np.where(churned, end_day, obs_end_day)
    start_dates = t0 + pd.to_timedelta(start_day, unit="D")
    end_dates = pd.Series(t0 + pd.to_timedelta(np.where(churned, end_day, 0), unit="D"))
    end_dates = end_dates.where(churned)
    tenure_months = np.round((end_obs - start_day) / 30.4375, 2)
    order = np.argsort(start_day, kind="stable")           # ids in order of joining
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = np.arange(1, n + 1)
    cid = np.array([f"K{i:06d}" for i in new_id])
    customers = pd.DataFrame({
        "customer_id": cid, "segment": np.array(SEGMENTS)[seg], "region": np.array(REGIONS)[reg],
        "plan": np.array(PLANS)[plan], "channel": np.array(ACQ_CHANNELS)[acq],
        "start_date": start_dates, "end_date": end_dates.to_numpy(), "churned": churned.astype(int),
        "tenure_months": tenure_months, "monthly_revenue": rev})
    customers = customers.iloc[order].reset_index(drop=True)

    # ----------------------------------------------------------------------- contacts table
    cols = [np.concatenate(x) for x in zip(*contact_parts)]
    c_cust, c_day, c_prob, c_chan, c_team, c_agent, c_beh, c_fcr, c_q = cols
    c_beh = c_beh.reshape(-1, len(QA_ITEMS))
    ce = eff.csat_effects
    cl_mean = (ce.get("fcr", 0.0) * c_fcr
               + sum(ce.get(qi, 0.0) * (c_beh[:, j] - 3.5) for j, qi in enumerate(QA_ITEMS))
               + eff.csat_engagement * (eng_tq[c_q, c_team] - eff.engagement_mean)
               + eff.csat_customer_ltr * (S[c_q, c_cust] - 8)
               + np.array([eff.csat_channel.get(ch, 0.0) for ch in CONTACT_CHANNELS])[c_chan])
    cl = cl_mean + rng.standard_normal(c_cust.size)
    csat = _cut(cl, eff.csat_cuts, 1).astype(float)
    # effects on the observed 1-5 scale, over logged contacts: the marginal effect
    # d E[csat] / dx = coef * sum_c phi(c - mean) (probit, noise sd 1), and the average
    # counterfactual change for a whole point (same noise)
    logged = c_day >= (wave_periods[0].start_time - t0).days
    dens = np.exp(-0.5 * (np.asarray(eff.csat_cuts)[None, :] - cl_mean[logged, None]) ** 2)
    dens = float(np.mean(dens.sum(axis=1))) / np.sqrt(2 * np.pi)
    marginal = {"team_engagement": eff.csat_engagement * dens}
    marginal.update({qi: ce.get(qi, 0.0) * dens for qi in QA_ITEMS})
    ame = {}
    for key, coef in [("team_engagement_point", eff.csat_engagement)] + [
            (qi, ce.get(qi, 0.0)) for qi in QA_ITEMS]:
        ame[key] = float(np.mean((_cut(cl + coef, eff.csat_cuts, 1) - csat)[logged]))
    f1 = _cut(cl + ce.get("fcr", 0.0) * (1 - c_fcr), eff.csat_cuts, 1)[logged]
    f0 = _cut(cl - ce.get("fcr", 0.0) * c_fcr, eff.csat_cuts, 1)[logged]
    ame["fcr"] = float(np.mean(f1 - f0))
    ame_top2_fcr = float(np.mean(f1 >= 4) - np.mean(f0 >= 4))
    xe = eff.ces_effects
    el = (xe.get("fcr", 0.0) * c_fcr
          + sum(xe.get(qi, 0.0) * (c_beh[:, j] - 3.5) for j, qi in enumerate(QA_ITEMS))
          + np.select([c_chan == 2, c_chan == 3], [-0.4, -0.2], 0.0)
          + rng.standard_normal(c_cust.size))
    ces = _cut(el, eff.ces_cuts, 1).astype(float)
    answered = rng.random(c_cust.size) < eff.contact_survey_response
    csat[~answered] = np.nan
    ces[~answered | (rng.random(c_cust.size) < 0.06)] = np.nan
    evaluated = (c_chan <= 1) & (rng.random(c_cust.size) < eff.qa_evaluated_share)
    qa = np.where(evaluated[:, None], c_beh, np.nan)
    # log: contacts from the first wave's quarter on (contact-survey programme start)
    log_from = (wave_periods[0].start_time - t0).days
    keep = c_day >= log_from
    corder = np.lexsort((c_cust, c_day))
    corder = corder[keep[corder]]
    c_dates = t0 + pd.to_timedelta(c_day[corder], unit="D")
    agent_ids = np.array([f"A{i + 101:03d}" for i in range(n_ag)])
    contacts = pd.DataFrame({
        "contact_id": [f"C{i:07d}" for i in range(1, corder.size + 1)],
        "customer_id": cid[c_cust[corder]], "contact_date": c_dates,
        "wave": [str(quarters[i]) for i in c_q[corder]],
        "region": np.array(REGIONS)[reg[c_cust[corder]]],
        "channel": np.array(CONTACT_CHANNELS)[c_chan[corder]],
        "team": np.array(team_names)[c_team[corder]], "agent_id": agent_ids[c_agent[corder]],
        "problem_type": np.array(PROBLEMS)[c_prob[corder]], "fcr": c_fcr[corder],
        "csat": csat[corder], "ces": ces[corder]})
    for j, qi in enumerate(QA_ITEMS):
        contacts[qi] = qa[corder, j]

    # ------------------------------------------------------------------------- survey table
    # contact history (all contacts, logged or not) decides whether support items apply
    c_sorted = np.lexsort((c_day, c_cust))
    rows, invited_n, invited_parts = [], [], []
    for w, wp in zip(waves, wave_periods):
        q = (wp - q0).n
        qs, qe = (wp.start_time - t0).days, (wp.end_time.normalize() - t0).days + 1
        sday = qs + np.floor(rng.random(n) * (qe - qs)).astype(np.int64)
        active = (start_day <= sday) & (end_day > sday)
        invited = active & (rng.random(n) < eff.survey_invite_share)
        logit = (np.log(eff.survey_response_rate / (1 - eff.survey_response_rate))
                 + eff.survey_response_ltr_logit * (S[q] - 8)
                 + np.log(eff.survey_response_small_business) * (seg == 1))
        resp = invited & (rng.random(n) < 1 / (1 + np.exp(-logit)))
        invited_parts.append((w, np.flatnonzero(invited), resp[invited], S[q, invited]))
        ids = np.flatnonzero(resp)
        # any contact in the 365 days before the survey date?
        had = _had_contact(c_cust[c_sorted], c_day[c_sorted], ids, sday[ids], 365)
        tenure_at = (sday[ids] - start_day[ids]) / 30.4375
        ratings = R[q, ids].copy()
        u_ = rng.random(ratings.shape)
        answer = u_ < 0.97
        answer[:, tp.index("onboarding")] = (tenure_at < 12) & (u_[:, 0] < 0.85)
        answer[:, tp.index("shop_experience")] = shop_user[ids] & (u_[:, -1] < 0.9)
        for t in ("support_resolution", "support_speed"):
            answer[:, tp.index(t)] = had & (u_[:, tp.index(t)] < 0.92)
        answer[:, tp.index("digital_selfservice")] = digital_user[ids] & (u_[:, 8] < 0.95)
        ratings[~answer] = np.nan
        invited_n.append(int(invited.sum()))
        rows.append((ids, np.full(ids.size, w, dtype=object), sday[ids], S[q, ids], OS[q, ids],
                     EF[q, ids], ratings))
    s_ids, s_wave, s_day, s_ltr, s_os, s_ef, s_r = [np.concatenate(x) for x in zip(*rows)]
    sorder = np.lexsort((cid[s_ids], s_day))
    survey = pd.DataFrame({
        "response_id": [f"R{i:07d}" for i in range(1, sorder.size + 1)],
        "customer_id": cid[s_ids[sorder]], "wave": s_wave[sorder].astype(str),
        "survey_date": t0 + pd.to_timedelta(s_day[sorder], unit="D"),
        "segment": np.array(SEGMENTS)[seg[s_ids[sorder]]],
        "region": np.array(REGIONS)[reg[s_ids[sorder]]],
        "plan": np.array(PLANS)[plan[s_ids[sorder]]],
        "ltr": s_ltr[sorder].astype(int), "osat": s_os[sorder].astype(int),
        "effort": s_ef[sorder].astype(int)})
    for j, t in enumerate(tp):
        survey[t] = s_r[sorder, j]

    # -------------------------------------------------------------------------- pulse table
    prow = []
    emp_counter = 0
    for ti in range(n_team):
        n_emp = n_agents[ti] + 2                      # agents plus team leader and coach
        person = 0.45 * rng.standard_normal(n_emp)
        emp_ids = [f"E{emp_counter + k + 1:04d}" for k in range(n_emp)]
        emp_counter += n_emp
        for w, wp in zip(waves, wave_periods):
            q = (wp - q0).n
            take = rng.random(n_emp) < 0.8
            items = np.clip(np.rint(eng_tq[q, ti] + person[:, None]
                                    + 0.5 * rng.standard_normal((n_emp, 5))), 1, 5)
            engagement = items.mean(axis=1)
            enps = np.clip(np.rint(6.6 + 2.2 * (engagement - 3.6)
                                   + 1.3 * rng.standard_normal(n_emp)), 0, 10)
            for k in np.flatnonzero(take):
                prow.append((emp_ids[k], team_names[ti], w, engagement[k], int(enps[k])))
    pulse = pd.DataFrame(prow, columns=columns("pulse"))
    pulse = pulse.sort_values(["wave", "team", "employee_id"], kind="stable").reset_index(drop=True)

    # -------------------------------------------------------------------------------- truth
    truth = _truth(eff, name, seed, n, start, waves, obs_end, R, L, S, tp, eng_tq, team_names,
                   quarters, n_agents)
    truth["contact_csat"]["effect_on_mean_csat"] = _r(ame)
    truth["contact_csat"]["marginal_effect_on_mean_csat"] = _r(marginal)
    truth["contact_csat"]["effect_of_fcr_on_csat_top2_share"] = _r(ame_top2_fcr)
    truth["realised"] = _r(_realised(customers, survey, waves, invited_n, ev, obs_end))
    comp = Company(customers=customers, survey=survey, contacts=contacts, pulse=pulse, truth=truth)
    # round trip through the file format so simulate() and load() give identical frames
    files = comp.to_bytes()
    frames = {t: read_csv_bytes(files[f"{t}.csv"], t) for t in TABLES}
    frames["invitations"] = _invitations(invited_parts, cid)
    return Company(truth=truth, **frames)


def _validate(eff: TrueEffects) -> None:
    """Typos in effect names would otherwise be ignored silently."""
    known = {"rating_mean": TOUCHPOINTS, "ltr_weights": TOUCHPOINTS, "osat_weights": TOUCHPOINTS,
             "effort_weights": TOUCHPOINTS, "region_shift": REGIONS, "plan_shift": PLANS,
             "hr_plan": PLANS, "monthly_revenue": PLANS, "contact_rate": PROBLEMS,
             "fcr_logit": PROBLEMS, "csat_effects": ("fcr",) + QA_ITEMS,
             "ces_effects": ("fcr",) + QA_ITEMS, "csat_channel": CONTACT_CHANNELS,
             "hr_tenure": ("<12", "12-24", ">=24")}
    for name, allowed in known.items():
        value = getattr(eff, name)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(f"TrueEffects.{name} has unknown key(s) {unknown}; allowed: "
                             f"{', '.join(allowed)}")
    for name in ("rating_mean", "region_shift", "plan_shift", "hr_plan", "monthly_revenue",
                 "contact_rate", "fcr_logit", "hr_tenure"):
        missing = sorted(set(known[name]) - set(getattr(eff, name)))
        if missing:
            raise ValueError(f"TrueEffects.{name} lacks {missing}")
    for name in ("survey_invite_share", "survey_response_rate", "contact_survey_response",
                 "qa_evaluated_share", "disaffected_share"):
        if not 0 <= getattr(eff, name) <= 1:
            raise ValueError(f"TrueEffects.{name} must be a share between 0 and 1")
    ratios = [eff.hr_ltr_point, eff.hr_price_value_point, eff.hr_billing_accuracy_point,
              eff.hr_small_business, eff.hr_unresolved_contact, eff.base_monthly_hazard,
              *eff.hr_plan.values(), *eff.hr_tenure.values()]
    if min(ratios) <= 0:
        raise ValueError("hazard ratios and the base hazard must be positive")
    if eff.event:
        if eff.event.get("region") not in REGIONS:
            raise ValueError(f"TrueEffects.event region must be one of {', '.join(REGIONS)}")
        _wave_to_period(eff.event.get("from_wave", ""))


def _route(rng, prob, seg, reg, digital, shop):
    """Channel and team for each contact."""
    size = prob.size
    # channel probabilities (Phone, Chat, Email, Shop)
    p = np.tile([0.52, 0.24, 0.10, 0.14], (size, 1))
    p[digital] += [-0.08, 0.10, 0.0, -0.02]
    p[shop] += [-0.06, -0.02, -0.02, 0.10]
    p[prob == 2] += [-0.10, -0.04, -0.04, 0.18]          # Device -> shop
    p[prob == 4] += [0.10, -0.06, -0.02, -0.02]          # Cancellation -> phone
    p = np.clip(p, 0.01, None)
    p /= p.sum(axis=1, keepdims=True)
    chan = (rng.random(size)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    chan = np.minimum(chan, 3)
    t = {name: i for i, name in enumerate(TEAMS)}
    billing_like = np.isin(prob, [0, 3])
    team = np.select(
        [(chan == 0) & (seg == 1), (chan == 0) & (prob == 4), (chan == 0) & billing_like,
         (chan == 0) & (prob == 2), chan == 0,
         (chan == 1) & (billing_like | (prob == 4)), chan == 1,
         (chan == 2) & (billing_like | (prob == 4)), chan == 2,
         (chan == 3) & np.isin(reg, [0, 4]), (chan == 3) & (reg == 1)],
        [t["Business Care"], t["Retention Desk"], t["Billing Line"], t["Device Line"],
         t["Fault Line"], t["Chat Billing"], t["Chat Tech"], t["Email Billing"], t["Email Tech"],
         t["Shops North"], t["Shops South"]],
        t["Shops East-West"])
    return team, chan


def _had_contact(sorted_cust, sorted_day, ids, days, window):
    """For each (customer id, day): any contact in [day - window, day)? Inputs sorted by
    customer, then day."""
    span = np.int64(1) << 32
    keys = sorted_cust.astype(np.int64) * span + sorted_day
    base = ids.astype(np.int64) * span
    lo = np.searchsorted(keys, base + days - window, side="left")
    hi = np.searchsorted(keys, base + days, side="left")
    return hi > lo


def _realised(customers, survey, waves, invited_n, ev, obs_end) -> dict:
    """Descriptive facts of the generated sample (an answer key for exercises)."""
    out = {"survey_invited": dict(zip(waves, invited_n)),
           "survey_responses": survey["wave"].value_counts().reindex(list(waves)).astype(int)
           .to_dict()}
    out["survey_response_rate"] = {w: out["survey_responses"][w] / max(k, 1)
                                   for w, k in zip(waves, invited_n)}
    start = customers["start_date"]
    end = customers["end_date"]
    rates = {}
    for region in REGIONS:
        sel = customers["region"] == region
        per_q = {}
        for w in waves:
            qs = pd.Period(w, freq="Q").start_time
            qe = pd.Period(w, freq="Q").end_time.normalize()
            at_risk = sel & (start <= qs) & (end.isna() | (end > qs))
            left = at_risk & (end <= qe)
            per_q[w] = float(left.sum() / max(at_risk.sum(), 1))
        rates[region] = per_q
    out["quarterly_churn_of_customers_at_quarter_start"] = rates
    return out


def _r(x, nd=6):
    if isinstance(x, dict):
        return {k: _r(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_r(v, nd) for v in x]
    if isinstance(x, (float, np.floating)):
        return round(float(x), nd)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _truth(eff, name, seed, n, start, waves, obs_end, R, L, S, tp, eng_tq, team_names, quarters,
           n_agents) -> dict:
    """The parameters that generated the data, plus population quantities derived from them."""
    X = R.reshape(-1, len(tp))
    cov_l = np.cov(np.column_stack([X, L.reshape(-1)]), rowvar=False)
    cov_s = np.cov(np.column_stack([X, S.reshape(-1)]), rowvar=False)
    lmg_l = population_lmg(cov_l, tp)
    lmg_s = population_lmg(cov_s, tp)
    r2_l = float(sum(lmg_l.values()))
    ev = eff.event
    effects = eff.to_dict()
    return _r({
        "name": name, "generator": "cxlab.simulate.company", "seed": seed, "n_customers": n,
        "start": start, "observation_end": obs_end.strftime("%Y-%m-%d"), "waves": list(waves),
        "notes": [
            ("Ratings are the customer's true ratings each quarter; respondents reveal them exactly "
            "(item non-response aside)."),
            ("ltr = clip(round(ltr_intercept + sum(ltr_weights * ratings) + u), 0, 10), u independent "
            "of the ratings with sd ltr_noise_sd."),
            ("Monthly churn hazard = base_monthly_hazard * hr_ltr_point^(ltr - 8) * "
            "hr_price_value_point^(price_value - 7) * hr_billing_accuracy_point^(billing_accuracy - 8)"
            " * hr_plan * hr_tenure * hr_small_business^[Small business] * "
            "hr_unresolved_contact^[a contact with fcr = 0 in the 3 previous calendar months]."),
            ("Contact csat/ces: ordinal probit-type latent = sum(effects) + team engagement effect + "
            "noise(sd 1), cut at csat_cuts / ces_cuts; scorecard behaviours exist for every contact, "
            "only evaluated phone/chat contacts show them."),
            ("contacts.csv logs contacts from the first wave on; earlier contacts (which also raise "
            "churn) were not logged."),
            "pulse.employee_id is not linkable to contacts.agent_id (the pulse is confidential).",
        ],
        "ltr_drivers": {
            "weights": {t: eff.ltr_weights.get(t, 0.0) for t in tp},
            "ranking": sorted(tp, key=lambda t: -eff.ltr_weights.get(t, 0.0)),
            "population_lmg_latent": lmg_l, "population_r2_latent": r2_l,
            "population_lmg_ltr": lmg_s, "population_r2_ltr": float(sum(lmg_s.values())),
            "population_ols_ltr": dict(zip(tp, np.linalg.solve(cov_s[:-1, :-1], cov_s[:-1, -1]))),
            "population_covariance_of_ratings": {
                a: {b: float(cov_l[i, j]) for j, b in enumerate(tp)} for i, a in enumerate(tp)},
        },
        "osat_drivers": {"weights": {t: eff.osat_weights.get(t, 0.0) for t in tp},
                         "cuts": list(eff.osat_cuts)},
        "effort_drivers": {"weights": {t: eff.effort_weights.get(t, 0.0) for t in tp},
                           "cuts": list(eff.effort_cuts)},
        "churn_hazard_ratios": {
            "per_ltr_point": eff.hr_ltr_point,
            "per_price_value_point": eff.hr_price_value_point,
            "per_billing_accuracy_point": eff.hr_billing_accuracy_point,
            "plan": eff.hr_plan, "tenure_months": eff.hr_tenure,
            "small_business_vs_consumer": eff.hr_small_business,
            "unresolved_contact_last_3_months": eff.hr_unresolved_contact,
            "base_monthly_hazard": eff.base_monthly_hazard,
            "reference": "ltr 8, price_value 7, billing_accuracy 8, Standard, tenure >= 24 months, "
                         "Consumer, no unresolved contact",
        },
        "contact_csat": {
            "latent_effects": dict(eff.csat_effects),
            "valued_by_customers": [k for k, v in eff.csat_effects.items()
                                    if k.startswith("qa_") and v != 0],
            "not_valued_by_customers": [k for k, v in eff.csat_effects.items()
                                        if k.startswith("qa_") and v == 0],
            "team_engagement_latent_effect_per_point": eff.csat_engagement,
            "cuts": list(eff.csat_cuts), "latent_noise_sd": 1.0,
            "fcr_logit_per_ownership_point": eff.fcr_ownership_logit,
        },
        "team_engagement_true": {
            team: {str(q): float(eng_tq[i, j]) for i, q in enumerate(quarters)}
            for j, team in enumerate(team_names)},
        "team_agents": {team: int(k) for team, k in zip(team_names, n_agents)},
        "value": {"monthly_revenue_by_plan": eff.monthly_revenue,
                  "small_business_factor": eff.revenue_small_business_factor,
                  "revenue_sd_log": eff.revenue_sd_log, "gross_margin": eff.gross_margin,
                  "annual_discount_rate": eff.annual_discount_rate},
        "event": ev,
        "effects": effects,
    })


# ---------------------------------------------------------------------------------- invitations
# Who was invited to each survey wave and who answered, from the very draws that made the survey
# (``invited_parts`` is recorded inside ``company()`` without consuming random numbers, so
# survey.csv is unchanged): the respondents of a wave are exactly the survey's rows of that wave.
# ``true_ltr`` is the ltr every invited customer would have given that quarter (the simulator's
# truth; for respondents it equals their survey answer). Response model: logit P(answer) =
# logit(survey_response_rate) + survey_response_ltr_logit * (ltr - 8)
# + log(survey_response_small_business) * [Small business].

def _invitations(parts, cid) -> pd.DataFrame:
    """One row per invited customer and wave, sorted by wave then customer_id (round-tripped
    through the file format, as the other tables)."""
    from .contract import to_csv_bytes
    frames = []
    for w, idx, responded, ltr in parts:
        frames.append(pd.DataFrame({"customer_id": cid[idx], "wave": w,
                                    "responded": responded.astype(np.int64),
                                    "true_ltr": ltr.astype(np.int64)}))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["wave", "customer_id"], kind="stable").reset_index(drop=True)
    return read_csv_bytes(to_csv_bytes(out, "invitations"), "invitations")


def _nps_of(ltr) -> float:
    ltr = np.asarray(ltr)
    return float(100 * (np.mean(ltr >= 9) - np.mean(ltr <= 6))) if ltr.size else float("nan")


def invitations_truth(company: Company) -> dict:
    """The truth of the invited population per wave, overall and per region: invited, responded,
    response rate, true NPS and mean ltr of everyone invited (answering or not), the respondents'
    NPS and the non-response bias (respondents' NPS - true NPS, points)."""
    inv = company.table("invitations")
    region = inv["customer_id"].map(company.table("customers").set_index("customer_id")["region"])

    def facts(sub: pd.DataFrame) -> dict:
        resp = sub["true_ltr"][sub["responded"] == 1]
        true, seen = _nps_of(sub["true_ltr"]), _nps_of(resp)
        return {"invited": len(sub), "responded": len(resp),
                "response_rate": float(len(resp) / max(len(sub), 1)),
                "true_nps": true, "true_mean_ltr": float(sub["true_ltr"].mean()),
                "respondents_nps": seen, "nonresponse_bias_nps": seen - true}

    waves = {}
    for w, sub in inv.groupby("wave", sort=True):
        waves[w] = facts(sub)
        waves[w]["by_region"] = {r: facts(sub[region[sub.index] == r]) for r in REGIONS}
    return _r({
        "description": ("Truth of the invited population of each survey wave: every invited "
                        "customer's true ltr (answering or not) is in invitations.csv (true_ltr). "
                        "nonresponse_bias_nps = respondents' NPS - true NPS of the invited."),
        "response_model": {
            "logit": ("logit(survey_response_rate) + survey_response_ltr_logit * (ltr - 8) "
                      "+ log(survey_response_small_business) * [Small business]"),
            "survey_response_rate": company.truth["effects"]["survey_response_rate"],
            "survey_response_ltr_logit": company.truth["effects"]["survey_response_ltr_logit"],
            "survey_response_small_business":
                company.truth["effects"]["survey_response_small_business"]},
        "waves": waves})


def invitations_truth_bytes(company: Company) -> bytes:
    """invitations_truth.json as written beside the data (stable formatting)."""
    import json
    return (json.dumps(invitations_truth(company), indent=2, ensure_ascii=False) + "\n").encode()


# ============================================================================ survey comments
# Open-ended "why?" answers for the relationship survey (issue 13). Appended as one block; it
# reads a finished Company (survey ratings, contacts, the scripted event) and never changes it.
COMMENT_THEMES = ("network_outage", "slow_speed", "billing_error", "price", "support_unresolved",
                  "support_slow", "app_selfservice", "praise")
COMMENT_COLUMNS = ["response_id", "language", "comment"]
# theme -> (intercept, {cue: logit per unit}); cues are built in _comment_cues()
_THEME_LOGIT = {
    "network_outage": (-3.6, {"bad_network_reliability": 1.5, "outage_exposed": 1.2,
                              "fault_contact_90d": 0.9}),
    "slow_speed": (-3.4, {"bad_network_speed": 1.5}),
    "billing_error": (-3.6, {"bad_billing_accuracy": 1.4, "billing_contact_90d": 1.0}),
    "price": (-2.2, {"bad_price_value": 1.2}),
    "support_unresolved": (-3.6, {"unresolved_contact_90d": 2.2, "bad_support_resolution": 0.7}),
    "support_slow": (-3.5, {"bad_support_speed": 1.4}),
    "app_selfservice": (-3.4, {"bad_digital_selfservice": 1.4}),
    "praise": (-2.6, {"ltr_above_7": 0.9}),
}
_COMMENT_WRITE_LOGIT = (-1.2, 0.18, 1.0)   # intercept, per ltr point below 8, has something to say
_POLISH_SHARE = 0.30                       # customers who answer in Polish
_NO_DIACRITICS_SHARE = 0.35                # of Polish writers: type without ą, ę, ł, ...
_TYPO_RATE = 0.035                         # per word: swap, drop or double a letter
_PII_SHARE = 0.04                          # of non-empty comments: a name, e-mail, phone, number

_PHRASES = {
    "en": {
        "network_outage": [
            "[the|my] [internet|broadband|connection|network] [keeps dropping|drops out|cuts out|goes down] [every day|all the time|several times a week|in the evenings]",
            "[had|we had|there was] [an outage|a total outage|no service|no signal] for [two days|a week|three days|hours]",
            "[constant|repeated|frequent] outages[ in our area| in the south| lately|]",
            "[the connection|the service|the network] [is|has been] [unreliable|so unreliable|very unstable]",
            "[lost|keep losing] [the connection|signal] [constantly|every evening|when working from home]",
            "[internet|the network|broadband] [was|has been] down [again|for days|since the spring]",
        ],
        "slow_speed": [
            "[speed|download speed|the speed] is [nowhere near|far below|not] what [I pay for|was promised|you advertise]",
            "[internet|broadband|the connection] is [so|really|very|painfully] slow[ in the evenings| at peak times|]",
            "[streaming|video calls|gaming] [keeps buffering|is impossible|lags all the time]",
            "[speeds|download speeds] [drop|fall] [every evening|at night|after 6pm]",
        ],
        "billing_error": [
            "[I was|we were|I've been] [overcharged|charged twice|billed twice|charged wrongly] [last month|in march|again|for a service I cancelled]",
            "[wrong|incorrect] [amount|charges] on [my|the] [bill|invoice]",
            "[billing|the bill|my invoice] [was|is] [wrong|incorrect|a mess] [again|three months in a row|]",
            "still waiting for a refund for [a double charge|the overcharge|an incorrect bill]",
        ],
        "price": [
            "[too expensive|far too expensive|overpriced|the price is too high]",
            "[prices|the price] went up [again|by 10%|without warning]",
            "[I can get|competitors offer|others offer] [the same|a better deal|cheaper deals] for less",
            "[not|poor] value for money",
            "[the monthly fee|my bill] [keeps going up|is too high for what I get]",
        ],
        "support_unresolved": [
            "[my|the] [problem|issue|fault] [is still not|was never|has not been] [resolved|fixed|sorted]",
            "[called|rang|contacted support] [three times|several times|twice|again and again] and [nothing happened|still no fix|no one fixed it]",
            "[nobody|no one] [takes responsibility|follows up|called back as promised]",
            "[they|support|the agent] [promised|said they would] [call back|fix it|send an engineer] but [never did|nothing happened]",
        ],
        "support_slow": [
            "[waited|was on hold|spent] [an hour|45 minutes|ages|forever] [on hold|to get through|in the queue]",
            "[support|customer service|the helpline] [is|was] [slow|very slow|too slow] to [answer|respond|reply]",
            "[it took|took] [two weeks|days|10 days] to get a [reply|response|visit from an engineer]",
            "[long|endless|huge] [waiting times|queues|hold times]",
        ],
        "app_selfservice": [
            "[the app|your app|the website|my account page] [keeps crashing|doesn't work|is confusing|won't let me log in]",
            "[can't|cannot|couldn't] [log in|pay my bill|change my plan|find anything] [in|on] the [app|website]",
            "[login|password reset|the online account] [is broken|never works|is a nightmare]",
            "the [app|website] is [clunky|hard to use|useless|a pain to use]",
        ],
        "praise": [
            "[great|excellent|fantastic|very good] [service|value|experience]",
            "[friendly|helpful|brilliant] [staff|support|agent][, sorted my question quickly|]",
            "[never had|no|haven't had] [any problems|problems|issues] [with the connection|with billing|so far]",
            "[happy|very happy|satisfied] [with everything|with the service|overall]",
            "[works well|works fine|reliable connection|fast and reliable]",
        ],
        None: ["[nothing to add|n/a|no comment|ok|nothing|-|none|no]",
               "[just moved house|I mostly use it for work|my daughter set it up]",
               "[average|it is what it is|no strong feelings]"],
        "_join": [". ", ", ", " and ", ". Also ", "; "],
        "_but": [" but ", ". However ", ", although "],
        "_lead": ["", "", "", "honestly ", "to be honest ", "well, "],
    },
    "pl": {
        "network_outage": [
            "[internet|połączenie] [ciągle|cały czas|codziennie] [się zrywa|pada|znika]",
            "[nie było|brak] [internetu|zasięgu|sieci] przez [dwa dni|tydzień|kilka godzin|trzy dni]",
            "[częste|ciągłe|powtarzające się] awarie[ sieci| w naszej okolicy| ostatnio|]",
            "[połączenie jest|łącze jest] [niestabilne|zawodne|bardzo niestabilne]",
            "[znowu|kolejny raz|ponownie] awaria[ internetu| sieci|]",
            "sieć [nie działała|padła] [przez kilka dni|od wiosny|znowu]",
        ],
        "slow_speed": [
            "[wolny|bardzo wolny|strasznie wolny] internet[ wieczorami| w godzinach szczytu|]",
            "internet jest [bardzo|strasznie|za] wolny",
            "prędkość [daleko|dużo] [niższa|mniejsza] niż w umowie",
            "[filmy|wideorozmowy|gry] się [zacinają|buforują|tną]",
        ],
        "billing_error": [
            "[błędna|zła|nieprawidłowa] faktura[ za marzec| znowu|]",
            "[naliczyli|pobrali] [za dużo|podwójnie|dwa razy] [w zeszłym miesiącu|znowu|]",
            "[zostałem|zostałam] [obciążony|obciążona] [dwukrotnie|podwójnie|za usługę której nie mam]",
            "[czekam|nadal czekam] na zwrot [nadpłaty|pieniędzy]",
            "[błąd|błędy] w [rachunku|fakturze|rozliczeniu]",
        ],
        "price": [
            "[za drogo|zbyt drogo|drogo]",
            "[cena jest za wysoka|abonament jest zbyt wysoki|abonament poszedł w górę|cena znowu wzrosła]",
            "[konkurencja ma taniej|inni operatorzy oferują lepsze ceny|u konkurencji taniej]",
            "[nieopłacalne|słaby stosunek jakości do ceny]",
            "podwyżka [ceny|abonamentu] bez [uprzedzenia|powodu]",
        ],
        "support_unresolved": [
            "[sprawa|usterka] [nadal nie została|wciąż nie jest|do dziś nie jest] [rozwiązana|naprawiona|załatwiona]",
            "problem [nadal nie został|wciąż nie jest] [rozwiązany|naprawiony]",
            "[dzwoniłem|dzwoniłam] [trzy razy|kilka razy|wielokrotnie] i [nic|nikt nic nie zrobił|dalej nie działa]",
            "[obiecali|konsultant obiecał] [oddzwonić|przysłać technika|to naprawić] i [nic|cisza|nikt się nie odezwał]",
            "nikt [nie czuje się odpowiedzialny|nie oddzwonił]",
        ],
        "support_slow": [
            "[czekałem|czekałam] [godzinę|45 minut|wieki|pół godziny] na [połączenie z konsultantem|odpowiedź]",
            "[infolinia|obsługa klienta|pomoc techniczna] [odpowiada|reaguje] [bardzo wolno|za wolno|powoli]",
            "[długie|bardzo długie|niekończące się] [czekanie|kolejki|oczekiwanie] na [infolinii|odpowiedź]",
            "odpowiedź przyszła po [dwóch tygodniach|tygodniu|10 dniach]",
        ],
        "app_selfservice": [
            "[aplikacja|strona|panel klienta] [ciągle się zawiesza|nie działa|się wiesza]",
            "nie [mogę|da się] [zalogować|zapłacić rachunku|zmienić planu] w [aplikacji|serwisie]",
            "[logowanie|resetowanie hasła] [nie działa|to koszmar]",
            "[aplikacja|strona] jest [toporna|niewygodna|bezużyteczna|nieintuicyjna]",
        ],
        "praise": [
            "[świetna|bardzo dobra|super] [obsługa|usługa|jakość]",
            "[miły|pomocny|kompetentny] konsultant[, szybko pomógł|]",
            "[nigdy nie miałem|nie mam|nie było] [problemów|żadnych problemów] [z internetem|z rachunkami|]",
            "[jestem zadowolony|jestem zadowolona|wszystko w porządku|polecam]",
            "[działa bez zarzutu|stabilny i szybki internet|wszystko działa]",
        ],
        None: ["[brak uwag|nie mam uwag|bez komentarza|ok|nic|-|nie]",
               "[niedawno się przeprowadziłem|używam głównie do pracy|syn mi to ustawił]",
               "[przeciętnie|jest jak jest|bez zdania]"],
        "_join": [". ", ", ", " i ", ". Poza tym ", "; "],
        "_but": [" ale ", ". Jednak ", ", chociaż "],
        "_lead": ["", "", "", "szczerze mówiąc ", "no cóż, ", "generalnie "],
    },
}
_FIRST = {"en": ["John", "Sarah", "Michael", "Emma", "David", "Laura"],
          "pl": ["Anna", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Krzysztof"]}
_LAST = {"en": ["Smith", "Taylor", "Brown", "Wilson", "Evans", "Walker"],
         "pl": ["Kowalski", "Nowak", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski"]}
_PII = {"en": ["my account number is {acct}", "call me on {phone}", "email me at {email}",
               "my name is {first} {last}", "regards, {first}", "my card number is {card}",
               "my bank account is {iban}", "ask for Mrs {last}"],
        "pl": ["mój numer klienta to {acct}", "proszę dzwonić na {phone}", "mail: {email}",
               "nazywam się {first} {last}", "pozdrawiam, {first} {last}", "numer karty {card}",
               "moje konto {iban}", "rozmawiałem z Panem {last}"]}
_DIACRITICS = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _expand(rng, template: str) -> str:
    """Fill each [a|b|c] group with one option, chosen uniformly."""
    out, pos = [], 0
    while (i := template.find("[", pos)) >= 0:
        j = template.index("]", i)
        out.append(template[pos:i])
        out.append(_pick(rng, template[i + 1:j].split("|")))
        pos = j + 1
    out.append(template[pos:])
    return "".join(out)


def _luhn_number(rng, n=16) -> str:
    digits = [int(d) for d in rng.integers(0, 10, n - 1)]
    digits[0] = 4
    total = 0
    for k, d in enumerate(reversed(digits)):        # positions 2, 3, ... from the right
        d = d * 2 if k % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return " ".join(s[i:i + 4] for i in range(0, n, 4))


def _iban(rng) -> str:
    bban = "".join(map(str, rng.integers(0, 10, 24)))
    rearranged = bban + "2521" + "00"                # P=25, L=21
    check = 98 - int(rearranged) % 97
    s = f"PL{check:02d}{bban}"
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def _pii_fragment(rng, lang: str) -> tuple[str, str]:
    k = int(rng.integers(len(_PII[lang])))
    first, last = _pick(rng, _FIRST[lang]), _pick(rng, _LAST[lang])
    digits = "".join(map(str, rng.integers(0, 10, 9)))
    phone = (f"07{digits[:3]} {digits[3:9]}" if lang == "en"
             else f"+48 {digits[:3]} {digits[3:6]} {digits[6:9]}")
    text = _PII[lang][k].format(
        acct="".join(map(str, rng.integers(0, 10, 8))), phone=phone,
        email=f"{first.lower().translate(_DIACRITICS)}.{last.lower().translate(_DIACRITICS)}"
              f"@example.{'com' if lang == 'en' else 'pl'}",
        first=first, last=last, card=_luhn_number(rng), iban=_iban(rng))
    kind = ["account", "phone", "email", "name", "name", "card", "iban", "name"][k]
    return text, kind


def _typos(rng, text: str) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and rng.random() < _TYPO_RATE:
            j = int(rng.integers(1, len(w) - 1))
            op = int(rng.integers(3))
            words[i] = (w[:j] + w[j + 1] + w[j] + w[j + 2:] if op == 0 else
                        w[:j] + w[j + 1:] if op == 1 else w[:j] + w[j] + w[j:])
    return " ".join(words)


def comment_text(rng, themes, lang: str, *, plain: bool = False, pii: bool = False):
    """One comment in ``lang`` ("en"/"pl") mentioning ``themes`` (a sequence of COMMENT_THEMES;
    empty for a comment without a theme). Returns (text, kind of personal data or "")."""
    bank = _PHRASES[lang]
    problems = [t for t in themes if t != "praise"]
    parts = [_expand(rng, _pick(rng, bank[t])) for t in problems]
    text = ""
    for k, p in enumerate(parts):
        text = p if k == 0 else text + _pick(rng, bank["_join"]) + p
    if "praise" in themes:
        good = _expand(rng, _pick(rng, bank["praise"]))
        text = good if not text else good + _pick(rng, bank["_but"]) + text
    if not themes:
        text = _expand(rng, _pick(rng, bank[None]))
    if themes:
        text = _pick(rng, bank["_lead"]) + text
    if not plain:
        text = _typos(rng, text)
    kind = ""
    if pii:                                   # after the typos: the numbers stay valid
        fragment, kind = _pii_fragment(rng, lang)
        text = text + ". " + fragment
    if not plain:
        style = rng.random()
        if style < 0.55:
            text = text[:1].upper() + text[1:]
        elif style < 0.60:
            text = text.upper()
        if rng.random() < 0.6:
            text += _pick(rng, [".", "!", "!!", "...", "."])
    return text, kind


def _comment_cues(company) -> pd.DataFrame:
    """Per survey response: the latent problems a comment can be about (0 when not rated)."""
    s = company.survey
    cues = pd.DataFrame(index=s.index)
    for t in ("network_reliability", "network_speed", "billing_accuracy", "price_value",
              "support_resolution", "support_speed", "digital_selfservice"):
        cues[f"bad_{t}"] = np.clip((7.5 - s[t].to_numpy(dtype=float)) / 2.5, 0, 2.4)
    cues = cues.fillna(0.0)
    ev = company.truth.get("event")
    cues["outage_exposed"] = 0.0
    if ev:
        cues["outage_exposed"] = ((s["region"] == ev["region"])
                                  & (s["wave"].map(lambda w: pd.Period(w, freq="Q"))
                                     >= pd.Period(ev["from_wave"], freq="Q"))).astype(float)
    c = company.contacts[["customer_id", "contact_date", "problem_type", "fcr"]]
    m = s[["customer_id", "survey_date"]].reset_index().merge(c, on="customer_id")
    m = m[(m["contact_date"] < m["survey_date"])
          & (m["contact_date"] >= m["survey_date"] - pd.Timedelta(days=90))]
    for name, sel in (("fault_contact_90d", m["problem_type"] == "Network fault"),
                      ("billing_contact_90d", m["problem_type"] == "Billing"),
                      ("unresolved_contact_90d", m["fcr"] == 0)):
        hit = np.unique(m.loc[sel, "index"].to_numpy())
        cues[name] = cues.index.isin(hit).astype(float)
    cues["ltr_above_7"] = np.maximum(s["ltr"].to_numpy(dtype=float) - 7, 0)
    return cues


def comments(company, seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Open-ended survey comments for ``company`` (a simulated Company) and their truth.

    Each respondent has a latent set of things to say: theme k is present with probability
    ``logistic(a_k + sum_j b_kj cue_j)`` (``_THEME_LOGIT``), the cues being how badly the
    respondent rated the touchpoint behind the theme (``(7.5 - rating) / 2.5`` clipped to
    [0, 2.4]; 0 if not rated), whether the scripted outage hit them (region and wave of
    ``truth["event"]``), network-fault / billing / unresolved contacts in the 90 days before
    the survey date, and ltr above 7 (praise). At most three themes are kept. The respondent
    writes something with probability ``logistic(-1.2 + 0.18 (8 - ltr) + 1.0 [has a theme])``;
    otherwise the answer is empty (most answers are). A comment is phrased from templates per
    theme and language with random fillers, joiners and a contrast ("great staff but ...") for
    praise with problems, then spelling noise (typos in 3.5% of words, missing Polish
    diacritics for 35% of Polish writers, casing). 30% of customers answer in Polish, the rest
    in English. 4% of comments carry personal data (a name, e-mail, phone, account, card or IBAN
    number; all fake) for redaction to remove.

    Themes are generated *from* the ratings and contacts: they are markers of the problems that
    move ltr and churn, not causes in their own right. Their "true effect" is therefore defined
    as the estimand of the analysis (see :func:`comment_theme_effects`).

    Returns ``(frame, truth)``: frame has COMMENT_COLUMNS (one row per survey response, comment
    "" when empty) and truth the parameters plus, per theme, the response ids whose comment
    carries it, and the ids of comments with personal data.
    """
    s = company.survey
    seed = (company.truth.get("seed", 0) if seed is None else seed)
    rng = np.random.default_rng([int(seed), 13])
    cues = _comment_cues(company)
    n = len(s)
    present = np.zeros((n, len(COMMENT_THEMES)), dtype=bool)
    for k, theme in enumerate(COMMENT_THEMES):
        a, b = _THEME_LOGIT[theme]
        logit = a + sum(coef * cues[c].to_numpy() for c, coef in b.items())
        present[:, k] = rng.random(n) < 1 / (1 + np.exp(-logit))
    # keep at most three themes, chosen at random
    rank = np.argsort(np.argsort(rng.random(present.shape) - present, axis=1), axis=1)
    present &= rank < 3
    a0, b0, c0 = _COMMENT_WRITE_LOGIT
    wl = a0 + b0 * (8 - s["ltr"].to_numpy(dtype=float)) + c0 * present.any(axis=1)
    writes = rng.random(n) < 1 / (1 + np.exp(-wl))
    customers = np.unique(s["customer_id"].to_numpy())
    polish = dict(zip(customers, rng.random(customers.size) < _POLISH_SHARE))
    no_diac = dict(zip(customers, rng.random(customers.size) < _NO_DIACRITICS_SHARE))
    pii = writes & (rng.random(n) < _PII_SHARE)
    lang = np.where([polish[c] for c in s["customer_id"]], "pl", "en")
    texts, kinds = [""] * n, [""] * n
    for i in np.flatnonzero(writes):
        themes = [t for k, t in enumerate(COMMENT_THEMES) if present[i, k]]
        rng.shuffle(themes)
        texts[i], kinds[i] = comment_text(rng, themes, lang[i], pii=bool(pii[i]))
        if lang[i] == "pl" and no_diac[s["customer_id"].iat[i]]:
            texts[i] = texts[i].translate(_DIACRITICS)
    frame = pd.DataFrame({"response_id": s["response_id"].to_numpy(), "language": lang,
                          "comment": texts})
    rid = s["response_id"].to_numpy()
    truth = {
        "generator": "cxlab.simulate.comments", "seed": int(seed),
        "themes": list(COMMENT_THEMES),
        "theme_logit": {t: {"intercept": a, **b} for t, (a, b) in _THEME_LOGIT.items()},
        "write_logit": dict(zip(["intercept", "per_ltr_point_below_8", "has_a_theme"],
                                _COMMENT_WRITE_LOGIT)),
        "polish_share": _POLISH_SHARE, "typo_rate_per_word": _TYPO_RATE, "pii_share": _PII_SHARE,
        "n_responses": n, "n_comments": int(writes.sum()),
        "true_themes": {t: rid[writes & present[:, k]].tolist()
                        for k, t in enumerate(COMMENT_THEMES)},
        "personal_data": {kind: rid[[k_ == kind for k_ in kinds]].tolist()
                          for kind in ("name", "email", "phone", "account", "card", "iban")},
    }
    return frame, truth


def comments_bytes(frame: pd.DataFrame) -> bytes:
    """comments.csv as bytes (fixed columns, '\\n' line endings, UTF-8)."""
    import io

    buf = io.StringIO()
    frame[COMMENT_COLUMNS].to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def comments_truth_bytes(truth: dict) -> bytes:
    """comments_truth.json as bytes (stable formatting)."""
    import json

    return (json.dumps(_r(truth), indent=1, ensure_ascii=False) + "\n").encode()


def read_comments(folder) -> pd.DataFrame:
    """Read comments.csv written by :func:`comments_bytes` (empty comment -> "")."""
    from pathlib import Path

    return pd.read_csv(Path(folder) / "comments.csv", dtype=str, keep_default_na=False)


def theme_frame(frame: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """The true themes as 0/1 columns aligned with ``frame`` (one row per response)."""
    rid = frame["response_id"]
    return pd.DataFrame({t: rid.isin(set(truth["true_themes"][t])).astype(int)
                         for t in truth["themes"]}, index=frame.index)


def _episodes(company) -> pd.DataFrame:
    """Survey response -> months to churn, censored at the customer's next response or the end
    of observation (the episode design of cx.retention.analysis_frame(responses="all"))."""
    s = company.survey[["response_id", "customer_id", "survey_date"]]
    s = s.sort_values(["customer_id", "survey_date"], kind="stable")
    nxt = s.groupby("customer_id")["survey_date"].shift(-1)
    cust = company.customers.set_index("customer_id")
    end = s["customer_id"].map(cust["end_date"])
    obs = pd.Timestamp(company.truth["observation_end"]) + pd.Timedelta(days=1)
    stop = pd.concat([end, nxt, pd.Series(obs, index=s.index)], axis=1).min(axis=1)
    event = end.notna() & (end <= stop) & (nxt.isna() | (end <= nxt))
    return pd.DataFrame({"response_id": s["response_id"],
                         "duration": (stop - s["survey_date"]).dt.days / 30.4375,
                         "churned": event.astype(int)}).set_index("response_id")


def comment_theme_effects(n_replications: int = 20, n_customers: int = 20_000,
                          seed: int = 2026, effects: TrueEffects | None = None) -> dict:
    """The true theme effects, defined as population regression coefficients.

    Comments are generated after the ratings, so a theme has no causal effect of its own in
    this simulation; what is true and checkable is the estimand of the analysis: the
    coefficient of each theme indicator in the regression ``cx.text.theme_impact`` runs, in
    the population. We compute it on ``n_replications`` independent companies generated with
    the same generator (seeds ``seed + 1000 + r``), pooled, among responses with a non-empty
    comment, with all themes together and no other controls:

    * ``ltr_nps_points``: OLS coefficient of the theme on ``100 * ([ltr >= 9] - [ltr <= 6])``
      (NPS points: the adjusted difference in NPS between comments with and without the theme);
    * ``ltr_points``: the same on ltr (0-10);
    * ``churn_log_hazard_ratio``: Cox coefficient (statsmodels PHReg, Breslow ties) of the theme
      on the time from the survey to churn, censored at the customer's next response or the end
      of observation (``hazard_ratio`` = exp).

    Monte-Carlo standard errors (between-replication) are reported beside each value.
    """
    import statsmodels.api as sm

    nps_b, ltr_b, cox_b = [], [], []
    for r in range(n_replications):
        comp = company(n_customers=n_customers, seed=seed + 1000 + r, effects=effects)
        frame, truth = comments(comp)
        themes = theme_frame(frame, truth)
        keep = (frame["comment"] != "").to_numpy()
        X = sm.add_constant(themes[keep].to_numpy(dtype=float))
        ltr = comp.survey["ltr"].to_numpy(dtype=float)[keep]
        nps_b.append(sm.OLS(100 * ((ltr >= 9).astype(float) - (ltr <= 6)), X).fit().params[1:])
        ltr_b.append(sm.OLS(ltr, X).fit().params[1:])
        ep = _episodes(comp).loc[frame["response_id"][keep]]
        cox = sm.PHReg(ep["duration"].to_numpy(), themes[keep].to_numpy(dtype=float),
                       status=ep["churned"].to_numpy(), ties="breslow").fit()
        cox_b.append(cox.params)

    def summary(b):
        b = np.asarray(b)
        se = b.std(axis=0, ddof=1) / np.sqrt(len(b)) if len(b) > 1 else np.full(b.shape[1], np.nan)
        return {t: {"value": float(m), "monte_carlo_se": float(e)}
                for t, m, e in zip(COMMENT_THEMES, b.mean(axis=0), se)}

    cox = summary(cox_b)
    return _r({
        "definition": ("population coefficient of each theme indicator, all themes together, no "
                       "other controls, among responses with a non-empty comment; mean over "
                       f"{n_replications} companies of {n_customers} customers (seeds "
                       f"{seed + 1000}..{seed + 999 + n_replications}); themes are generated from "
                       "the ratings, so these are adjusted associations (the estimand of "
                       "cx.text.theme_impact), not causal effects of writing a theme"),
        "ltr_nps_points": summary(nps_b), "ltr_points": summary(ltr_b),
        "churn_log_hazard_ratio": cox,
        "churn_hazard_ratio": {t: float(np.exp(v["value"])) for t, v in cox.items()},
    })
