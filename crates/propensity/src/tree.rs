//! A regression tree grown best first (scikit-learn's `DecisionTreeRegressor` with
//! `max_leaf_nodes`): the leaf whose best split lowers the squared error most is split next, until
//! the tree has `max_leaves` leaves or no split is allowed. Leaves are segments: a tree fitted to a
//! KPI gives segments that differ in that KPI, described by readable rules.
//!
//! ```
//! use propensity::tree::{RegressionTree, TreeParams};
//! let x = ndarray::array![[1.0], [2.0], [3.0], [10.0], [11.0], [12.0]];
//! let y = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0];
//! let t = RegressionTree::fit(&x, &y, &TreeParams { max_leaves: 2, min_leaf: 1 }).unwrap();
//! assert_eq!(t.leaves(), 2);
//! assert_eq!(t.predict(&[2.5]), 1.0);
//! assert_eq!(t.rules(&["x"])[1], "x > 6.5");
//! ```

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Growth limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Maximum number of leaves (≥ 2).
    pub max_leaves: usize,
    /// Minimum rows in a leaf (≥ 1).
    pub min_leaf: usize,
}

/// One node: a split or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// Rows with `x[feature] <= threshold` go left.
    Split {
        /// Column index.
        feature: usize,
        /// Midpoint between the two closest values on either side.
        threshold: f64,
        /// Left child's index.
        left: usize,
        /// Right child's index.
        right: usize,
    },
    /// A leaf.
    Leaf {
        /// Leaf number, 0‥leaves−1, in left-to-right order.
        leaf: usize,
        /// Mean target of its training rows.
        value: f64,
        /// Training rows.
        rows: usize,
    },
}

/// A fitted tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionTree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

/// The best split of a leaf: its squared-error reduction and the rows going each way.
struct Split {
    gain: f64,
    feature: usize,
    threshold: f64,
    left: Vec<usize>,
    right: Vec<usize>,
}

struct Candidate {
    node: usize,
    split: Option<Split>,
}

impl RegressionTree {
    /// Fits the tree to `y` on the columns of `x`.
    pub fn fit(x: &Array2<f64>, y: &[f64], params: &TreeParams) -> Result<RegressionTree> {
        if x.nrows() != y.len() || y.is_empty() {
            return Err(Error::Data(format!("{} rows of inputs for {} targets", x.nrows(), y.len())));
        }
        if params.max_leaves < 2 || params.min_leaf < 1 {
            return Err(Error::Config { field: "tree", message: "needs max_leaves ≥ 2 and min_leaf ≥ 1".into() });
        }
        if x.iter().chain(y).any(|v| !v.is_finite()) {
            return Err(Error::Data("tree inputs and targets must be finite".into()));
        }
        let mut nodes = vec![Node::Leaf { leaf: 0, value: mean(y, &(0..y.len()).collect::<Vec<_>>()), rows: y.len() }];
        let root: Vec<usize> = (0..y.len()).collect();
        let mut open = vec![Candidate { node: 0, split: best_split(x, y, &root, params.min_leaf) }];
        let mut leaves = 1;
        while leaves < params.max_leaves {
            // the open leaf with the largest gain; ties go to the earliest
            let Some(pick) = (0..open.len())
                .filter(|&i| open[i].split.is_some())
                .max_by(|&a, &b| gain(&open[a]).total_cmp(&gain(&open[b])).then(b.cmp(&a)))
            else {
                break;
            };
            let c = open.swap_remove(pick);
            let Split { feature, threshold, left: left_rows, right: right_rows, .. } =
                c.split.expect("picked a splittable leaf");
            let (left, right) = (nodes.len(), nodes.len() + 1);
            for r in [&left_rows, &right_rows] {
                nodes.push(Node::Leaf { leaf: 0, value: mean(y, r), rows: r.len() });
            }
            nodes[c.node] = Node::Split { feature, threshold, left, right };
            open.push(Candidate { node: left, split: best_split(x, y, &left_rows, params.min_leaf) });
            open.push(Candidate { node: right, split: best_split(x, y, &right_rows, params.min_leaf) });
            leaves += 1;
        }
        let mut tree = RegressionTree { nodes };
        tree.number_leaves();
        Ok(tree)
    }

    /// Numbers the leaves left to right.
    fn number_leaves(&mut self) {
        let mut stack = vec![0];
        let mut next = 0;
        while let Some(i) = stack.pop() {
            match &mut self.nodes[i] {
                Node::Split { left, right, .. } => {
                    stack.push(*right);
                    stack.push(*left);
                }
                Node::Leaf { leaf, .. } => {
                    *leaf = next;
                    next += 1;
                }
            }
        }
    }

    fn leaf_node(&self, row: &[f64]) -> usize {
        let mut i = 0;
        while let Node::Split { feature, threshold, left, right } = self.nodes[i] {
            i = if row[feature] <= threshold { left } else { right };
        }
        i
    }

    /// The leaf number of a row.
    pub fn leaf(&self, row: &[f64]) -> usize {
        match self.nodes[self.leaf_node(row)] {
            Node::Leaf { leaf, .. } => leaf,
            Node::Split { .. } => unreachable!("leaf_node ends at a leaf"),
        }
    }

    /// The leaf of every row of `x`.
    pub fn apply(&self, x: &Array2<f64>) -> Vec<usize> {
        x.rows().into_iter().map(|r| self.leaf(r.as_slice().expect("standard layout"))).collect()
    }

