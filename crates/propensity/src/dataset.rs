//! [`Dataset`]: model-ready `f32` inputs with class targets, and its `.npz` form;
//! [`DenseDataset`]: inputs with real-valued target rows (multi-label, autoencoder).
//!
//! The `.npz` layout is the Audiobooks exercise's: arrays `inputs` (rows × features, float) and
//! `targets` (rows, integer). Files written by `np.savez` / `np.savez_compressed` load, and the
//! files written here load in numpy.

use std::fs::File;
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpzError};

use crate::{Error, Result};

/// Inputs and class targets, one row each; validated on construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    inputs: Array2<f32>,
    targets: Vec<usize>,
}

impl Dataset {
    /// Checks that there is one target per row and that every input is finite.
    ///
    /// ```
    /// use propensity::Dataset;
    /// let d = Dataset::new(ndarray::array![[0.5f32, 1.0], [2.0, 3.0]], vec![0, 1]).unwrap();
    /// assert_eq!((d.len(), d.features()), (2, 2));
    /// assert!(Dataset::new(ndarray::array![[f32::NAN]], vec![0]).is_err());
    /// ```
    pub fn new(inputs: Array2<f32>, targets: Vec<usize>) -> Result<Dataset> {
        if inputs.nrows() != targets.len() {
            return Err(Error::Data(format!("{} input rows but {} targets", inputs.nrows(), targets.len())));
        }
        if let Some((i, _)) = inputs.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Data(format!("input row {}, column {} is not finite", i.0, i.1)));
        }
        Ok(Dataset { inputs: inputs.as_standard_layout().into_owned(), targets })
    }

    /// Builds a dataset from `f64` inputs (cast to `f32`).
    pub fn from_f64(inputs: &Array2<f64>, targets: Vec<usize>) -> Result<Dataset> {
        Dataset::new(inputs.mapv(|v| v as f32), targets)
    }

    /// The rows `rows` of `x` (cast to `f32`) with their targets from `y`.
    ///
    /// ```
    /// use propensity::Dataset;
    /// let x = ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    /// let d = Dataset::select(&x, &[0, 1, 1], &[2, 0]).unwrap();
    /// assert_eq!(d.inputs(), &ndarray::array![[5.0f32, 6.0], [1.0, 2.0]]);
    /// assert_eq!(d.targets(), &[1, 0]);
    /// ```
    pub fn select(x: &Array2<f64>, y: &[usize], rows: &[usize]) -> Result<Dataset> {
        if x.nrows() != y.len() {
            return Err(Error::Data(format!("{} input rows but {} targets", x.nrows(), y.len())));
        }
        if let Some(&r) = rows.iter().find(|&&r| r >= y.len()) {
            return Err(Error::Data(format!("row {r} is out of range for {} rows", y.len())));
        }
        Dataset::from_f64(&x.select(ndarray::Axis(0), rows), rows.iter().map(|&i| y[i]).collect())
    }

    /// The inputs, rows × features, in standard (row-major) layout.
    pub fn inputs(&self) -> &Array2<f32> {
        &self.inputs
    }

    /// The class index of each row.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Number of input columns.
    pub fn features(&self) -> usize {
        self.inputs.ncols()
    }

    /// Rows per class for classes `0..n_classes`.
    ///
    /// ```
    /// let d = propensity::Dataset::new(ndarray::Array2::zeros((3, 1)), vec![1, 0, 1]).unwrap();
    /// assert_eq!(d.class_counts(2), vec![1, 2]);
    /// ```
    pub fn class_counts(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes.max(self.targets.iter().max().map_or(0, |m| m + 1))];
        for &t in &self.targets {
            counts[t] += 1;
        }
        counts
    }

    /// Reads an `.npz` with arrays `inputs` (2-D, float32 or float64) and `targets` (1-D,
    /// int64, int32 or uint8, non-negative). Errors name the file and what is wrong.
    pub fn load_npz(path: impl AsRef<Path>) -> Result<Dataset> {
        let path = path.as_ref();
        let npz_err = |message: String| Error::Npz { file: path.to_path_buf(), message };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut npz = NpzReader::new(file).map_err(|e| npz_err(format!("not a readable .npz archive ({e})")))?;
        let names = npz.names().map_err(|e| npz_err(e.to_string()))?;
        for wanted in ["inputs", "targets"] {
            if !names.iter().any(|n| n == wanted) {
                return Err(npz_err(format!("no array `{wanted}` (arrays found: {names:?})")));
            }
        }
        let inputs: Array2<f32> = match npz.by_name::<_, ndarray::Ix2>("inputs") {
            Ok(a) => a,
            Err(ReadNpzError::Npy(_)) => npz
                .by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix2>("inputs")
                .map_err(|e| npz_err(format!("`inputs` must be a 2-D float32 or float64 array ({e})")))?
                .mapv(|v| v as f32),
            Err(e) => return Err(npz_err(format!("cannot read `inputs` ({e})"))),
        };
        let targets = read_int_targets(&mut npz).map_err(|m| npz_err(format!("`targets` {m}")))?;
        if inputs.nrows() != targets.len() {
            return Err(npz_err(format!(
                "`inputs` has {} rows but `targets` has {} values",
                inputs.nrows(),
                targets.len()
            )));
        }
        Dataset::new(inputs, targets).map_err(|e| npz_err(e.to_string()))
    }

    /// Writes `inputs` (float32) and `targets` (int64) as an uncompressed `.npz`, like
    /// `np.savez`, atomically (see [`crate::io::write_atomic`]).
    ///
    /// ```
    /// use propensity::Dataset;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("d.npz");
    /// let d = Dataset::new(ndarray::array![[1.5f32, -2.0]], vec![1]).unwrap();
    /// d.save_npz(&path).unwrap();
    /// assert_eq!(Dataset::load_npz(&path).unwrap(), d);
    /// ```
    pub fn save_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let targets: Array1<i64> = self.targets.iter().map(|&t| t as i64).collect();
        crate::io::write_atomic(path, |w| {
            let mut npz = NpzWriter::new(std::io::Cursor::new(Vec::new()));
            let to_io = |e: ndarray_npy::WriteNpzError| std::io::Error::other(e.to_string());
            npz.add_array("inputs", &self.inputs).map_err(to_io)?;
            npz.add_array("targets", &targets).map_err(to_io)?;
            let bytes = npz.finish().map_err(to_io)?.into_inner();
            std::io::Write::write_all(w, &bytes)
        })
    }
}

