//! The Arrow scorer against the streaming CSV scorer it generalises: the same bytes out of the
//! same CSV, the same scores out of a typed Parquet copy, the same bad-row reports, atomic output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float32Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use propensity::audiobooks::{self, PreprocessConfig};
use propensity::loaded::LoadedModel;
use propensity::saved::ModelCard;
use propensity::score::{score_csv, ScoreOptions};
use propensity::train::{TrainConfig, Trainer};
use propensity_arrow::{score_batch, score_file, Error};

/// A short audiobooks training saved to `dir/model.json`, and 5,000 generated customers.
fn model_and_customers(dir: &Path) -> (PathBuf, PathBuf) {
    let raw = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    let prepared = audiobooks::preprocess(&raw, &PreprocessConfig::default()).unwrap();
    let s = &prepared.splits;
    let fitted = Trainer::new(TrainConfig { max_epochs: 3, ..TrainConfig::default() })
        .unwrap()
        .fit(&audiobooks::network(), &s.train, Some(&s.validation))
        .unwrap();
    let card = ModelCard {
        data_file: audiobooks::FILE.into(),
        data_sha256: String::new(),
        created: String::new(),
        crate_version: "test".into(),
        config: TrainConfig::default(),
        metrics: serde_json::Value::Null,
    };
    let model = dir.join("model.json");
    audiobooks::saved_model(&fitted.model, &prepared, card).save(&model).unwrap();
    let customers = dir.join("customers.csv");
    audiobooks::write_synthetic_file(&raw, 5_000, 11, &customers).unwrap();
    (model, customers)
}

/// The CSV as a typed Parquet file, as pyarrow types it: a column of whole numbers as Int64,
/// every other column Float64 (empty → null).
fn to_parquet(csv: &Path, parquet: &Path) {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').map(str::trim).collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let whole: Vec<bool> = (0..names.len())
        .map(|c| rows.iter().map(|r| r[c].trim()).all(|t| t.is_empty() || t.parse::<i64>().is_ok()))
        .collect();
    assert!(whole.iter().filter(|&&w| w).count() >= 3, "the id and some features are whole numbers");
    let fields: Vec<Field> = names
        .iter()
        .zip(&whole)
        .map(|(n, &w)| Field::new(*n, if w { DataType::Int64 } else { DataType::Float64 }, true))
        .collect();
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|c| {
            let cells = rows.iter().map(|r| r[c].trim());
            if whole[c] {
                Arc::new(Int64Array::from_iter(cells.map(|t| t.parse::<i64>().ok()))) as ArrayRef
            } else {
                Arc::new(Float64Array::from_iter(cells.map(|t| t.parse::<f64>().ok())))
            }
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(parquet).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect()
}

fn options(batch_rows: usize, skip_bad: bool) -> ScoreOptions {
    ScoreOptions { batch_rows, skip_bad }
}

#[test]
fn csv_in_csv_out_is_byte_identical_to_the_streaming_scorer_and_parquet_gives_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    let (model_path, customers) = model_and_customers(dir.path());
    let model = LoadedModel::read(&model_path).unwrap();
    let legacy = dir.path().join("legacy.csv");
    score_csv(&model_path, &customers, &legacy, options(8_192, false), &mut |_, _| ()).unwrap();
    let expected = std::fs::read_to_string(&legacy).unwrap();
    assert_eq!(expected.lines().count(), 5_001);
    assert!(expected.starts_with("ID,p_0,p_1,predicted\n"), "{}", &expected[..40]);
    // batches of 777 rows cross batch boundaries: row numbers and ids run on
    for batch_rows in [777, 65_536] {
        let out = dir.path().join("arrow.csv");
        let s = score_file(&model, &customers, &out, options(batch_rows, false), &mut |_, _| ()).unwrap();
        assert_eq!((s.rows_scored, s.rows_skipped), (5_000, 0));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected, "batch_rows {batch_rows}");
    }
    // typed Parquet in, Parquet out, then CSV out: the same scores
    let lake = dir.path().join("customers.parquet");
    to_parquet(&customers, &lake);
    let scored = dir.path().join("scores.parquet");
    score_file(&model, &lake, &scored, options(1_000, false), &mut |_, _| ()).unwrap();
    let batches = read_parquet(&scored);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 5_000);
    let schema = batches[0].schema();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["ID", "p_0", "p_1", "predicted"]);
    // the id passes through as it was
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    // how the scores are stored (files.rs' `output_properties`): ids as deltas with min/max,
    // probabilities uncompressed without min/max, the class names in a dictionary without min/max
    let meta = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&scored).unwrap()).unwrap();
    let chunks = meta.metadata().row_group(0).columns();
    assert!(chunks[0].encodings().contains(&Encoding::DELTA_BINARY_PACKED), "{:?}", chunks[0].encodings());
    assert_eq!(
        (chunks[1].compression(), chunks[2].compression()),
        (Compression::UNCOMPRESSED, Compression::UNCOMPRESSED)
    );
    assert!(chunks[0].statistics().is_some_and(|s| s.min_bytes_opt().is_some()), "ids keep min/max");
    assert!(chunks[1].statistics().is_none() && chunks[2].statistics().is_none(), "probabilities: no min/max");
    assert_eq!(chunks[3].compression(), Compression::SNAPPY);
    assert!(chunks[3].dictionary_page_offset().is_some() && chunks[3].statistics().is_none());
    let from_parquet = dir.path().join("from-parquet.csv");
    score_file(&model, &lake, &from_parquet, options(4_096, false), &mut |_, _| ()).unwrap();
    assert_eq!(std::fs::read_to_string(&from_parquet).unwrap(), expected);
    // and score_batch on the whole table is the same again
    let table = read_parquet(&lake);
    let all = arrow::compute::concat_batches(&table[0].schema(), &table).unwrap();
    let one = score_batch(&model, &all).unwrap();
    let p1 = one.column(2).as_primitive::<Float32Type>();
    let from_file: Vec<f32> =
        batches.iter().flat_map(|b| b.column(2).as_primitive::<Float32Type>().values().to_vec()).collect();
    assert_eq!(p1.values().to_vec(), from_file);
}

