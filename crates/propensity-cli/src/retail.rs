//! `propensity retail …`: generate the orders and sessions tables, train and evaluate the
//! next-category network, and segment customers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use propensity::retail::{self, clean, features, generate, network, segment};
use propensity::saved::ModelCard;
use propensity::train::{KerasLogger, Trainer};

#[derive(Subcommand)]
pub enum Command {
    /// Generate the seeded orders and online-sessions tables (with their quality problems) and
    /// the ground truth (hidden segments, true category probabilities).
    Generate(GenerateArgs),
    /// Clean the tables, build the modelling file, train the multi-input network with early
    /// stopping and evaluate it on held-out customers; writes model.json, history.json,
    /// curves.svg, report.json, report.svg and modelling_test.csv (for `propensity score`).
    Train(TrainArgs),
    /// Evaluate a saved model on the held-out customers of the same split.
    Evaluate(EvaluateArgs),
    /// Autoencoder + k-means segments with their profiles, t-SNE map and agreement with the
    /// hidden segments; writes segments.csv, k.svg, tsne.svg and curves.svg.
    Segment(SegmentArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Size relative to the default ≈ 20k customers / 250k sessions / 60k order lines.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Output folder [default: out/retail/data].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct DataArgs {
    /// Folder with online.csv and orders.csv (and the truth files) [default: out/retail/data,
    /// generated with the defaults if missing].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seed of the 80/10/10 split of customers.
    #[arg(long, default_value_t = 42)]
    split_seed: u64,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Training seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "out/retail")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// A model.json written by `propensity retail train`.
    #[arg(long)]
    model: PathBuf,
}

#[derive(clap::Args)]
pub struct SegmentArgs {
    /// Folder with the tables [default: out/retail/data, generated if missing].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Number of segments [default: the best silhouette for k in 2..=8].
    #[arg(long)]
    k: Option<usize>,
    /// Seed (autoencoder, k-means, samples).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Customers in the (exact) t-SNE map.
    #[arg(long, default_value_t = 1000)]
    tsne_sample: usize,
    /// Output folder.
    #[arg(long, default_value = "out/retail")]
    out: PathBuf,
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Generate(args) => generate_tables(&args),
        Command::Train(args) => train(args),
        Command::Evaluate(args) => evaluate(args),
        Command::Segment(args) => segment_customers(args),
    }
}