fn read_int_targets(npz: &mut NpzReader<File>) -> std::result::Result<Vec<usize>, String> {
    let as_usize = |v: Vec<i64>| {
        v.into_iter()
            .enumerate()
            .map(|(i, t)| usize::try_from(t).map_err(|_| format!("holds the negative class {t} at index {i}")))
            .collect()
    };
    match npz.by_name::<ndarray::OwnedRepr<i64>, ndarray::Ix1>("targets") {
        Ok(a) => return as_usize(a.to_vec()),
        Err(ReadNpzError::Npy(_)) => {}
        Err(e) => return Err(format!("cannot be read ({e})")),
    }
    if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<i32>, ndarray::Ix1>("targets") {
        return as_usize(a.iter().map(|&t| t as i64).collect());
    }
    if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<u8>, ndarray::Ix1>("targets") {
        return Ok(a.iter().map(|&t| t as usize).collect());
    }
    Err("must be a 1-D int64, int32 or uint8 array".into())
}

/// Inputs with a row of real-valued targets each: 0/1 indicators for multi-label
/// classification, or the inputs themselves for an autoencoder. Validated on construction.
///
/// ```
/// use propensity::dataset::DenseDataset;
/// let d = DenseDataset::new(ndarray::array![[0.5f32], [2.0]], ndarray::array![[1.0f32, 0.0], [0.0, 1.0]]).unwrap();
/// assert_eq!((d.len(), d.features(), d.outputs()), (2, 1, 2));
/// assert!(DenseDataset::new(ndarray::array![[0.5f32]], ndarray::array![[f32::NAN]]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DenseDataset {
    inputs: Array2<f32>,
    targets: Array2<f32>,
}

