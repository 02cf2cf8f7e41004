//! SMOTE oversampling (Chawla et al. 2002), as `imblearn.over_sampling.SMOTE` with its default
//! `sampling_strategy="auto"`: every class but the largest is topped up to the largest class's
//! size with synthetic rows, each on the segment between a row of the class and one of its `k`
//! nearest neighbours within the class.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Dataset, Error, Result};

/// Oversamples `data` (apply it to the training rows only). The original rows come first, then
/// the synthetic ones; same `seed`, same rows.
///
/// ```
/// use propensity::{resample::smote, Dataset};
/// let x = ndarray::array![[0.0f32, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0], [6.0, 5.0], [5.0, 6.0], [6.0, 6.0], [5.5, 5.5]];
/// let d = Dataset::new(x, vec![0, 0, 0, 1, 1, 1, 1, 1]).unwrap();
/// let r = smote(&d, 2, 2, 1).unwrap();
/// assert_eq!(r.class_counts(2), vec![5, 5]);
/// ```
pub fn smote(data: &Dataset, n_classes: usize, k: usize, seed: u64) -> Result<Dataset> {
    let counts = data.class_counts(n_classes);
    let target = *counts.iter().max().unwrap_or(&0);
    let width = data.features();
    let x = data.inputs();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows: Vec<f32> = x.iter().copied().collect();
    let mut targets = data.targets().to_vec();
    for (c, &count) in counts.iter().enumerate() {
        if count == 0 || count == target {
            continue;
        }
        if count <= k {
            return Err(Error::Data(format!(
                "SMOTE with k = {k} needs more than {k} rows of class {c}, it has {count}"
            )));
        }
        let members: Vec<usize> = (0..data.len()).filter(|&i| data.targets()[i] == c).collect();
        let neighbours: Vec<Vec<usize>> = members
            .iter()
            .map(|&i| {
                let mut d: Vec<(f32, usize)> = members
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| (x.row(i).iter().zip(x.row(j)).map(|(a, b)| (a - b) * (a - b)).sum(), j))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                d.into_iter().take(k).map(|(_, j)| j).collect()
            })
            .collect();
        for _ in 0..target - count {
            let m = rng.gen_range(0..members.len());
            let nb = neighbours[m][rng.gen_range(0..k)];
            let gap: f32 = rng.gen();
            let (a, b) = (x.row(members[m]), x.row(nb));
            rows.extend(a.iter().zip(b).map(|(&p, &q)| p + gap * (q - p)));
            targets.push(c);
        }
    }
    let n = targets.len();
    Dataset::new(ndarray::Array2::from_shape_vec((n, width), rows).expect("rows × width"), targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_rows_lie_between_class_neighbours() {
        // class 0: three points on the x axis; class 1: six points far away
        let x = ndarray::array![
            [0.0f32, 0.0],
            [1.0, 0.0],
            [2.0, 0.0],
            [10.0, 10.0],
            [11.0, 10.0],
            [10.0, 11.0],
            [11.0, 11.0],
            [10.5, 10.5],
            [10.2, 10.8]
        ];
        let d = Dataset::new(x, vec![0, 0, 0, 1, 1, 1, 1, 1, 1]).unwrap();
        let r = smote(&d, 2, 2, 9).unwrap();
        assert_eq!(r.class_counts(2), vec![6, 6]);
        assert_eq!(r.inputs().slice(ndarray::s![..9, ..]), d.inputs().view(), "originals first, unchanged");
        for row in r.inputs().rows().into_iter().skip(9) {
            assert_eq!(row[1], 0.0, "synthetic class-0 rows stay on the segment between class-0 rows");
            assert!((0.0..=2.0).contains(&row[0]));
        }
        assert_eq!(r, smote(&d, 2, 2, 9).unwrap(), "seeded");
        assert!(smote(&d, 2, 3, 9).is_err(), "k must be below the class size");
    }
}
