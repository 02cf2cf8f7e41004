//! The BTYD model family against lifetimes 0.11.3 on the bundled CDNOW summary
//! (`tests/fixtures/make_btyd_fixture.py` → `lifetimes_btyd.json`) and against Fader, Hardie &
//! Shang (2010) on the donations data; recovery of generating parameters; refusals.

mod donations;

use propensity::btyd::{generate, BgBb, BgNbd, Fit, GammaGamma, Model, ModifiedBgNbd, ParetoNbd, Summary};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string("../../tests/fixtures/lifetimes_btyd.json").unwrap()).unwrap()
}

fn cdnow() -> (Summary, Vec<f64>, Vec<f64>) {
    let c = propensity::cdnow::load_default().unwrap();
    let (x, tx, t, m) =
        (c.column(|r| r.frequency), c.column(|r| r.recency), c.column(|r| r.t), c.column(|r| r.monetary));
    let rep: Vec<usize> = (0..x.len()).filter(|&i| x[i] > 0.0 && m[i] > 0.0).collect();
    (Summary::new(&x, &tx, &t).unwrap(), rep.iter().map(|&i| x[i]).collect(), rep.iter().map(|&i| m[i]).collect())
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Prints the fit and checks it converged.
fn report<M: Model<N> + std::fmt::Debug, const N: usize>(fit: &Fit<M>) -> ([f64; N], [f64; N]) {
    eprintln!(
        "{} {:?} se {:?} LL {} iterations {} evaluations {} |g| {:.1e} {:.4} s",
        M::NAME,
        fit.params,
        fit.std_errors,
        fit.log_likelihood,
        fit.iterations,
        fit.evaluations,
        fit.gradient_norm,
        fit.seconds
    );
    assert!(fit.gradient_norm < 1e-5);
    (fit.params.to_array(), fit.std_errors.to_array())
}

/// Parameters to 4 significant digits, the log-likelihood to 1e-3 and (where lifetimes reports
/// them) standard errors to 3 significant digits.
fn agrees<M: Model<N> + std::fmt::Debug, const N: usize>(fit: &Fit<M>, want: &Value) {
    let (p, se) = report(fit);
    for (i, name) in M::PARAMETERS.iter().enumerate() {
        assert!(rel(p[i], want["params"][name].as_f64().unwrap()) < 1e-4, "{} {name}: {}", M::NAME, p[i]);
        if let Some(s) = want["std_errors"][name].as_f64() {
            assert!(rel(se[i], s) < 1e-3, "{} se({name}): {} vs {s}", M::NAME, se[i]);
        }
    }
    let ll = want["log_likelihood"].as_f64().unwrap();
    assert!((fit.log_likelihood - ll).abs() < 1e-3, "{} LL {} vs {ll}", M::NAME, fit.log_likelihood);
}

#[test]
fn bgnbd_mbgnbd_and_gamma_gamma_reproduce_lifetimes_with_standard_errors() {
    let (data, x, m) = cdnow();
    let f = fixture();
    assert_eq!(data.customers(), f["customers"].as_f64().unwrap());
    let (bg, mbg) = (BgNbd::fit(&data).unwrap(), ModifiedBgNbd::fit(&data).unwrap());
    agrees(&bg, &f["bgnbd"]);
    agrees(&mbg, &f["mbgnbd"]);
    // the fit's log-likelihood (on rescaled time, shifted back by ln s · Σ x) is the data's own
    assert!((bg.log_likelihood - bg.params.log_likelihood(&data)).abs() < 1e-7);
    assert!((mbg.log_likelihood - mbg.params.log_likelihood(&data)).abs() < 1e-7);
    agrees(&GammaGamma::fit(&x, &m).unwrap(), &f["gamma_gamma"]);
    // the independence check lifetimes' documentation suggests (pandas corr on the same repeaters)
    let r = GammaGamma::independence(&x, &m);
    assert!((r - f["gamma_gamma"]["frequency_spend_correlation"].as_f64().unwrap()).abs() < 1e-12, "{r}");
}

#[test]
fn pareto_nbd_reproduces_lifetimes() {
    let (data, _, _) = cdnow();
    let fit = ParetoNbd::fit(&data).unwrap();
    agrees(&fit, &fixture()["pareto_nbd"]);
    assert!((fit.log_likelihood - fit.params.log_likelihood(&data)).abs() < 1e-7);
}

#[test]
fn bgbb_reproduces_lifetimes_and_the_paper_on_the_donations_data() {
    let rows = donations::DONATIONS;
    let col = |k: usize| rows.iter().map(|r| [r.0, r.1, r.2][k] as f64).collect::<Vec<_>>();
    let data = BgBb::summary(&col(0), &col(1), &vec![6.0; rows.len()], &col(2)).unwrap();
    assert_eq!(data.customers(), 11_104.0);
    let fit = BgBb::fit(&data).unwrap();
    agrees(&fit, &fixture()["bgbb"]);

    // P(at least one in the next m) = 1 − P(the history continues with m empty opportunities), a ratio of
    // two likelihoods: an exact check of the closed form
    let m = fit.params;
    let ll = |x: f64, tx: f64, n: f64| m.log_likelihood(&BgBb::summary(&[x], &[tx], &[n], &[1.0]).unwrap());
    for (x, tx) in [(6.0, 6.0), (3.0, 5.0), (1.0, 1.0), (0.0, 0.0)] {
        for future in [1_u32, 2, 5] {
            let none = (ll(x, tx, 6.0 + f64::from(future)) - ll(x, tx, 6.0)).exp();
            let got = m.p_any(future, x, tx, 6.0);
            assert!((got - (1.0 - none)).abs() < 1e-12, "{x} {tx} {future}: {got} vs {}", 1.0 - none);
        }
    }
    // the tracking curve and the count distribution agree: E[X(n)] = Σ x P(X(n) = x)
    for n in [1_u32, 6, 11] {
        let mean: f64 = (0..=n).map(|x| f64::from(x) * m.p_purchases(x, n)).sum();
        let want = m.expected_from_first(f64::from(n));
        assert!((mean - want).abs() < 1e-11 * want, "{n}: {mean} vs {want}"); // rounding over n + 1 terms
    }
}

#[test]
fn predictions_match_lifetimes_formulas() {
    let f = fixture();
    let p = |model: &str, k: &str| f[model]["params"][k].as_f64().unwrap();
    let mbg =
        ModifiedBgNbd { r: p("mbgnbd", "r"), alpha: p("mbgnbd", "alpha"), a: p("mbgnbd", "a"), b: p("mbgnbd", "b") };
    let pnbd = ParetoNbd {
        r: p("pareto_nbd", "r"),
        alpha: p("pareto_nbd", "alpha"),
        s: p("pareto_nbd", "s"),
        beta: p("pareto_nbd", "beta"),
    };
    for (id, want) in f["predictions"].as_object().unwrap() {
        let row: Vec<f64> = want["row"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let (x, tx, t) = (row[0], row[1], row[2]);
        let got = [
            ("mbgnbd_p_alive", mbg.p_alive(x, tx, t)),
            ("mbgnbd_expected_52", mbg.expected_transactions(52.0, x, tx, t)),
            ("pareto_p_alive", pnbd.p_alive(x, tx, t)),
            ("pareto_expected_52", pnbd.expected_transactions(52.0, x, tx, t)),
            ("pareto_p_any_52", pnbd.p_any(52.0, x, tx, t)),
        ];
        for (key, v) in got {
            let w = want[key].as_f64().unwrap();
            assert!(rel(v, w) < 1e-8, "{id} {key}: {v} vs {w}");
        }
    }
    let b = &f["bgbb_predictions"];
    let bgbb = BgBb {
        alpha: p("bgbb", "alpha"),
        beta: p("bgbb", "beta"),
        gamma: p("bgbb", "gamma"),
        delta: p("bgbb", "delta"),
    };
    let row: Vec<f64> = b["row"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(rel(bgbb.p_alive(1.0, row[0], row[1], row[2]), b["p_alive_next"].as_f64().unwrap()) < 1e-6);
    assert!(rel(bgbb.expected_transactions(5.0, row[0], row[1], row[2]), b["expected_5"].as_f64().unwrap()) < 1e-6);
}

#[test]
fn a_fit_on_generated_data_recovers_the_generating_parameters() {
    // the CDNOW BG/NBD estimates (lifetimes) generate 200,000 customers, times to the minute
    let truth = BgNbd { r: 0.251624, alpha: 4.788945, a: 0.723433, b: 2.161087 };
    let data = generate::bgnbd(&truth, 200_000, 7 * 24 * 60, 84 * 24 * 60, 357 * 24 * 60, 11).unwrap();
    let fit = BgNbd::fit(&data).unwrap();
    let (p, se) = report(&fit);
    for (i, want) in truth.to_array().iter().enumerate() {
        // within three standard errors
        assert!((p[i] - want).abs() < 3.0 * se[i], "{}: {} ± {} vs {want}", BgNbd::PARAMETERS[i], p[i], se[i]);
    }
}

#[test]
fn data_that_cannot_identify_a_model_is_refused_with_the_reason() {
    let none_repeat = Summary::new(&[0.0, 0.0], &[0.0, 0.0], &[10.0, 20.0]).unwrap();
    let e = BgNbd::fit(&none_repeat).unwrap_err().to_string();
    assert!(e.contains("no customer made a repeat purchase"), "{e}");
    assert!(ParetoNbd::fit(&none_repeat).is_err());
    let e = Summary::new(&[1.0, 2.0], &[3.0, 9.0], &[4.0, 8.0]).unwrap_err().to_string();
    assert!(e.contains("row 2"), "{e}");
    assert!(Summary::new(&[0.0], &[2.0], &[4.0]).is_err()); // recency without repeats
    assert!(GammaGamma::fit(&[1.0, 0.0], &[5.0, 3.0]).unwrap_err().to_string().contains("customer 2"));
}

#[test]
fn bgnbd_and_pareto_nbd_reproduce_the_published_cdnow_sample_estimates() {
    // Fader & Hardie's 1/10 CDNOW sample (2,357 customers, weeks), as lifetimes ships it
    let text = std::fs::read_to_string("../../tests/fixtures/cdnow_sample_summary.csv").unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect()).collect();
    let col = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<_>>();
    let data = Summary::new(&col(0), &col(1), &col(2)).unwrap();
    assert_eq!(data.customers(), 2_357.0);
    let show = |v: [f64; 4], ll: f64| format!("{:.3} {:.3} {:.3} {:.3} LL {:.1}", v[0], v[1], v[2], v[3], ll);
    // Fader, Hardie & Lee (2005), "Counting your customers the easy way", section 5
    let bg = BgNbd::fit(&data).unwrap();
    assert_eq!(show(bg.params.to_array(), bg.log_likelihood), "0.243 4.414 0.793 2.426 LL -9582.4");
    // the same paper's Pareto/NBD benchmark on these data: r = 0.553, α = 10.578, s = 0.606, β = 11.669
    // (β: 11.6676 here and in lifetimes 0.11.3; the paper reports 11.669)
    let p = ParetoNbd::fit(&data).unwrap();
    assert_eq!(show(p.params.to_array(), p.log_likelihood), "0.553 10.578 0.606 11.668 LL -9595.0");
    assert!((p.params.beta - 11.669).abs() < 1.5e-3);
}