impl DenseDataset {
    /// Checks that inputs and targets have the same rows and are all finite.
    pub fn new(inputs: Array2<f32>, targets: Array2<f32>) -> Result<DenseDataset> {
        if inputs.nrows() != targets.nrows() {
            return Err(Error::Data(format!("{} input rows but {} target rows", inputs.nrows(), targets.nrows())));
        }
        for (what, m) in [("input", &inputs), ("target", &targets)] {
            if let Some((i, _)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::Data(format!("{what} row {}, column {} is not finite", i.0, i.1)));
            }
        }
        Ok(DenseDataset {
            inputs: inputs.as_standard_layout().into_owned(),
            targets: targets.as_standard_layout().into_owned(),
        })
    }

    /// An autoencoder's dataset: the targets are the inputs.
    pub fn autoencoder(inputs: Array2<f32>) -> Result<DenseDataset> {
        DenseDataset::new(inputs.clone(), inputs)
    }

    /// The rows `rows`, in that order.
    ///
    /// ```
    /// use propensity::dataset::DenseDataset;
    /// let d = DenseDataset::autoencoder(ndarray::array![[1.0f32], [2.0], [3.0]]).unwrap();
    /// assert_eq!(d.select(&[2, 0]).unwrap().targets(), &ndarray::array![[3.0f32], [1.0]]);
    /// ```
    pub fn select(&self, rows: &[usize]) -> Result<DenseDataset> {
        if let Some(&r) = rows.iter().find(|&&r| r >= self.len()) {
            return Err(Error::Data(format!("row {r} is out of range for {} rows", self.len())));
        }
        Ok(DenseDataset {
            inputs: self.inputs.select(ndarray::Axis(0), rows),
            targets: self.targets.select(ndarray::Axis(0), rows),
        })
    }

    /// The inputs, rows × features, in standard layout.
    pub fn inputs(&self) -> &Array2<f32> {
        &self.inputs
    }

    /// The targets, rows × outputs, in standard layout.
    pub fn targets(&self) -> &Array2<f32> {
        &self.targets
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of input columns.
    pub fn features(&self) -> usize {
        self.inputs.ncols()
    }

    /// Number of target columns.
    pub fn outputs(&self) -> usize {
        self.targets.ncols()
    }

    /// Mean of each target column: for 0/1 labels, the share of rows with each label.
    ///
    /// ```
    /// use propensity::dataset::DenseDataset;
    /// let d = DenseDataset::new(ndarray::array![[0f32], [1.0]], ndarray::array![[1f32, 0.0], [1.0, 1.0]]).unwrap();
    /// assert_eq!(d.target_means(), [1.0, 0.5]);
    /// ```
    pub fn target_means(&self) -> Vec<f64> {
        column_means(&self.targets)
    }
}

/// Mean of each column, accumulated in `f64`.
pub(crate) fn column_means(m: &Array2<f32>) -> Vec<f64> {
    m.columns().into_iter().map(|c| c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn npz_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npz");
        let d = Dataset::new(array![[0.1f32, 2.5, -3.0], [4.0, 5.0, 6.25]], vec![1, 0]).unwrap();
        d.save_npz(&path).unwrap();
        let back = Dataset::load_npz(&path).unwrap();
        assert_eq!(back.inputs(), d.inputs());
        assert_eq!(back.targets(), &[1, 0]);
        // only the final file is left: no temporary beside it
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn npz_missing_array_and_mismatched_lengths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        let mut w = NpzWriter::new(File::create(&path).unwrap());
        w.add_array("inputs", &array![[1.0f64], [2.0]]).unwrap();
        w.finish().unwrap();
        let e = Dataset::load_npz(&path).unwrap_err();
        assert!(matches!(&e, Error::Npz { message, .. } if message.contains("no array `targets`")), "{e}");

        let mut w = NpzWriter::new(File::create(&path).unwrap());
        w.add_array("inputs", &array![[1.0f64], [2.0]]).unwrap();
        w.add_array("targets", &array![1i64, 0, 1]).unwrap();
        w.finish().unwrap();
        let e = Dataset::load_npz(&path).unwrap_err();
        assert!(e.to_string().contains("2 rows but `targets` has 3"), "{e}");

        let mut w = NpzWriter::new(File::create(&path).unwrap());
        w.add_array("inputs", &array![[1.0f64]]).unwrap();
        w.add_array("targets", &array![-1i64]).unwrap();
        w.finish().unwrap();
        assert!(Dataset::load_npz(&path).unwrap_err().to_string().contains("negative"));

        std::fs::write(&path, b"not a zip").unwrap();
        assert!(matches!(Dataset::load_npz(&path).unwrap_err(), Error::Npz { .. }));
        assert!(matches!(Dataset::load_npz(dir.path().join("none.npz")).unwrap_err(), Error::Io { .. }));
    }

    #[test]
    fn lengths_must_match() {
        assert!(Dataset::new(Array2::zeros((2, 1)), vec![0]).is_err());
    }
}
