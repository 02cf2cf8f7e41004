//! Fader, Hardie & Shang (2010), table 1 (lifetimes ships it as donations.csv): 11,104 donors by
//! donations x in 1996–2001 and the year t_x of the last, six annual opportunities — shared by
//! tests/btyd.rs and tests/clv.rs.

/// (x, t_x, donors).
pub const DONATIONS: [(u32, u32, u32); 22] = [
    (6, 6, 1203),
    (5, 6, 728),
    (4, 6, 512),
    (3, 6, 357),
    (2, 6, 234),
    (1, 6, 129),
    (5, 5, 335),
    (4, 5, 284),
    (3, 5, 225),
    (2, 5, 173),
    (1, 5, 119),
    (4, 4, 240),
    (3, 4, 181),
    (2, 4, 155),
    (1, 4, 78),
    (3, 3, 322),
    (2, 3, 255),
    (1, 3, 129),
    (2, 2, 613),
    (1, 2, 277),
    (1, 1, 1091),
    (0, 0, 3464),
];