#[test]
fn bad_rows_are_reported_as_the_streaming_scorer_reports_them_and_nothing_is_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let (model_path, customers) = model_and_customers(dir.path());
    let model = LoadedModel::read(&model_path).unwrap();
    let text = std::fs::read_to_string(&customers).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = lines[3].replacen(',', ",abc,", 1); // one field too many
    let mut cells: Vec<String> = lines[10].split(',').map(String::from).collect();
    cells[2].insert(0, 'x'); // not a number
    lines[10] = cells.join(",");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (legacy, ours) = (dir.path().join("legacy.csv"), dir.path().join("ours.csv"));
    // stopping at the first: the same message, and the old output is left alone
    std::fs::write(&ours, "old").unwrap();
    let e = score_csv(&model_path, &bad, &legacy, options(64, false), &mut |_, _| ()).unwrap_err().to_string();
    let f = score_file(&model, &bad, &ours, options(64, false), &mut |_, _| ()).unwrap_err().to_string();
    assert_eq!(f, e);
    assert!(f.contains("bad.csv, line 4: expected 12 fields (as the header), found 13"), "{f}");
    assert_eq!(std::fs::read_to_string(&ours).unwrap(), "old");
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"));
    assert_eq!(leftovers.count(), 0);
    // skipping: the same lines and messages, the same output bytes
    let a = score_csv(&model_path, &bad, &legacy, options(64, true), &mut |_, _| ()).unwrap();
    let b = score_file(&model, &bad, &ours, options(64, true), &mut |_, _| ()).unwrap();
    assert_eq!((b.rows_scored, b.rows_skipped), (4_998, 2));
    assert_eq!(b.bad_lines, a.bad_lines);
    assert!(
        b.bad_lines[1].1.starts_with("column `Book length(mins)_avg`: expected a finite number, found \"x"),
        "{:?}",
        b.bad_lines
    );
    assert_eq!(std::fs::read(&ours).unwrap(), std::fs::read(&legacy).unwrap());
}

#[test]
fn a_parquet_rows_problem_names_its_row_and_a_missing_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (model_path, customers) = model_and_customers(dir.path());
    let model = LoadedModel::read(&model_path).unwrap();
    // row 3 has no price (the model fills only the review rating)
    let text = std::fs::read_to_string(&customers).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let cells: Vec<&str> = lines[3].split(',').collect();
    let mut cells: Vec<String> = cells.into_iter().map(String::from).collect();
    cells[3] = String::new();
    lines[3] = cells.join(",");
    // and row 5 no support requests, a column of whole numbers (Int64 in the Parquet file)
    let mut cells: Vec<String> = lines[5].split(',').map(String::from).collect();
    cells[9] = String::new();
    lines[5] = cells.join(",");
    let holed = dir.path().join("holed.csv");
    std::fs::write(&holed, lines.join("\n") + "\n").unwrap();
    let lake = dir.path().join("holed.parquet");
    to_parquet(&holed, &lake);
    let out = dir.path().join("out.parquet");
    let e = score_file(&model, &lake, &out, options(2, false), &mut |_, _| ()).unwrap_err();
    assert!(matches!(e, Error::Row { row: 3, .. }), "{e:?}");
    assert!(
        e.to_string()
            .ends_with("holed.parquet, row 3: column `Price_overall`: missing value (the model has no fill for it)"),
        "{e}"
    );
    assert!(!out.exists());
    let s = score_file(&model, &lake, &out, options(2, true), &mut |_, _| ()).unwrap();
    assert_eq!((s.rows_scored, s.rows_skipped, s.bad_lines[0].0), (4_998, 2, 3));
    assert_eq!(s.bad_lines[1], (5, "column `Support request`: missing value (the model has no fill for it)".into()));
    // a batch without the model's columns
    let schema = Arc::new(Schema::new(vec![Field::new("ID", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    let e = score_batch(&model, &batch).unwrap_err().to_string();
    assert!(e.starts_with("the batch: the model needs columns [\"Book length(mins)_overall\""), "{e}");
}

#[test]
fn parquet_scores_come_in_row_groups_of_131072_rows() {
    // files.rs' `ROW_GROUP`: the last group is written after the last row is scored, so a
    // smaller group ends the run sooner
    let dir = tempfile::tempdir().unwrap();
    let (model_path, _) = model_and_customers(dir.path());
    let model = LoadedModel::read(&model_path).unwrap();
    let raw = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    let customers = dir.path().join("many.csv");
    audiobooks::write_synthetic_file(&raw, 140_000, 12, &customers).unwrap();
    let out = dir.path().join("scores.parquet");
    score_file(&model, &customers, &out, options(65_536, false), &mut |_, _| ()).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap();
    let groups: Vec<i64> = meta.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [131_072, 8_928]);
}
