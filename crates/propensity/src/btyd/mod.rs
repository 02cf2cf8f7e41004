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
//! ([`Summary`]) and each group is evaluated once, weighted by its size. The gradient is exact
//! (forward-mode [`dual`] numbers through ln Γ and ₂F₁), the optimiser is argmin's L-BFGS on the
//! log of the parameters, and the standard errors come from the observed information (the
//! Hessian of the log-likelihood, by central differences of the exact gradient), as lifetimes
//! reports them.
//!
//! ```
//! use propensity::btyd::{BgNbd, Summary};
//! // x repeat purchases, the last at t_x, first purchase T weeks ago
//! let (x, tx, t) = ([0.0, 2.0, 5.0, 1.0, 0.0], [0.0, 10.0, 30.0, 4.0, 0.0], [38.0, 20.0, 35.0, 30.0, 12.0]);
//! let data = Summary::new(&x, &tx, &t).unwrap();
//! let fit = BgNbd::fit(&data).unwrap();
//! assert!(fit.log_likelihood >= BgNbd { r: 1.0, alpha: 1.0, a: 1.0, b: 1.0 }.log_likelihood(&data));
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
