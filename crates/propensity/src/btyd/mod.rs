//! "Buy till you die" models of repeat purchasing, fitted by maximum likelihood on a customer
//! summary — the model family of lifetimes, BTYD and PyMC-Marketing's CLV module, with the same
//! parameterisations and likelihoods so the numbers compare:
//!
//! - [`BgNbd`] (Fader, Hardie & Lee 2005), [`ModifiedBgNbd`] (Batislam et al. 2007) and
//!   [`ParetoNbd`] (Schmittlein, Morrison & Colombo 1987) on continuous-time summaries
//!   (frequency x, recency t_x, age T);
//! - [`BgBb`] (Fader, Hardie & Shang 2010) on discrete opportunities (x, t_x, n);
//! - [`GammaGamma`] for spend per transaction.
//!
//! Customers with the same summary contribute the same likelihood term, so they are grouped
//! ([`Summary`]) and each group is evaluated once, weighted by its size. Gradients and Hessians
//! are exact (forward-mode [`dual`] and [`hyperdual`] numbers through ln Γ and ₂F₁); the
//! optimiser takes Newton steps on the log of the parameters (argmin's L-BFGS for Pareto/NBD,
//! whose Hessian costs many gradients), and the standard errors come from the observed
//! information (the exact Hessian of the log-likelihood at the estimates), as lifetimes reports
//! them.
//!
//! ```
//! use propensity::btyd::{generate, BgNbd};
//! // 2,000 customers drawn from known parameters (a summary: x repeat purchases, the last at t_x,
//! // first purchase T weeks ago); the fit recovers them within a few standard errors
//! let truth = BgNbd { r: 0.25, alpha: 4.8, a: 0.72, b: 2.16 };
//! let data = generate::bgnbd(&truth, 2_000, 7, 84, 273, 7).unwrap();
//! let fit = BgNbd::fit(&data).unwrap();
//! assert!((fit.params.r - truth.r).abs() < 3.0 * fit.std_errors.r);
//! assert!(fit.log_likelihood >= truth.log_likelihood(&data));
//! assert_eq!(fit.params.p_alive(0.0, 0.0, 38.0), 1.0); // BG/NBD: a one-time buyer is "alive"
//! ```

pub mod bgbb;
pub mod bgnbd;
pub mod charts;
pub mod compare;
mod counts;
pub mod dual;
pub mod fit;
pub mod gamma_gamma;
pub mod generate;
pub mod hyperdual;
pub mod mbgnbd;
pub mod pareto;
pub mod repeat;
pub mod summary;

pub use bgbb::BgBb;
pub use bgnbd::BgNbd;
pub use dual::hyp2f1;
pub use fit::{Fit, Model};
pub use gamma_gamma::GammaGamma;
pub use mbgnbd::ModifiedBgNbd;
pub use pareto::ParetoNbd;
pub use repeat::{Fitted, RepeatModel};
pub use summary::Summary;