/// `propensity retail generate` and `propensity generate orders-sessions`.
pub fn generate_tables(args: &GenerateArgs) -> Result<()> {
    let started = Instant::now();
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => retail::default_data_dir()?,
    };
    let cfg = generate::GeneratorConfig { seed: args.seed, ..generate::GeneratorConfig::scaled(args.scale) };
    let g = generate::generate_into(&dir, &cfg)?;
    println!(
        "wrote {} customers, {} session rows and {} order lines to {} in {:.1} s",
        g.segments.len(),
        g.sessions.len(),
        g.orders.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn data_dir(data: &Option<PathBuf>) -> Result<PathBuf> {
    Ok(match data {
        Some(d) => d.clone(),
        None => {
            let dir = retail::default_data_dir()?;
            if retail::ensure_generated(&dir, &generate::GeneratorConfig::default())? {
                println!("generated the default tables into {}", dir.display());
            }
            dir
        }
    })
}

/// Cleans the tables and builds the prepared modelling file.
fn prepare(data: &DataArgs) -> Result<(PathBuf, features::ModellingFile, features::Prepared)> {
    let dir = data_dir(&data.data)?;
    let clean = clean::read_and_clean(&dir)?;
    let r = &clean.report;
    println!(
        "{}: sessions {} → {} ({} duplicates, {} anonymous, {} event1 filled), orders {} → {} ({} duplicates, \
         {} with revenue ≤ 0), {} US-format dates",
        dir.display(),
        r.sessions_in,
        r.sessions_out,
        r.session_duplicates,
        r.anonymous_sessions,
        r.event1_filled,
        r.orders_in,
        r.orders_out,
        r.order_duplicates,
        r.non_positive_revenue,
        r.us_dates
    );
    let file = features::ModellingFile::build(&clean, &features::FeatureConfig::default())?;
    let prepared = features::prepare(&file, data.split_seed)?;
    println!(
        "modelling file: {} customer-months × {} inputs; train {} / validation {} / test {} rows",
        file.len(),
        features::INPUTS,
        prepared.train.len(),
        prepared.validation.len(),
        prepared.test.len()
    );
    Ok((dir, file, prepared))
}

fn truth(dir: &Path) -> Result<Option<network::Truth>> {
    let path = dir.join(retail::PROBABILITIES_FILE);
    Ok(if path.is_file() { Some(network::Truth::read(&path)?) } else { None })
}

fn train(args: TrainArgs) -> Result<()> {
    let (dir, file, prepared) = prepare(&args.data)?;
    let config = network::train_config(args.seed);
    let mut trainer = Trainer::new(config.clone())?.callback(KerasLogger::stdout());
    let fitted = network::fit(&prepared, &mut trainer)?;
    let h = &fitted.history;
    let best = h.best_epoch.map_or(String::new(), |b| format!(" (best epoch {b})"));
    println!("{} epochs in {:.2} s{best}", h.epochs_run(), h.seconds);
    let report = network::CategoryReport::evaluate(&fitted.model, &file, &prepared, truth(&dir)?.as_ref())?;
    println!("{report}");
    print_means(&report);
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let metrics = serde_json::to_value(&report)?;
    let card = ModelCard::new(dir.join(retail::ORDERS_FILE), &config, metrics)?;
    network::saved_model(&fitted.model, &prepared.scaler, card).save(out.join("model.json"))?;
    h.save_json(out.join("history.json"))?;
    propensity::plot::training_curves(h)?.save(out.join("curves.svg"))?;
    report.plot()?.save(out.join("report.svg"))?;
    propensity::io::write_bytes_atomic(&out.join("report.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    file.subset(&prepared.test_rows).save_csv(out.join("modelling_test.csv"))?;
    println!(
        "wrote model.json, history.json, curves.svg, report.json, report.svg and modelling_test.csv to {}",
        out.display()
    );
    Ok(())
}

fn print_means(report: &network::CategoryReport) {
    let oracle = report.oracle.as_ref().map_or(String::new(), |o| {
        format!(", oracle (true probabilities) AUC {:.3} AP {:.3}", o.mean_auc(), o.mean_ap())
    });
    println!(
        "mean AUC {:.3} / AP {:.3}; baseline AUC {:.3} / AP {:.3}{oracle}",
        report.model.mean_auc(),
        report.model.mean_ap(),
        report.baseline.mean_auc(),
        report.baseline.mean_ap()
    );
}

fn evaluate(args: EvaluateArgs) -> Result<()> {
    let (model, _) = propensity::saved::load(&args.model)?;
    let (dir, file, prepared) = prepare(&args.data)?;
    let report = network::CategoryReport::evaluate(&model, &file, &prepared, truth(&dir)?.as_ref())?;
    println!("{report}");
    print_means(&report);
    Ok(())
}

fn segment_customers(args: SegmentArgs) -> Result<()> {
    let dir = data_dir(&args.data)?;
    let clean = clean::read_and_clean(&dir)?;
    let profiles = features::Profiles::of(&clean);
    let cfg = segment::SegmentConfig { k: args.k, seed: args.seed, ..Default::default() };
    let started = Instant::now();
    let s = segment::segment(&profiles, &cfg)?;
    println!(
        "{} customers; autoencoder {} epochs in {:.2} s; k-means for k = {}..={} in {:.2} s in all",
        s.custno.len(),
        s.history.epochs_run(),
        s.train_seconds,
        cfg.k_min,
        cfg.k_max,
        started.elapsed().as_secs_f64()
    );
    for c in &s.choices {
        println!("  k = {}: silhouette {:.3}, inertia {:.2}", c.k, c.silhouette, c.inertia);
    }
    println!("chosen k = {}", s.k);
    println!("{}", s.profile_table());
    let truth_file = dir.join(retail::SEGMENTS_FILE);
    if truth_file.is_file() {
        let names: Vec<&str> = generate::SEGMENTS.iter().map(|p| p.name).collect();
        let agreement = s.agreement(&segment::read_segments(&truth_file)?, &names)?;
        println!("{}", agreement.table());
    }
    let map = s.tsne(args.tsne_sample, args.seed)?;
    println!("t-SNE of {} customers in {:.2} s", map.labels.len(), map.seconds);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    map.plot("t-SNE of the customer embeddings")?.save(args.out.join("tsne.svg"))?;
    s.k_plot()?.save(args.out.join("k.svg"))?;
    propensity::plot::training_curves(&s.history)?.save(args.out.join("autoencoder_curves.svg"))?;
    let mut csv = String::from("custno,segment\n");
    for (c, l) in s.custno.iter().zip(&s.labels) {
        csv += &format!("{c},{}\n", l + 1);
    }
    propensity::io::write_bytes_atomic(&args.out.join("segments.csv"), csv.as_bytes())?;
    println!("wrote segments.csv, k.svg, tsne.svg and autoencoder_curves.svg to {}", args.out.display());
    Ok(())
}