    /// The predicted value of a row (its leaf's training mean).
    pub fn predict(&self, row: &[f64]) -> f64 {
        match self.nodes[self.leaf_node(row)] {
            Node::Leaf { value, .. } => value,
            Node::Split { .. } => unreachable!("leaf_node ends at a leaf"),
        }
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|n| matches!(n, Node::Leaf { .. })).count()
    }

    /// The rule of each leaf in leaf order, with `names` for the columns: per column the tightest
    /// lower and upper bound on the path (`a > 1 and a <= 5`), joined by " and "; "all" for a root leaf.
    pub fn rules(&self, names: &[&str]) -> Vec<String> {
        let mut out = vec![String::new(); self.leaves()];
        // per feature: (greatest lower bound, least upper bound)
        type Bounds = Vec<(Option<f64>, Option<f64>)>;
        let width = self
            .nodes
            .iter()
            .filter_map(|n| if let Node::Split { feature, .. } = n { Some(feature + 1) } else { None })
            .max()
            .unwrap_or(0);
        let mut stack: Vec<(usize, Bounds)> = vec![(0, vec![(None, None); width])];
        while let Some((i, bounds)) = stack.pop() {
            match &self.nodes[i] {
                Node::Split { feature, threshold, left, right } => {
                    let mut l = bounds.clone();
                    l[*feature].1 = Some(l[*feature].1.map_or(*threshold, |u: f64| u.min(*threshold)));
                    let mut r = bounds;
                    r[*feature].0 = Some(r[*feature].0.map_or(*threshold, |v: f64| v.max(*threshold)));
                    stack.push((*right, r));
                    stack.push((*left, l));
                }
                Node::Leaf { leaf, .. } => {
                    let mut parts = Vec::new();
                    for (f, (lo, hi)) in bounds.iter().enumerate() {
                        let name = names.get(f).copied().unwrap_or("?");
                        if let Some(lo) = lo {
                            parts.push(format!("{name} > {}", round(*lo)));
                        }
                        if let Some(hi) = hi {
                            parts.push(format!("{name} <= {}", round(*hi)));
                        }
                    }
                    out[*leaf] = if parts.is_empty() { "all".into() } else { parts.join(" and ") };
                }
            }
        }
        out
    }
}

fn round(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn gain(c: &Candidate) -> f64 {
    c.split.as_ref().map_or(f64::NEG_INFINITY, |s| s.gain)
}

fn mean(y: &[f64], rows: &[usize]) -> f64 {
    rows.iter().map(|&r| y[r]).sum::<f64>() / rows.len() as f64
}

/// The split of `rows` that lowers the squared error most with at least `min_leaf` rows a side.
fn best_split(x: &Array2<f64>, y: &[f64], rows: &[usize], min_leaf: usize) -> Option<Split> {
    let n = rows.len();
    if n < 2 * min_leaf {
        return None;
    }
    let total: f64 = rows.iter().map(|&r| y[r]).sum();
    let base = total * total / n as f64;
    let mut best: Option<(f64, usize, f64)> = None;
    let mut sorted = rows.to_vec();
    for f in 0..x.ncols() {
        sorted.sort_by(|&a, &b| x[[a, f]].total_cmp(&x[[b, f]]));
        let mut left = 0.0;
        for i in 0..n - 1 {
            left += y[sorted[i]];
            let (lo, hi) = (x[[sorted[i], f]], x[[sorted[i + 1], f]]);
            let nl = i + 1;
            if lo == hi || nl < min_leaf || n - nl < min_leaf {
                continue;
            }
            let right = total - left;
            // SSE reduction = Σl²/nl + Σr²/nr − Σ²/n
            let g = left * left / nl as f64 + right * right / (n - nl) as f64 - base;
            if best.is_none_or(|b| g > b.0 + 1e-12 * b.0.abs()) {
                best = Some((g, f, lo + (hi - lo) / 2.0));
            }
        }
    }
    let (g, f, threshold) = best?;
    if g <= 0.0 {
        return None;
    }
    let (left, right): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| x[[i, f]] <= threshold);
    Some(Split { gain: g, feature: f, threshold, left, right })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_leaf_is_respected_and_best_first_picks_the_bigger_gain() {
        // y jumps at x = 50 (big) and at x = 10 (small): with two splits both are found
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let y: Vec<f64> = (0..100)
            .map(|i| {
                if i >= 50 {
                    10.0
                } else if i >= 10 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let t = RegressionTree::fit(&x, &y, &TreeParams { max_leaves: 2, min_leaf: 1 }).unwrap();
        assert_eq!(t.rules(&["x"]), ["x <= 49.5", "x > 49.5"]);
        let t = RegressionTree::fit(&x, &y, &TreeParams { max_leaves: 3, min_leaf: 1 }).unwrap();
        assert_eq!(t.apply(&x).iter().filter(|&&l| l == 0).count(), 10);
        // the leftmost leaf's two upper bounds merge into the tighter one
        assert_eq!(t.rules(&["x"]), ["x <= 9.5", "x > 9.5 and x <= 49.5", "x > 49.5"]);
        // a minimum leaf of 20 rows forbids the x = 9.5 split
        let t = RegressionTree::fit(&x, &y, &TreeParams { max_leaves: 3, min_leaf: 20 }).unwrap();
        let leaves = t.apply(&x);
        assert!((0..t.leaves()).all(|l| leaves.iter().filter(|&&v| v == l).count() >= 20));
    }

    #[test]
    fn a_constant_target_is_not_split() {
        let x = Array2::from_shape_fn((10, 2), |(i, j)| (i * (j + 1)) as f64);
        let t = RegressionTree::fit(&x, &[3.0; 10], &TreeParams { max_leaves: 4, min_leaf: 1 }).unwrap();
        assert_eq!((t.leaves(), t.rules(&["a", "b"])[0].as_str()), (1, "all"));
        assert!(RegressionTree::fit(&x, &[1.0; 3], &TreeParams { max_leaves: 4, min_leaf: 1 }).is_err());
    }
}
