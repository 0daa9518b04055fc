"""Exercises for notebook 00 start here."""

from __future__ import annotations

from .core import *  # noqa: F403
from .recipes import *  # noqa: F403

# ============================================================ 00 start here
_ex00_q0 = NumericExercise(
    lambda c: 4, abs_tol=0, fmt="{:,.0f}", what="the number of tables",
    prompt="Practice: how many tables of data does Kestrel Connect have?",
    mistakes=[Mistake("truth", lambda c: 5, "`truth` is not a table of data: it is the answer "
                      "key of the simulation (a dict). Count the DataFrames.")],
    hints=["They are listed in the output of the cell that loaded `company`."],
    solution="4: customers, survey, contacts and pulse (truth is the simulation's answer key).\n"
             "answer = 4",
    explain="customers, survey, contacts and pulse.")

_ex00_q1 = NumericExercise(
    lambda c: len(c.customers), abs_tol=0, fmt="{:,.0f}", what="the number of customers",
    prompt="How many customers are in the customers table?",
    mistakes=[
        Mistake("survey rows", lambda c: len(c.survey),
                "That is the number of survey RESPONSES. The customers table has one row per "
                "customer."),
        Mistake("respondents", lambda c: c.survey["customer_id"].nunique(),
                "That is the number of customers who answered the survey at least once. Count "
                "the rows of company.customers."),
        Mistake("active only", lambda c: int((c.customers["churned"] == 0).sum()),
                "That counts only the active customers; the table also holds those who left "
                "(churned = 1)."),
    ],
    hints=["One row per customer: len(company.customers) counts the rows."],
    solution="n_customers = len(company.customers)   # or company.customers.shape[0]",
    explain="Active and former customers together: one row each.")

_ex00_q2 = NumericExercise(
    lambda c: 100 * c.customers["churned"].mean(), abs_tol=0.05, fmt="{:.1f} %", percent=True,
    what="the share of customers who have left",
    prompt="What percentage of the customers in the table have left Kestrel (churned)?",
    mistakes=[
        Mistake("count", lambda c: float(c.customers["churned"].sum()),
                "That is the NUMBER of customers who left. Divide by the number of customers, "
                "× 100."),
        Mistake("active share", lambda c: 100 * (1 - c.customers["churned"].mean()),
                "That is the share still active. The question asks for the share who left."),
    ],
    hints=["churned is 1 for a customer who left and 0 otherwise, so its mean is the share who "
           "left.", "100 * company.customers['churned'].mean()"],
    solution="churned_pct = 100 * company.customers['churned'].mean()",
    explain="Careful: this mixes customers who joined in 2014 with last month's; notebook 01 "
            "turns it into a proper 12-month retention rate.")

_ex00_q3 = NumericExercise(
    lambda c: len(_wave(c.survey)), abs_tol=0, fmt="{:,.0f}",
    what=f"the number of survey responses in {LATEST}",
    prompt=f"How many relationship-survey responses did the latest wave ({LATEST}) collect?",
    mistakes=[Mistake("all waves", lambda c: len(c.survey),
                      f"That counts all waves. Keep only the rows where wave == '{LATEST}' first."),
              Mistake("contacts", lambda c: len(_wave(c.contacts)),
                      "That counts contacts (the post-contact survey). Use company.survey.")],
    hints=[f"Filter first: survey[survey['wave'] == '{LATEST}'], then count the rows with len()."],
    solution=f"latest = survey[survey['wave'] == '{LATEST}']\nn_latest = len(latest)",
    explain="About 1,500 answers a quarter: enough for the company, thin for a region "
            "(notebook 02).")

_ex00_q4 = SetExercise(
    lambda c: [c.customers["region"].value_counts().idxmax()], what="region",
    answer_name="a region name in quotes, e.g. 'East'",
    prompt="Which region has the most customers?",
    hints=["company.customers['region'].value_counts() counts the customers of each region, "
           "largest first."],
    solution="company.customers['region'].value_counts()   # the first row is the largest\n"
             "top_region = company.customers['region'].value_counts().idxmax()")

_ex00_q5 = ChoiceExercise(
    {"a": "customers", "b": "survey", "c": "contacts", "d": "pulse"}, "c",
    prompt="A customer phones about a wrong bill and afterwards rates the call. Which table "
           "holds that rating?",
    feedback={
        "a": "customers holds who the customer is (plan, region, revenue, churn), not ratings.",
        "b": "survey is the quarterly RELATIONSHIP survey (overall view of Kestrel), not the "
             "rating of one call.",
        "d": "pulse is the EMPLOYEE survey: it is how staff feel, not customers.",
    },
    hints=["Look for the table with one row per contact, with channel, team and a csat column."],
    solution="c) contacts: one row per contact, with its post-contact csat and ces.",
    explain="contacts: one row per contact, with the post-contact csat (1–5) and ces (1–7).")

_ex00_q6 = PlotExercise(
    prompt="Draw a bar chart of the number of customers per region, with a title and axis labels.",
    hints=["ax = sns.countplot(data=company.customers, x='region') draws the bars and returns "
           "the Axes.", "Then ax.set(title='...', xlabel='...', ylabel='...')."],
    solution="ax = sns.countplot(data=company.customers, x='region',\n"
             "                   order=company.customers['region'].value_counts().index)\n"
             "ax.set(title='Customers per region', xlabel='Region', ylabel='Customers')",
    explain="Ordering the bars by size (order=...) makes the largest jump out.")

_ex00_q7 = JudgementExercise(
    "• 'Which touchpoints drive whether customers recommend us, and which of them are we bad "
    "at?' (notebook 03)\n"
    "• 'How much revenue do we lose each year through customers who had a bad support "
    "experience?' (notebooks 04–06)\n"
    "• 'Why did retention fall in the South?' (the capstone, notebook 09)\n"
    "A good question names a decision it would change.",
    prompt="Write one question about Kestrel's customers that you would like this data to answer "
           "by the end of the course.",
    hints=["Think of a decision you will have to make next quarter."])

ex00 = ExerciseSet("00_start_here", q0=_ex00_q0, q1=_ex00_q1, q2=_ex00_q2, q3=_ex00_q3,
                   q4=_ex00_q4, q5=_ex00_q5, q6=_ex00_q6, q7=_ex00_q7)


