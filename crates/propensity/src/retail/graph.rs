//! "Products bought together": a directed graph of category co-purchases.
//!
//! An edge `A → B` counts the customers whose order with category `A` was followed, in their
//! next order, by one with category `B` (a different category); node size is the number of
//! customers who ever ordered the category. Same-basket pairs are counted separately.

use std::collections::{BTreeMap, BTreeSet};

use super::clean::CleanData;
use super::{CATEGORIES, CATEGORY_NAMES};
use crate::display::HtmlTable;
use crate::plot::Svg;
use crate::Result;

/// Category co-purchase counts.
#[derive(Debug, Clone, PartialEq)]
pub struct CoPurchases {
    /// `next[a][b]`: customers with an order of `a` followed by a next order with `b` (a ≠ b).
    pub next: [[usize; CATEGORIES]; CATEGORIES],
    /// `basket[a][b]`: orders holding both `a` and `b` (symmetric, a ≠ b).
    pub basket: [[usize; CATEGORIES]; CATEGORIES],
    /// Customers who ever ordered each category.
    pub buyers: [usize; CATEGORIES],
}

impl CoPurchases {
    /// Counts co-purchases in clean orders.
    ///
    /// ```
    /// use propensity::retail::{clean::{clean, RawOrder}, graph::CoPurchases};
    /// let o = |ordno, date: &str, cat: u8| RawOrder { custno: 1, ordno, orderdate: date.into(),
    ///     prodcat2: cat as u16 * 10 + 1, prodcat1: cat, revenue: 5.0 };
    /// let data = clean(vec![], vec![o(1, "2018-01-05 10:00:00", 1), o(1, "2018-01-05 10:00:00", 2),
    ///     o(2, "2018-02-05 10:00:00", 3)]).unwrap();
    /// let g = CoPurchases::of(&data);
    /// assert_eq!((g.basket[0][1], g.next[0][2], g.next[1][2], g.next[2][0]), (1, 1, 1, 0));
    /// ```
    pub fn of(data: &CleanData) -> CoPurchases {
        // per customer, orders in time order with their category sets
        let mut orders: BTreeMap<u64, BTreeMap<(super::clean::DateTime, u64), BTreeSet<usize>>> = BTreeMap::new();
        for o in &data.orders {
            orders.entry(o.custno).or_default().entry((o.at, o.ordno)).or_default().insert(o.category);
        }
        let mut g = CoPurchases {
            next: [[0; CATEGORIES]; CATEGORIES],
            basket: [[0; CATEGORIES]; CATEGORIES],
            buyers: [0; CATEGORIES],
        };
        for seq in orders.values() {
            let baskets: Vec<&BTreeSet<usize>> = seq.values().collect();
            let mut bought = BTreeSet::new();
            let mut pairs = BTreeSet::new();
            for b in &baskets {
                bought.extend(b.iter().copied());
                for &x in b.iter() {
                    for &y in b.iter().filter(|&&y| y != x) {
                        g.basket[x][y] += 1;
                    }
                }
            }
            for w in baskets.windows(2) {
                for &a in w[0].iter() {
                    for &b in w[1].iter().filter(|&&b| b != a) {
                        pairs.insert((a, b));
                    }
                }
            }
            for (a, b) in pairs {
                g.next[a][b] += 1;
            }
            for c in bought {
                g.buyers[c] += 1;
            }
        }
        g
    }

    /// The strongest `top` "bought next" edges as a drawn graph.
    pub fn plot(&self, top: usize) -> Result<Svg> {
        let mut edges: Vec<(usize, usize, f64)> = (0..CATEGORIES)
            .flat_map(|a| (0..CATEGORIES).map(move |b| (a, b)))
            .filter(|&(a, b)| a != b && self.next[a][b] > 0)
            .map(|(a, b)| (a, b, self.next[a][b] as f64))
            .collect();
        edges.sort_by(|x, y| y.2.total_cmp(&x.2));
        edges.truncate(top);
        let names: Vec<String> = CATEGORY_NAMES.iter().map(|s| s.to_string()).collect();
        let sizes: Vec<f64> = self.buyers.iter().map(|&b| b as f64).collect();
        crate::plot::digraph(
            &format!("Bought next: the {} strongest category pairs", edges.len()),
            &names,
            &sizes,
            &edges,
        )
    }

    /// The "bought next" matrix as a table (rows: first category).
    pub fn table(&self) -> HtmlTable {
        let header: Vec<&str> = std::iter::once("first \\ next").chain(CATEGORY_NAMES).chain(["buyers"]).collect();
        let mut t = HtmlTable::new("Customers whose next order had the column's category", &header);
        for (a, name) in CATEGORY_NAMES.iter().enumerate() {
            let mut row = vec![name.to_string()];
            row.extend((0..CATEGORIES).map(|b| if a == b { "–".into() } else { self.next[a][b].to_string() }));
            row.push(self.buyers[a].to_string());
            t.push(row);
        }
        t
    }
}
