//! The generated transaction log is the customer base `btyd::generate::bgnbd` summarises, purchase
//! by purchase, and its Parquet and CSV forms hold the same rows.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use propensity::btyd::generate;
use propensity::clv::{LogColumns, Period, TransactionLog};
use propensity_arrow::generate::{write_transactions, LogSpec};

#[test]
fn the_logs_daily_summary_is_the_generators_and_parquet_equals_csv() {
    let dir = tempfile::tempdir().unwrap();
    let spec = LogSpec { customers: 20_000, seed: 3, ..LogSpec::default() };
    let (csv, parquet) = (dir.path().join("log.csv"), dir.path().join("log.parquet"));
    let rows = write_transactions(&csv, &spec).unwrap();
    assert_eq!(write_transactions(&parquet, &spec).unwrap(), rows);
    // summarised by the CLV code, day by day up to the window's end: bgnbd's summary exactly
    let columns = LogColumns { amount: Some("amount".into()), ..LogColumns::new("customer_id", "date") };
    let log = TransactionLog::read_csv(&csv, &columns).unwrap();
    assert_eq!(log.lines as u64, rows);
    assert_eq!(log.ids.len(), 20_000);
    let summary = log.summarise(Period::Day, spec.end(), None).unwrap();
    let drawn = generate::bgnbd(&spec.model, 20_000, 7, spec.cohort_days, spec.observed_days, spec.seed).unwrap();
    assert_eq!(summary.btyd().unwrap(), drawn);
    // the mean amount is Gamma-Gamma's p·v / (q − 1) = $35.13 up to sampling (20,000 customers)
    let mean = log.days.iter().map(|d| d.amount).sum::<f64>() / rows as f64;
    assert!((mean - 35.13).abs() < 2.0, "{mean}");
    // the Parquet file holds the same rows, typed
    let file = std::fs::File::open(&parquet).unwrap();
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines().skip(1);
    for b in &batches {
        let (ids, days, amounts) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_primitive::<Date32Type>(),
            b.column(2).as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            let line = lines.next().unwrap();
            let date = propensity::calendar::format_date(i64::from(days.value(i)));
            assert_eq!(line, format!("{},{date},{:.2}", ids.value(i), amounts.value(i)));
        }
    }
    assert!(lines.next().is_none());
}
