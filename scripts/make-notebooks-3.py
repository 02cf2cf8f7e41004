"""Writes the (unexecuted) CDNOW / clickstream notebooks 3.0-3.4; execute them with
`jupyter nbconvert --to notebook --execute --inplace` (see .ci/run for the environment)."""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "notebooks")
META = {"kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
        "language_info": {"codemirror_mode": "rust", "file_extension": ".rs", "mimetype": "text/rust",
                          "name": "Rust", "pygment_lexer": "rust", "version": ""}}
DEP = ':dep propensity = { path = "../crates/propensity" }'


def nb(name, cells):
    out = []
    for kind, text in cells:
        text = text.strip("\n")
        c = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            c["execution_count"] = None
            c["outputs"] = []
        out.append(c)
    doc = {"cells": out, "metadata": META, "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(doc["cells"]):
        c["id"] = f"c{i:02d}"
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")


M = lambda t: ("markdown", t)
C = lambda t: ("code", t)

nb("3.0-cdnow-data-and-features.ipynb", [
    M("""# 3.0 CDNOW: transactions, the calibration/holdout protocol, features and automatic EDA

This part reimplements the "analytic marketing pipeline" seed — churn, lifetime value and KPI-supervised segments —
on **CDNOW**: 69,659 real purchases by 23,570 customers who first bought in the first quarter of 1997, followed until
June 1998. It is the classic data for "buy till you die" models, so every number here can be checked against a
published peer (the Python scripts in `shared/anchors/clv/`).

**Protocol.** Purchases are summed per customer and day. The **calibration** period (1997-01-01 … 1997-09-30, 39
weeks) gives the features; the **holdout** period (1997-10-01 … 1998-06-30, another 39 weeks) gives the targets:
did the customer buy again (churn is "no purchase"), how many purchase days, how many dollars. Every feature is
computed from calibration days only — the unit test `a_future_purchase_changes_targets_not_features` adds a
holdout purchase and checks that no feature moves."""),
    C(DEP),
    C("""use propensity::{cdnow, display, eda::Eda, paths};
let raw = cdnow::read(paths::data_file(cdnow::FILE)?)?;
let days = cdnow::customer_days(&raw);
let customers = cdnow::Customers::build(&days, &cdnow::Protocol::default())?;
let buyers = customers.rows.iter().filter(|c| c.bought_in_holdout()).count();
println!("{} purchase lines, {} customer-days, {} customers; {} ({:.2} %) bought in the holdout",
    raw.len(), days.len(), customers.len(), buyers, 100.0 * buyers as f64 / customers.len() as f64);"""),
    M("""## The customer table

One row per customer. The first four columns are the "RFM" summary the BG/NBD and Gamma-Gamma models need —
`frequency` *x* (repeat purchase days), `recency` *tₓ* and `T` (weeks from the first purchase to the last one and to
the end of calibration) and `monetary` (mean spend of the repeat days). The others feed the supervised networks:
totals and means of dollars and CDs, the first purchase, the gap since the last purchase, the mean gap between
purchases (for one-time buyers, their age — a lower bound), the cohort, and activity in the last 13 weeks.
The three last columns are the holdout targets."""),
    C("""let dir = paths::output_dir("cdnow")?;
customers.write_csv(dir.join("customers.csv"))?;
display::csv_preview(dir.join("customers.csv"), 5)?"""),
    M("""## Automatic EDA

`Eda::of_csv` profiles any CSV in one call: the inferred type of every column, missing values, duplicate rows,
summary statistics with the number of IQR outliers, histograms, the correlation matrix, and the columns most
associated with a target — here the holdout spend (the two other holdout targets are profiled but not ranked).
The same report is written as one self-contained HTML file
(`out/cdnow/eda.html`, plots inline)."""),
    C("""let report = Eda::of_csv(dir.join("customers.csv"), Some("spend_holdout"), &["n_holdout", "cds_holdout"])?;
report.save_html(dir.join("eda.html"))?;
report"""),
    M("""**What the EDA shows.** No missing values and no duplicates. Every amount is heavily right-skewed — most customers
bought once (`frequency` has a median of 0, a mean of 1.03 and a maximum of 80) — and the IQR outlier counts are in
the thousands for the same reason, which is why the networks take `log1p` of their inputs. `customer_id` is
recognised as an identifier and not ranked. The holdout spend is most associated with the *amount* of past activity
(calibration CDs and spend, recent spend, repeat days, |r| ≈ 0.55–0.62) and then with recency (≈ 0.32); the age `T`
and the cohort carry almost nothing (|r| < 0.01) because every customer joined within the same quarter. Frequency,
recency and age are exactly what the BG/NBD model of notebook 3.1 is built on."""),
])

nb("3.1-cdnow-churn-and-lifetime-value.ipynb", [
    M("""# 3.1 CDNOW: churn and lifetime value — BG/NBD + Gamma-Gamma beside neural networks

Two questions about the next 39 weeks: **will the customer buy again** (churn is the negation) and **how much will
they spend**. Two kinds of model answer them:

* the established statistical peer, **BG/NBD** (purchase rate ~ Gamma, dropout after each purchase ~ Beta; Fader,
  Hardie & Lee 2005) with the **Gamma-Gamma** spend model, fitted by maximum likelihood on the calibration
  summary (*x*, *tₓ*, *T*, *m*) alone;
* supervised **MLPs** on the 17 calibration features, scored out of fold with the peers' folds (`customer_id mod 5`).

Base rate: 29.94 % of customers buy in the holdout."""),
    C(DEP),
    C("""use propensity::cdnow::{self, btyd::Btyd, models::{self, ChurnConfig, SpendConfig}};
use propensity::{classify, plot, ranking};
let customers = cdnow::load_default()?;
let ids = customers.ids();
let bought: Vec<bool> = customers.rows.iter().map(|c| c.bought_in_holdout()).collect();"""),
    M("""## BG/NBD and Gamma-Gamma by maximum likelihood

Both likelihoods are written out in `cdnow::btyd` and maximised on the log of the parameters with argmin's
Nelder-Mead, restarted from the best point until it stops improving. The reference fit (`lifetimes` 0.11.3 on the
same 23,570 customers) is r = 0.251624, α = 4.788945, a = 0.723433, b = 2.161087, log-likelihood −95,368.444, and
p = 6.275359, q = 3.624450, v = 14.983689 on the 9,450 repeaters with positive spend; the test
`bgnbd_and_gamma_gamma_reproduce_the_published_fit` requires 4 significant digits."""),
    C("""let btyd = Btyd::fit(&customers)?;
btyd.parameter_table()"""),
    M("""The classic check of a BG/NBD fit: group customers by their calibration repeat days and compare the mean number
of holdout purchase days with the model's conditional expectation."""),
    C("""btyd.frequency_chart(&customers)?"""),
    M("""## Churn: who buys again?

The churn network is 17 → 32 → 16 → 2 (the shape of the scikit-learn peer), on `log1p` and standardized inputs,
Adam, batches of 256, early stopping on 10 % of each fold's training customers (patience 10, best epoch restored).
BG/NBD's expected number of holdout purchases is a ranking score too. (BG/NBD's P(alive) is *not* a churn score on
this data: a one-time buyer has P(alive) = 1 by construction, so it ranks the most likely churners as the safest —
its AUC is 0.32.)

Peers on the same folds: scikit-learn MLP 0.769, gradient boosting 0.766, BG/NBD 0.763."""),
    C("""let churn = models::churn_out_of_fold(&customers, &ChurnConfig::default())?;
println!("epochs per fold {:?}, 5 fits in {:.2} s", churn.epochs, churn.seconds);
ranking::binary_table("Buys again in the holdout (out of fold; the AUC of churn is the same number)", &[
    ("churn MLP 17-32-16-2".to_string(), churn.scores()?),
    ("BG/NBD expected holdout purchases".to_string(), ranking::BinaryScores::of(&btyd.expected_transactions, &bought, &ids)?),
])"""),
    C("""plot::roc_curves(&[
    classify::roc_curve("churn MLP", &churn.predictions, &bought)?,
    classify::roc_curve("BG/NBD E[purchases]", &btyd.expected_transactions, &bought)?,
])?"""),
    M("""The MLP and BG/NBD rank customers almost identically (AUC 0.771 vs 0.763, top-decile lift ≈ 2.7 for both): four
numbers per customer — frequency, recency, age, spend — carry nearly all the signal, and BG/NBD gets there with four
parameters and no labels. The network's edge is small but consistent across folds.

## Lifetime value: holdout spend

The spend MLP (17 → 32 → 16 → 1, MSE on the standardized spend, predictions clipped at 0) is compared with
BG/NBD × Gamma-Gamma (expected purchases × expected spend per purchase). Predicting 0 for everyone already gives an
MAE of 33.0 — most customers spend nothing — so RMSE, Spearman and the **share of all holdout revenue captured by
the top 10 % of customers** are the numbers to read."""),
    C("""let spend = models::spend_out_of_fold(&customers, &SpendConfig::default())?;
let log_spend = models::spend_out_of_fold(&customers,
    &SpendConfig { target: models::SpendTarget::Log1p, ..SpendConfig::default() })?;
let actual = customers.column(|c| c.spend_holdout);
ranking::regression_table("Holdout spend per customer", &[
    ("BG/NBD × Gamma-Gamma".to_string(), ranking::RegressionScores::of(&actual, &btyd.expected_spend, &ids)?),
    ("spend MLP 17-32-16-1 (out of fold)".to_string(), spend.regression()?),
    ("spend MLP on log(1 + spend) (out of fold)".to_string(), log_spend.regression()?),
    ("zero for everyone".to_string(), ranking::RegressionScores::of(&actual, &vec![0.0; actual.len()], &ids)?),
])"""),
    M("""No single model wins every column, and the table shows why:

* **BG/NBD × Gamma-Gamma** has the lowest RMSE (92.9, as the peer) from four + three parameters and no labels;
  its total is 17 % low.
* **The MLP on dollars** predicts the mean: its total is within 1 % of the actual, and it captures the most revenue
  in its top decile (0.522 vs 0.516), but its RMSE (102.8) is the peers' gradient boosting's (102.6).
* **The MLP on log(1 + dollars)** ranks customers best — Spearman 0.455, above gradient boosting's 0.442–0.445 —
  but it predicts a typical rather than a mean amount, so its total is a quarter of the actual (and its MAE looks
  best only because most customers spend nothing; predicting 0 already gives 33.0).

For a revenue forecast use BG/NBD × Gamma-Gamma; to rank customers for a campaign, the log-spend network; to pick a
top decile by revenue, the dollar network.

## Saving and scoring the churn model

The final network is trained on all customers and saved with its input transform; `propensity score` (or
`score::score_csv`) scores any customer file with the table's columns."""),
    C("""let dir = propensity::paths::output_dir("cdnow")?;
let metrics = propensity::serde_json::json!({ "out_of_fold": churn.scores()? });
let (saved, history) = models::train_churn_model(&customers, &ChurnConfig::default(),
    &propensity::paths::data_file(cdnow::FILE)?, metrics)?;
saved.save(dir.join("model.json"))?;
customers.write_csv(dir.join("customers.csv"))?;
let summary = propensity::score::score_csv(&dir.join("model.json"), &dir.join("customers.csv"),
    &dir.join("scores.csv"), Default::default(), &mut |_, _| {})?;
println!("final model: {} epochs; scored {} customers in {:.2} s", history.epochs_run(), summary.rows_scored, summary.seconds);
propensity::display::csv_preview(dir.join("scores.csv"), 5)?"""),
    M("""The spend network is saved the same way; its scores are dollars (`predicted_spend`), mapped back from the
standardized output the network was trained on."""),
    C("""let metrics = propensity::serde_json::json!({ "out_of_fold": spend.regression()? });
let (saved, _) = models::train_spend_model(&customers, &SpendConfig::default(),
    &propensity::paths::data_file(cdnow::FILE)?, metrics)?;
saved.save(dir.join("spend-model.json"))?;
propensity::score::score_csv(&dir.join("spend-model.json"), &dir.join("customers.csv"),
    &dir.join("spend-scores.csv"), Default::default(), &mut |_, _| {})?;
propensity::display::csv_preview(dir.join("spend-scores.csv"), 5)?"""),
])

nb("3.2-clickstream-conversion-and-churn.ipynb", [
    M("""# 3.2 Clickstream: in-session conversion and user churn

31,106 events of 3,605 sessions by 600 users of an electronics shop (January–June 2024): page views, searches,
cart and checkout steps, purchases, errors. Two questions: **will this session end in a purchase**, asked while it
is still running, and **will this user come back** in the next 30 days.

**Leakage rule.** A prediction uses only what was known when it is made.
* Conversion is predicted at the **5th event** of sessions that have at least 5 events and no purchase among them,
  from those 5 events — counts per event type, where the first add-to-cart came, seconds elapsed — plus the session's
  context (platform, channel, lifecycle stage, hour) and the user's earlier sessions (started before this one; a
  purchase counts only if it happened before this session started). Windows such as "everything before add_to_cart"
  leak: a session without add_to_cart never converts, and unconverted sessions would be seen whole (the peers measured
  ~0.85 AUC for that reason). The test `a_future_event_cannot_change_a_feature` appends later events and checks
  that no feature changes.
* Churn at a cutoff uses sessions started before it; the label is "no session in the 30 days from the cutoff".
  The model trains on the 2024-05-01 snapshot and is tested on 2024-05-31.

Conversion sessions are split in time: those starting before 2024-05-15 train, later ones test."""),
    C(DEP),
    C("""use propensity::{clickstream::{self, ClickConfig}, eda::Eda, paths};
let file = paths::data_file(clickstream::FILE)?;
let events = clickstream::read(&file)?;
let sessions = clickstream::sessions(&events);
println!("{} events, {} sessions, {} with a purchase", events.len(), sessions.len(),
    sessions.iter().filter(|s| s.converted()).count());"""),
    M("""## The raw events at a glance

The automatic EDA on the gzipped event log, with the event type as the target: its class balance is the funnel
(many views, few purchases) and the columns associated with it (session id and timestamp are profiled but not
ranked)."""),
    C("""Eda::of_csv(&file, Some("event"), &["session_id", "timestamp"])?"""),
    M("""The log has no missing values but 30 exact duplicate events (same user, session, event and second). They are
kept: the session and purchase counts then match the peers', and a repeated page view in the same second changes a
count feature by one. Which *user* an event comes from says more about its type (Cramér's V 0.14) than platform,
channel or cohort (≤ 0.05): behaviour is personal, which is why the models use the user's history."""),
    M("""## Conversion at the 5th event

Two networks on the same 34 inputs: a logistic network (one dense layer, softmax — logistic regression trained with
Adam and early stopping) and a 34 → 16 → 2 MLP. The 95 % intervals are percentile bootstraps of the test AUC
(1,000 resamples). Peers on the same split: logistic regression AUC 0.779 (AP 0.469), gradient boosting 0.771."""),
    C("""let cfg = ClickConfig::default();
clickstream::conversion(&events, &cfg)?"""),
    M("""The logistic network ties the best peer (0.779, the peer's number sits in the middle of our interval). The MLP
is no better: with 1,576 training sessions and 5 events each, a linear score on the counts is as much as the data
support. The top-decile lift of ≈ 3.4 means that the 10 % of running sessions the model flags convert at half the
time — a reasonable trigger for a checkout nudge.

## User churn in the next 30 days"""),
    C("""clickstream::churn(&events, &cfg)?"""),
    M("""The logistic network (0.695) is above the peer's logistic regression (0.676), inside each other's intervals. The
MLP overfits the 535 training users badly (0.57) even with early stopping: small tabular data favour the linear
model, and the table shows it rather than hiding it.

## Saving and scoring

Each task's logistic network is saved with its scaler and the names of its inputs; the task's rows are written as
a feature file (id, inputs, label), which `propensity score` — here `score::score_csv` — scores like any other
customer file."""),
    C("""use clickstream::Task;
let dir = paths::output_dir("clickstream")?;
let (saved, test) = clickstream::train_model(&events, Task::Conversion, &cfg, &file)?;
saved.save(dir.join("conversion-model.json"))?;
test.write_csv(dir.join("conversion-test.csv"), Task::Conversion)?;
propensity::score::score_csv(&dir.join("conversion-model.json"), &dir.join("conversion-test.csv"),
    &dir.join("conversion-scores.csv"), Default::default(), &mut |_, _| {})?;
propensity::display::csv_preview(dir.join("conversion-scores.csv"), 5)?"""),
])

nb("3.3-kpi-supervised-segments.ipynb", [
    M("""# 3.3 KPI-supervised segments

Marketing segments should group customers who **behave alike** and whose **value differs** from segment to segment.
Plain k-means on behaviour finds the first but ignores the second. Here a segment is a leaf of a regression tree
grown on the same behaviour features but *fitted to the KPI* — log(1 + holdout spend) — best first to *k* leaves,
with every leaf holding at least 2 % of the customers (an unconstrained tree on raw spend isolates a handful of
extreme buyers). Each segment is then a readable rule on behaviour.

Behaviour: repeat purchase days, recency and age (weeks), CDs per purchase day, days between purchases —
z-scored over all customers. Scores, for both methods with k = 4:
* **behaviour silhouette** (exact, all 23,570 customers): how alike customers of a segment are;
* **η²** of the KPI: the share of its variance between segments — in sample, and **out of sample** (fit on four folds
  of `customer_id mod 5`, η² in the fifth, mean of the five).

Peers (scikit-learn, same features and folds): k-means silhouette 0.336, out-of-sample η² of log(1 + KPI) 0.245;
regression tree on log(1 + KPI) 0.274 with silhouette 0.310."""),
    C(DEP),
    C("""use propensity::cdnow::{self, segments::{compare, SegmentConfig}};
let customers = cdnow::load_default()?;
let cmp = compare(&customers, &SegmentConfig::default())?;
cmp"""),
    M("""The KPI tree trades a little behavioural tightness (silhouette 0.310 vs 0.336) for segments that separate value
much better: out of sample it explains 0.274 of the variance of log-spend against 0.242 for k-means, and 0.150 vs
0.126 of the raw spend. Its smallest segment holds 7.6 % of the customers (5.1 % in the worst fold), far above
the 2 % floor.

## The segments, for a marketer"""),
    C("""cmp.kpi_tree.clone()"""),
    C("""for s in &cmp.kpi_tree.segments {
    println!("segment {} [{}]\\n  {}", s.segment, s.rule.as_deref().unwrap_or(""), s.description);
}"""),
    M("""Segments are numbered by their mean holdout spend. Recency here is the time from a customer's first to last
calibration purchase, in weeks.

* **Segment 0 — loyal regulars** (7.6 %): at least four repeat purchase days spread over more than ten weeks, the
  last about six weeks before the cutoff. Four in five buy again, spending $186 on average — 5.6× the mean. Retain
  them (early access, service); they do not need discounts.
* **Segment 1 — occasional returners** (19.3 %): one to three repeat days spread over more than ten weeks, the last
  about eleven weeks before the cutoff. 57 % buy again ($53, 1.6× the mean): the best audience for a "come back
  for more" incentive.
* **Segment 2 — lapsed early repeaters** (9.0 %): came back within a few weeks of their first purchase, then
  stopped — the last purchase is half a year old. One in three still returns ($28); a win-back campaign with a
  modest offer.
* **Segment 3 — one-time buyers** (64.1 %): bought on a single day (or again within two weeks) early in 1997. Only
  15 % return and they spend $10 on average; keep them on cheap channels (newsletters), not paid ones.

The k-means segments for comparison: one premium segment like the tree's first (6.4 %), one broad segment of all
other repeat buyers (33.7 %, $43), and the one-time buyers split **by join date** into two segments of the same
value ($9.48 and $8.78) — alike in behaviour, but useless for deciding where to spend a marketing budget."""),
    C("""cmp.kmeans.clone()"""),
])

nb("3.4-churn-autotuning.ipynb", [
    M("""# 3.4 Autotuning the churn network

`cdnow::tune` searches learning rate, batch size, early-stopping patience, class weighting (none or balanced) and
the architecture (17-32-16-2, 17-64-32-2, 17-16-2, logistic) with **successive halving**: 18 seeded random
configurations get a budget of 22 epochs, the best third moves on with 66, and the best third of those trains with
the full 200. Each candidate is scored by 3-fold cross-validated ROC AUC.

The search only sees the customers of folds 0–3 (`customer_id mod 5 ≠ 4`). Fold 4 is kept for the final check:
the chosen and the default configurations are both trained on folds 0–3 and scored on it."""),
    C(DEP),
    C("""use propensity::cdnow::{self, tune::{tune, TuneConfig}};
let customers = cdnow::load_default()?;
let report = tune(&customers, &TuneConfig::default())?;
report.check_table()"""),
    C("""report.table()"""),
    M("""**Reading the search.** The cross-validated AUCs of very different configurations lie within ±0.002 of each other
(only a slow learning rate with big batches and little patience falls behind), and on the untouched fold 4 the tuned
configuration is no better than the default. The churn signal in these 17 features is captured by almost any
reasonable network; more signal would have to come from new features, not from hyperparameters.

The chosen configuration is saved as JSON and is what `propensity cdnow churn --config` reads:"""),
    C("""let dir = propensity::paths::output_dir("cdnow")?;
report.save_best(dir.join("churn-config.json"))?;
println!("{}", std::fs::read_to_string(dir.join("churn-config.json"))?);"""),
])
print("wrote 5 notebooks")
