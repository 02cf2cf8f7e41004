//! Small matrix products as one kernel on AVX2 + FMA or AVX-512, with `gemm`'s numbers: a dense
//! block's forward pass, `activation(x · Wᵀ + b)`, with the bias and the ReLU applied in
//! registers as each tile of outputs is stored, and the backward pass's products, added to their
//! destination. The left operand is read in place by its strides and the right one by rows,
//! where `gemm` packs both on every call.
//!
//! **Same numbers as `gemm`.** `gemm` 0.15's microkernels start each output at zero and add its
//! products one after the other with a fused multiply-add, in one pass when the depth is at most
//! its block depth ([`ONE_PASS_DEPTH`]), then store the sum (`beta` = 1) or add it to the
//! destination (`alpha` = 1). This kernel does exactly that for every output, whatever the tile
//! it falls in and whatever the vector width (a fused multiply-add rounds each lane alone), so
//! its results are `gemm`'s bit for bit wherever `gemm` uses those microkernels (tested on
//! random shapes on both instruction sets, and by the training step's test against dfdx's
//! tape). `gemm` takes other paths for a depth of at most 2 and for a single row or column;
//! [`product`] declines those, as it does on a CPU without AVX2 and FMA, and the caller calls
//! `gemm`.
//!
//! **Why.** The audiobooks network is 10-50-50-2: `gemm` spends more on packing and on its
//! general tiling than on products this small. This kernel keeps 12 (AVX2) or 24 (AVX-512)
//! accumulators in registers and writes each output once; `gemm` 0.15 uses AVX-512 only with its
//! `nightly` feature (see the scoring and training figures in the README).
//!
//! **Narrow columns.** Outputs are vectors along a row, so columns that do not fill a vector
//! (the last 2 of 50 units, or a 2-unit output layer) would leave most lanes idle: there the
//! rows go in the lanes instead (`row_lanes`), reading the left operand's column as one vector
//! where its rows are adjacent (the weight gradients' `gradᵀ`), else transposing squares of it.
//! On the audiobooks step this took the kernel's products from 12.8 to 9.4 µs (2026-12-04).

use crate::layers::ONE_PASS_DEPTH;
use crate::network::{Activation, DenseBlock};

/// Rows below which [`product`] does not split its rows between threads.
const PARALLEL_ROWS: usize = 256;

/// The vector instructions the kernel runs on (none off x86-64, where `gemm` runs every product).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Isa {
    /// 8 lanes, 16 registers.
    Avx2,
    /// 16 lanes, 32 registers: twice the products per instruction, the same numbers.
    Avx512,
}

/// The operands of `lhs (m × k) · rhs (k × n)`: `lhs[r, p]` at `r · lhs_rs + p · lhs_cs`,
/// `rhs[p, j]` at `p · rhs_rs + j` (rows contiguous).
#[derive(Clone, Copy)]
pub(crate) struct Operands<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lhs: &'a [f32],
    pub lhs_rs: usize,
    pub lhs_cs: usize,
    pub rhs: &'a [f32],
    pub rhs_rs: usize,
}

/// What becomes of each sum `s` of products.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Then<'a> {
    /// `dst = s`.
    Store,
    /// `dst = dst + s`.
    Add,
    /// `dst = s + bias[j]`, then `max(·, 0)` when `relu`.
    Bias { bias: &'a [f32], relu: bool },
}

/// `dst[r · dst_rs + j] = then(Σ_p lhs[r, p] · rhs[p, j])` by the kernel, its rows split between
/// threads under `Parallelism::Rayon` from 512 rows; `false` (and nothing written) where `gemm`
/// would take another path or the CPU lacks the instructions.
pub(crate) fn product(
    ops: Operands<'_>,
    then: Then<'_>,
    dst: &mut [f32],
    dst_rs: usize,
    parallelism: gemm::Parallelism,
) -> bool {
    match isa() {
        Some(isa) => product_on(isa, ops, then, dst, dst_rs, parallelism),
        None => false,
    }
}

fn product_on(
    isa: Isa,
    ops: Operands<'_>,
    then: Then<'_>,
    dst: &mut [f32],
    dst_rs: usize,
    parallelism: gemm::Parallelism,
) -> bool {
    let Operands { m, n, k, lhs, lhs_rs, lhs_cs, rhs, rhs_rs } = ops;
    if m < 2 || n < 2 || !(3..=ONE_PASS_DEPTH).contains(&k) {
        return false;
    }
    assert!(lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs, "left operand too short");
    assert!(rhs.len() >= (k - 1) * rhs_rs + n, "right operand too short");
    assert!(dst.len() >= (m - 1) * dst_rs + n && dst_rs >= n, "destination too short");
    if let Then::Bias { bias, .. } = then {
        assert!(bias.len() >= n, "a bias for every column");
    }
    match parallelism {
        gemm::Parallelism::Rayon(threads) if threads > 1 && m >= 2 * PARALLEL_ROWS => {
            use rayon::prelude::*;
            let part = m.div_ceil(threads).max(PARALLEL_ROWS);
            dst[..(m - 1) * dst_rs + n].par_chunks_mut(part * dst_rs).enumerate().for_each(|(c, d)| {
                let rows = part.min(m - c * part);
                let ops = Operands { m: rows, lhs: &lhs[c * part * lhs_rs..], ..ops };
                // SAFETY: the checks above, for the rows of this part
                unsafe { run(isa, ops, then, d, dst_rs) }
            });
        }
        // SAFETY: checked above: every value the sizes and strides address is in its slice
        _ => unsafe { run(isa, ops, then, dst, dst_rs) },
    }
    true
}

/// `sums[j] = Σ_r x[r, cols.start + j]` over the rows of the row-major `x` (`width` values a row),
/// each sum from zero and row after row — what adding the rows one by one into zeroed sums
/// gives, bit for bit (a fused `1 · x + s` rounds as `x + s` does) — as a product of a row of
/// ones by the rows, its sums kept in registers; `false` (and nothing written) without the
/// instructions.
pub(crate) fn column_sums(x: &[f32], width: usize, cols: std::ops::Range<usize>, sums: &mut [f32]) -> bool {
    let Some(isa) = isa() else { return false };
    let (rows, n) = (x.len() / width.max(1), cols.len());
    if rows == 0 || n == 0 {
        sums[..n].fill(0.0);
        return true;
    }
    assert!(cols.end <= width && sums.len() >= n, "columns of the rows, a sum for each");
    let one = [1.0f32];
    // the same one at every depth and row: strides of zero
    let ops = Operands { m: 1, n, k: rows, lhs: &one, lhs_rs: 0, lhs_cs: 0, rhs: &x[cols.start..], rhs_rs: width };
    // SAFETY: the left operand's only address is its one value; the right one's last row ends
    // at `(rows - 1) · width + cols.end` ≤ `x.len()`; the one row of sums holds `n` values
    unsafe { run(isa, ops, Then::Store, sums, n) };
    true
}

/// Runs the kernel on `isa`, which the CPU has. Safety: the operands and `dst` hold every value
/// their sizes and strides address.
unsafe fn run(isa: Isa, ops: Operands<'_>, then: Then<'_>, dst: &mut [f32], dst_rs: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let job = x86::Job::new(ops, then, dst, dst_rs);
        match isa {
            Isa::Avx2 => x86::run_avx2(&job),
            Isa::Avx512 => x86::run_avx512(&job),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, ops, then, dst, dst_rs);
        unreachable!("isa() is None off x86-64")
    }
}

/// A dense block's weights laid out for [`product`]: `Wᵀ` (inputs × units, row-major).
#[derive(Debug)]
pub(crate) struct Kernel {
    inputs: usize,
    units: usize,
    wt: Vec<f32>,
    bias: Vec<f32>,
    activation: Activation,
    isa: Isa,
}

impl Kernel {
    /// The kernel for `block` of the parameters `values` over `rows` rows, or `None` where
    /// [`product`] declines (see the module's notes).
    pub(crate) fn new(values: &[f32], block: &DenseBlock, rows: usize) -> Option<Kernel> {
        Kernel::on(isa()?, values, block, rows, None)
    }

    /// [`Kernel::new`] in the buffers of `old` (a kernel of the same shape, as a training step
    /// keeps one per block from one step to the next).
    pub(crate) fn reuse(old: Option<Kernel>, values: &[f32], block: &DenseBlock, rows: usize) -> Option<Kernel> {
        Kernel::on(isa()?, values, block, rows, old)
    }

    /// [`Kernel::new`] on the instructions `isa`, which the CPU must have, in `old`'s buffers
    /// when it has the block's shape.
    fn on(isa: Isa, values: &[f32], block: &DenseBlock, rows: usize, old: Option<Kernel>) -> Option<Kernel> {
        let (k, o) = (block.inputs, block.units);
        if rows < 2 || o < 2 || !(3..=ONE_PASS_DEPTH).contains(&k) {
            return None;
        }
        let (mut wt, mut bias) = match old {
            Some(old) if (old.inputs, old.units) == (k, o) => (old.wt, old.bias),
            _ => (vec![0.0f32; k * o], vec![0.0f32; o]),
        };
        transpose(isa, &values[block.at..block.at + o * k], o, k, &mut wt);
        bias.copy_from_slice(&values[block.bias_at()..block.bias_at() + o]);
        Some(Kernel { inputs: k, units: o, wt, bias, activation: block.activation, isa })
    }

    /// `dst = activation(src · Wᵀ + b)` for the `rows` rows of the row-major `src` (`rows ×
    /// inputs`) into the row-major `dst` (`rows × units`).
    pub(crate) fn run(&self, src: &[f32], rows: usize, dst: &mut [f32], parallelism: gemm::Parallelism) {
        let (k, o) = (self.inputs, self.units);
        assert_eq!(src.len(), rows * k, "rows × inputs values");
        assert_eq!(dst.len(), rows * o, "rows × units values");
        let ops = Operands { m: rows, n: o, k, lhs: src, lhs_rs: k, lhs_cs: 1, rhs: &self.wt, rhs_rs: o };
        let then = Then::Bias { bias: &self.bias, relu: self.activation == Activation::Relu };
        assert!(product_on(self.isa, ops, then, dst, o, parallelism), "`new` took this shape");
        if self.activation == Activation::Tanh {
            dst.iter_mut().for_each(|y| *y = y.tanh());
        }
    }
}

/// `dst (cols × rows) = srcᵀ`, both row-major, on `isa` (which the CPU has) by squares of a
/// vector's lanes.
fn transpose(isa: Isa, src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols, "a value for every place");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has `isa` (the caller's word); the assert above covers every address
    unsafe {
        match isa {
            Isa::Avx2 => x86::transpose_avx2(src, rows, cols, dst),
            Isa::Avx512 => x86::transpose_avx512(src, rows, cols, dst),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, src, rows, cols, dst);
        unreachable!("isa() is None off x86-64")
    }
}

/// The best instructions this CPU has for the kernel, if any.
fn isa() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        static ISA: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
        *ISA.get_or_init(|| {
            let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            match (avx2, std::arch::is_x86_feature_detected!("avx512f")) {
                (true, true) => Some(Isa::Avx512),
                (true, false) => Some(Isa::Avx2),
                _ => None,
            }
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Operands, Then};

    /// A product as raw pointers, for the kernels.
    pub(super) struct Job {
        m: usize,
        n: usize,
        k: usize,
        lhs: *const f32,
        lhs_rs: usize,
        lhs_cs: usize,
        rhs: *const f32,
        rhs_rs: usize,
        dst: *mut f32,
        dst_rs: usize,
        /// The bias, or null.
        bias: *const f32,
        relu: bool,
        add: bool,
    }

    impl Job {
        pub(super) fn new(ops: Operands<'_>, then: Then<'_>, dst: &mut [f32], dst_rs: usize) -> Job {
            let (bias, relu, add) = match then {
                Then::Store => (std::ptr::null(), false, false),
                Then::Add => (std::ptr::null(), false, true),
                Then::Bias { bias, relu } => (bias.as_ptr(), relu, false),
            };
            Job {
                m: ops.m,
                n: ops.n,
                k: ops.k,
                lhs: ops.lhs.as_ptr(),
                lhs_rs: ops.lhs_rs,
                lhs_cs: ops.lhs_cs,
                rhs: ops.rhs.as_ptr(),
                rhs_rs: ops.rhs_rs,
                dst: dst.as_mut_ptr(),
                dst_rs,
                bias,
                relu,
                add,
            }
        }
    }

    /// The vector operations the kernel needs, for one instruction set.
    trait Simd {
        /// `f32` lanes in a vector.
        const LANES: usize;
        type V: Copy;
        unsafe fn zero() -> Self::V;
        /// Loads the first `lanes` lanes from `p` (all of them when `lanes` ≥ [`Self::LANES`]),
        /// the others zero.
        unsafe fn load(p: *const f32, lanes: usize) -> Self::V;
        unsafe fn splat(p: *const f32) -> Self::V;
        /// `a · b + c`, rounded once.
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
        /// `f32::max(a, 0.0)` in every lane: 0 for NaN, as `maxps` gives its second operand.
        unsafe fn relu(a: Self::V) -> Self::V;
        /// Stores the first `lanes` lanes of `v` at `p`.
        unsafe fn store(p: *mut f32, v: Self::V, lanes: usize);
        /// Transposes the square of the first [`Self::LANES`] vectors: lane `j` of vector `i`
        /// goes to lane `i` of vector `j`.
        unsafe fn transpose(x: &mut [Self::V; 16]);
    }

    struct Avx2;

    impl Avx2 {
        #[inline(always)]
        unsafe fn mask(lanes: usize) -> __m256i {
            let mask: [i32; 8] = std::array::from_fn(|l| if l < lanes { -1 } else { 0 });
            _mm256_loadu_si256(mask.as_ptr().cast())
        }
    }

    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, lanes: usize) -> __m256 {
            if lanes >= 8 {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, Avx2::mask(lanes))
            }
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> __m256 {
            _mm256_broadcast_ss(&*p)
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn relu(a: __m256) -> __m256 {
            _mm256_max_ps(a, _mm256_setzero_ps())
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256, lanes: usize) {
            if lanes >= 8 {
                _mm256_storeu_ps(p, v)
            } else {
                _mm256_maskstore_ps(p, Avx2::mask(lanes), v)
            }
        }
        #[inline(always)]
        unsafe fn transpose(x: &mut [__m256; 16]) {
            // 2 × 2 blocks of values, then of pairs (a 4 × 4 transpose in each 128-bit half),
            // then the halves
            let mut t = [_mm256_setzero_ps(); 8];
            for i in (0..8).step_by(2) {
                t[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
            }
            let mut u = [_mm256_setzero_ps(); 8];
            for i in (0..8).step_by(4) {
                let (a, b) = (_mm256_castps_pd(t[i]), _mm256_castps_pd(t[i + 2]));
                let (c, d) = (_mm256_castps_pd(t[i + 1]), _mm256_castps_pd(t[i + 3]));
                u[i] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
                u[i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
                u[i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(c, d));
                u[i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(c, d));
            }
            for q in 0..4 {
                x[q] = _mm256_permute2f128_ps::<0x20>(u[q], u[4 + q]);
                x[4 + q] = _mm256_permute2f128_ps::<0x31>(u[q], u[4 + q]);
            }
        }
    }

    struct Avx512;

    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, lanes: usize) -> __m512 {
            if lanes >= 16 {
                _mm512_loadu_ps(p)
            } else {
                _mm512_maskz_loadu_ps(((1u32 << lanes) - 1) as u16, p)
            }
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> __m512 {
            _mm512_set1_ps(*p)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn relu(a: __m512) -> __m512 {
            _mm512_max_ps(a, _mm512_setzero_ps())
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512, lanes: usize) {
            if lanes >= 16 {
                _mm512_storeu_ps(p, v)
            } else {
                _mm512_mask_storeu_ps(p, ((1u32 << lanes) - 1) as u16, v)
            }
        }
        #[inline(always)]
        unsafe fn transpose(x: &mut [__m512; 16]) {
            // 2 × 2 blocks of values, then of pairs (a 4 × 4 transpose in each 128-bit lane),
            // then the 128-bit lanes in two rounds
            let mut t = [_mm512_setzero_ps(); 16];
            for i in (0..16).step_by(2) {
                t[i] = _mm512_unpacklo_ps(x[i], x[i + 1]);
                t[i + 1] = _mm512_unpackhi_ps(x[i], x[i + 1]);
            }
            let mut u = [_mm512_setzero_ps(); 16];
            for i in (0..16).step_by(4) {
                let (a, b) = (_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2]));
                let (c, d) = (_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3]));
                u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
                u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
                u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
                u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
            }
            // u[4g + q]: column q of each 128-bit lane, rows 4g .. 4g + 4
            for q in 0..4 {
                let even = _mm512_shuffle_f32x4::<0x88>(u[q], u[4 + q]);
                let odd = _mm512_shuffle_f32x4::<0xDD>(u[q], u[4 + q]);
                let even2 = _mm512_shuffle_f32x4::<0x88>(u[8 + q], u[12 + q]);
                let odd2 = _mm512_shuffle_f32x4::<0xDD>(u[8 + q], u[12 + q]);
                x[q] = _mm512_shuffle_f32x4::<0x88>(even, even2);
                x[4 + q] = _mm512_shuffle_f32x4::<0x88>(odd, odd2);
                x[8 + q] = _mm512_shuffle_f32x4::<0xDD>(even, even2);
                x[12 + q] = _mm512_shuffle_f32x4::<0xDD>(odd, odd2);
            }
        }
    }

    /// The whole product with AVX2: rows in tiles of `R`, whole output vectors in groups of `V`
    /// — at most 12 accumulators, so that they, the weight vectors or the broadcast inputs
    /// (whichever are fewer) and one more value fit in the 16 registers — then the last,
    /// partial vector of every row, 8 rows at a time.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run_avx2(job: &Job) {
        match job.m {
            1 => return few_rows::<Avx2, 1>(job),
            2 => return few_rows::<Avx2, 2>(job),
            3 => return few_rows::<Avx2, 3>(job),
            4 => return few_rows::<Avx2, 4>(job),
            _ => {}
        }
        let whole = job.n / Avx2::LANES;
        let mut v0 = 0;
        while v0 < whole {
            let group = match whole - v0 {
                n @ 1..=6 => n,
                7 => 4,
                _ => 6,
            };
            match group {
                1 => columns::<Avx2, 8, 1, false>(job, v0),
                2 => columns::<Avx2, 6, 2, false>(job, v0),
                3 => columns::<Avx2, 4, 3, false>(job, v0),
                4 => columns::<Avx2, 3, 4, false>(job, v0),
                5 => columns::<Avx2, 2, 5, false>(job, v0),
                _ => columns::<Avx2, 2, 6, false>(job, v0),
            }
            v0 += group;
        }
        if !job.n.is_multiple_of(Avx2::LANES) {
            last_columns::<Avx2>(job, whole * Avx2::LANES);
        }
    }

    /// [`run_avx2`] with AVX-512's 32 registers of 16 lanes: at most 24 accumulators.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run_avx512(job: &Job) {
        match job.m {
            1 => return few_rows::<Avx512, 1>(job),
            2 => return few_rows::<Avx512, 2>(job),
            3 => return few_rows::<Avx512, 3>(job),
            4 => return few_rows::<Avx512, 4>(job),
            _ => {}
        }
        let whole = job.n / Avx512::LANES;
        let mut v0 = 0;
        while v0 < whole {
            let group = (whole - v0).min(6);
            match group {
                1 => columns::<Avx512, 16, 1, false>(job, v0),
                2 => columns::<Avx512, 8, 2, false>(job, v0),
                // tiles of 5 rows where they fit the rows exactly and 6 would not (50, 100)
                3 if !job.m.is_multiple_of(6) && job.m.is_multiple_of(5) => columns::<Avx512, 5, 3, false>(job, v0),
                3 => columns::<Avx512, 6, 3, false>(job, v0),
                4 => columns::<Avx512, 6, 4, false>(job, v0),
                5 => columns::<Avx512, 4, 5, false>(job, v0),
                _ => columns::<Avx512, 4, 6, false>(job, v0),
            }
            v0 += group;
        }
        if !job.n.is_multiple_of(Avx512::LANES) {
            last_columns::<Avx512>(job, whole * Avx512::LANES);
        }
    }

    /// A product of `R` (at most 4) rows — column sums, the weight gradient of an output of a
    /// few classes — in tiles of `R` rows and up to 6 vectors, not in taller tiles of repeated
    /// rows.
    #[inline(always)]
    unsafe fn few_rows<S: Simd, const R: usize>(job: &Job) {
        let whole = job.n / S::LANES;
        // as many sums as the wider tiles keep in registers: 12 with AVX2, 24 with AVX-512
        let most = (12 * S::LANES / 8 / R).min(6);
        let mut v0 = 0;
        while v0 < whole {
            let group = (whole - v0).min(most);
            match group {
                1 => columns::<S, R, 1, false>(job, v0),
                2 => columns::<S, R, 2, false>(job, v0),
                3 => columns::<S, R, 3, false>(job, v0),
                4 => columns::<S, R, 4, false>(job, v0),
                5 => columns::<S, R, 5, false>(job, v0),
                _ => columns::<S, R, 6, false>(job, v0),
            }
            v0 += group;
        }
        if !job.n.is_multiple_of(S::LANES) {
            match R {
                1 => columns::<S, R, 1, true>(job, whole),
                _ => last_columns::<S>(job, whole * S::LANES),
            }
        }
    }

    /// [`super::transpose`] with AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn transpose_avx2(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
        transpose_by::<Avx2>(src, rows, cols, dst)
    }

    /// [`super::transpose`] with AVX-512.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose_avx512(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
        transpose_by::<Avx512>(src, rows, cols, dst)
    }

    /// `dst = srcᵀ` by squares of `S::LANES` rows × as many columns: loaded by rows (the
    /// missing ones zero), transposed in registers, stored by columns.
    #[inline(always)]
    unsafe fn transpose_by<S: Simd>(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
        let (src, dst, lanes) = (src.as_ptr(), dst.as_mut_ptr(), S::LANES);
        let mut r0 = 0;
        while r0 < rows {
            let live = lanes.min(rows - r0);
            let mut c0 = 0;
            while c0 < cols {
                let width = lanes.min(cols - c0);
                let mut x = [S::zero(); 16];
                for (r, x) in x.iter_mut().enumerate().take(S::LANES) {
                    if r < live {
                        *x = S::load(src.add((r0 + r) * cols + c0), width);
                    }
                }
                S::transpose(&mut x);
                for (c, &x) in x.iter().enumerate().take(S::LANES) {
                    if c < width {
                        S::store(dst.add((c0 + c) * rows + r0), x, live);
                    }
                }
                c0 += lanes;
            }
            r0 += lanes;
        }
    }

    /// The columns `c0 ..` after the last whole vector (fewer than a vector's lanes), with the
    /// rows in the lanes where the left operand allows it (its rows adjacent, or its depths
    /// adjacent and few enough columns for the transposed block and the sums to stay in
    /// registers), else as one partial vector per row.
    #[inline(always)]
    unsafe fn last_columns<S: Simd>(job: &Job, c0: usize) {
        let adjacent_rows = job.lhs_rs == 1;
        // a transposed square (`LANES` registers), the sums and two more fit in `2 · LANES`
        // registers (16 with AVX2, 32 with AVX-512) for at most `LANES - 2` columns
        let blocks = job.lhs_cs == 1 && job.n - c0 <= S::LANES - 2;
        if !adjacent_rows && !blocks {
            // one partial vector per row, as many rows as AVX2's or AVX-512's registers hold
            return match S::LANES {
                8 => columns::<S, 8, 1, true>(job, c0 / S::LANES),
                _ => columns::<S, 16, 1, true>(job, c0 / S::LANES),
            };
        }
        // a few widths of sums: up to 2 columns more than needed are computed and dropped
        match (job.n - c0, adjacent_rows) {
            (1, true) => row_lanes::<S, 1, false>(job, c0),
            (2, true) => row_lanes::<S, 2, false>(job, c0),
            (3 | 4, true) => row_lanes::<S, 4, false>(job, c0),
            (5 | 6, true) => row_lanes::<S, 6, false>(job, c0),
            (7 | 8, true) => row_lanes::<S, 8, false>(job, c0),
            (9 | 10, true) => row_lanes::<S, 10, false>(job, c0),
            (11..=13, true) => row_lanes::<S, 13, false>(job, c0),
            (_, true) => row_lanes::<S, 15, false>(job, c0),
            (1, false) => row_lanes::<S, 1, true>(job, c0),
            (2, false) => row_lanes::<S, 2, true>(job, c0),
            (3 | 4, false) => row_lanes::<S, 4, true>(job, c0),
            (5 | 6, false) => row_lanes::<S, 6, true>(job, c0),
            (7 | 8, false) => row_lanes::<S, 8, true>(job, c0),
            (9 | 10, false) => row_lanes::<S, 10, true>(job, c0),
            (11 | 12, false) => row_lanes::<S, 12, true>(job, c0),
            (_, false) => row_lanes::<S, 14, true>(job, c0),
        }
    }

    /// The columns `c0 .. n` (at most `C`, fewer than a vector's lanes) of every row, with the
    /// rows in the lanes: a vector of sums holds one column of [`Simd::LANES`] rows, and each
    /// sum adds its products in order, as everywhere else (a lane's fused multiply-add
    /// `x · w + s` is the `w · x + s` of the other tiles). The left operand's values of those
    /// rows at one depth are one vector: loaded as they lie when its rows are adjacent
    /// (`lhs_rs` = 1), else (`BLOCKS`, `lhs_cs` = 1) a square of rows × depths is loaded by rows
    /// and transposed. Columns past `n` (when `C` is more) repeat the last one and are not
    /// stored.
    #[inline(always)]
    unsafe fn row_lanes<S: Simd, const C: usize, const BLOCKS: bool>(job: &Job, c0: usize) {
        let (lanes, cols) = (S::LANES, job.n - c0);
        let mut col = [c0; C];
        for (j, c) in col.iter_mut().enumerate() {
            *c += j.min(cols - 1);
        }
        let mut r0 = 0;
        while r0 < job.m {
            let live = lanes.min(job.m - r0);
            let mut acc = [S::zero(); C];
            if BLOCKS {
                let mut p0 = 0;
                while p0 < job.k {
                    let depth = lanes.min(job.k - p0);
                    let mut x = [S::zero(); 16];
                    for (r, x) in x.iter_mut().enumerate().take(S::LANES) {
                        if r < live {
                            *x = S::load(job.lhs.add((r0 + r) * job.lhs_rs + p0), depth);
                        }
                    }
                    S::transpose(&mut x);
                    for (q, &x) in x.iter().enumerate().take(S::LANES) {
                        if q < depth {
                            let w = job.rhs.add((p0 + q) * job.rhs_rs);
                            for (sum, &c) in acc.iter_mut().zip(&col) {
                                *sum = S::fma(x, S::splat(w.add(c)), *sum);
                            }
                        }
                    }
                    p0 += lanes;
                }
            } else {
                for p in 0..job.k {
                    let x = S::load(job.lhs.add(r0 + p * job.lhs_cs), live);
                    let w = job.rhs.add(p * job.rhs_rs);
                    for (sum, &c) in acc.iter_mut().zip(&col) {
                        *sum = S::fma(x, S::splat(w.add(c)), *sum);
                    }
                }
            }
            // what becomes of each sum, value by value: the vector operations' numbers (`maxps`
            // gives 0 for NaN and for -0)
            let mut sums = [0.0f32; 16];
            for (j, &v) in acc.iter().enumerate().take(cols) {
                S::store(sums.as_mut_ptr(), v, lanes);
                for (r, &s) in sums.iter().enumerate().take(live) {
                    let d = job.dst.add((r0 + r) * job.dst_rs + c0 + j);
                    *d = if job.add {
                        *d + s
                    } else if !job.bias.is_null() {
                        let y = s + *job.bias.add(c0 + j);
                        match job.relu {
                            true if y > 0.0 => y,
                            true => 0.0,
                            false => y,
                        }
                    } else {
                        s
                    };
                }
            }
            r0 += lanes;
        }
    }

    /// The output vectors `v0 .. v0 + V` of every row (the last one partial when the columns
    /// end inside it), `R` rows at a time; a last tile of fewer rows repeats its last row in the
    /// unused places and stores only its own.
    #[inline(always)]
    unsafe fn columns<S: Simd, const R: usize, const V: usize, const TAIL: bool>(job: &Job, v0: usize) {
        let (k, n) = (job.k, job.n);
        // lanes of each vector: all of them but in the last, partial vector
        let mut lanes = [S::LANES; V];
        if TAIL {
            for (v, lanes) in lanes.iter_mut().enumerate() {
                *lanes = n - (v0 + v) * S::LANES;
            }
        }
        let rhs = job.rhs.add(v0 * S::LANES);
        let mut r0 = 0;
        while r0 < job.m {
            let live = R.min(job.m - r0);
            let mut x = [job.lhs; R];
            for (r, x) in x.iter_mut().enumerate() {
                *x = x.add((r0 + r.min(live - 1)) * job.lhs_rs);
            }
            let mut acc = [[S::zero(); V]; R];
            for p in 0..k {
                let w = rhs.add(p * job.rhs_rs);
                let at = p * job.lhs_cs;
                // each output: `acc = fma(w, x, acc)`, one product after the other, as gemm's
                // microkernels
                if V <= R {
                    let b: [S::V; V] = std::array::from_fn(|v| S::load(w.add(v * S::LANES), lanes[v]));
                    for (row, x) in acc.iter_mut().zip(&x) {
                        let a = S::splat(x.add(at));
                        for (sum, b) in row.iter_mut().zip(&b) {
                            *sum = S::fma(*b, a, *sum);
                        }
                    }
                } else {
                    let a: [S::V; R] = std::array::from_fn(|r| S::splat(x[r].add(at)));
                    for v in 0..V {
                        let b = S::load(w.add(v * S::LANES), lanes[v]);
                        for (row, a) in acc.iter_mut().zip(&a) {
                            row[v] = S::fma(b, *a, row[v]);
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(live) {
                let row = job.dst.add((r0 + r) * job.dst_rs);
                for (v, &sum) in acc.iter().enumerate() {
                    let col = (v0 + v) * S::LANES;
                    let mut y = sum;
                    if job.add {
                        y = S::add(S::load(row.add(col), lanes[v]), y);
                    } else if !job.bias.is_null() {
                        y = S::add(y, S::load(job.bias.add(col), lanes[v]));
                        if job.relu {
                            y = S::relu(y);
                        }
                    }
                    S::store(row.add(col), y, lanes[v]);
                }
            }
            r0 += R;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{dense_block, gemm_block, gemm_product};
    use rand::{Rng, SeedableRng};

    /// Random sizes (and the audiobooks network's), with values of mixed scales, exact zeros and
    /// negative zeros.
    struct Cases {
        rng: rand::rngs::StdRng,
    }

    impl Cases {
        fn new(seed: u64) -> Cases {
            Cases { rng: rand::rngs::StdRng::seed_from_u64(seed) }
        }

        fn values(&mut self, n: usize) -> Vec<f32> {
            (0..n)
                .map(|_| match self.rng.gen_range(0..20) {
                    0 => 0.0,
                    1 => -0.0,
                    _ => self.rng.gen_range(-1.0f32..1.0) * 10f32.powi(self.rng.gen_range(-3..3)),
                })
                .collect()
        }

        /// (rows, inputs, units): fixed ones, then random ones.
        fn shapes(&mut self) -> Vec<(usize, usize, usize)> {
            let fixed = [
                (100, 10, 50),
                (100, 50, 2),
                (64, 32, 3),
                (3, 40, 70),
                (4, 20, 100),
                (4096, 50, 50),
                (4096, 50, 2),
                (37, 3, 2),
                (2, 512, 65),
                (9, 17, 8),
                (1000, 33, 113),
            ];
            let random: Vec<_> = (0..60)
                .map(|_| (self.rng.gen_range(2..200), self.rng.gen_range(3..120), self.rng.gen_range(2..130)))
                .collect();
            fixed.into_iter().chain(random).collect()
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The instruction sets this CPU has.
    fn isas() -> Vec<Isa> {
        match isa() {
            Some(Isa::Avx512) => vec![Isa::Avx2, Isa::Avx512],
            Some(Isa::Avx2) => vec![Isa::Avx2],
            None => vec![],
        }
    }

    #[test]
    fn the_forward_pass_gives_gemms_numbers_bit_for_bit_on_every_instruction_set() {
        let mut cases = Cases::new(3);
        for (n, (rows, k, o)) in cases.shapes().into_iter().enumerate() {
            let activation = [Activation::Relu, Activation::Tanh, Activation::Linear][n % 3];
            let block = DenseBlock { at: 3, inputs: k, units: o, activation };
            let (values, src) = (cases.values(3 + block.parameters()), cases.values(rows * k));
            let mut theirs = vec![f32::NAN; rows * o];
            gemm_block(&src, rows, &values, &block, &mut theirs, gemm::Parallelism::None);
            for isa in isas() {
                for threads in [gemm::Parallelism::None, gemm::Parallelism::Rayon(2)] {
                    let mut ours = vec![f32::NAN; rows * o];
                    let kernel = Kernel::on(isa, &values, &block, rows, None).expect("a shape the kernel takes");
                    kernel.run(&src, rows, &mut ours, threads);
                    assert_eq!(
                        bits(&ours),
                        bits(&theirs),
                        "{isa:?} {threads:?}: {rows} rows × {k} inputs → {o} units, {activation:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_backward_products_give_gemms_numbers_bit_for_bit_on_every_instruction_set() {
        let mut cases = Cases::new(4);
        for (rows, i, o) in cases.shapes() {
            // as the training step calls them: the input's gradient `g · W` (rows × inputs) and
            // the weight's `gᵀ · x` (units × inputs, written through transposed strides), added
            // to what the destination holds
            let (g, w, x) = (cases.values(rows * o), cases.values(o * i), cases.values(rows * i));
            let start = cases.values(rows.max(o) * i);
            let mut theirs = start.clone();
            gemm_product(rows, i, o, &mut theirs, 1, i, true, &g, 1, o, &w, 1, i, gemm::Parallelism::None);
            for isa in isas() {
                let mut ours = start.clone();
                let ops = Operands { m: rows, n: i, k: o, lhs: &g, lhs_rs: o, lhs_cs: 1, rhs: &w, rhs_rs: i };
                let taken = product_on(isa, ops, Then::Add, &mut ours, i, gemm::Parallelism::Rayon(2));
                assert_eq!(taken, o >= 3, "{rows} × {o} · {o} × {i}");
                if taken {
                    assert_eq!(bits(&ours), bits(&theirs), "{isa:?}: g · W, {rows} × {o} · {o} × {i}");
                }
            }
            if rows < 3 {
                continue;
            }
            let mut theirs = start.clone();
            gemm_product(i, o, rows, &mut theirs, i, 1, true, &x, i, 1, &g, 1, o, gemm::Parallelism::None);
            for isa in isas() {
                let mut ours = start.clone();
                let ops = Operands { m: o, n: i, k: rows, lhs: &g, lhs_rs: 1, lhs_cs: o, rhs: &x, rhs_rs: i };
                let taken = product_on(isa, ops, Then::Add, &mut ours, i, gemm::Parallelism::None);
                assert_eq!(taken, rows <= ONE_PASS_DEPTH, "{o} × {rows} · {rows} × {i}");
                if taken {
                    assert_eq!(bits(&ours), bits(&theirs), "{isa:?}: gᵀ · x, {o} × {rows} · {rows} × {i}");
                }
            }
        }
    }

    #[test]
    fn column_sums_add_the_rows_in_order_bit_for_bit() {
        let mut cases = Cases::new(6);
        for (rows, width, _) in cases.shapes() {
            let x = cases.values(rows * width);
            let cols = width / 3..width;
            let mut ours = vec![f32::NAN; cols.len()];
            assert!(column_sums(&x, width, cols.clone(), &mut ours) == isa().is_some());
            if isa().is_none() {
                continue;
            }
            // the rows added one by one into zeroed sums, as `layers::column_sums` does without
            // the kernel
            let mut theirs = vec![0.0f32; cols.len()];
            for row in x.chunks_exact(width) {
                for (s, v) in theirs.iter_mut().zip(&row[cols.clone()]) {
                    *s += v;
                }
            }
            assert_eq!(bits(&ours), bits(&theirs), "{rows} rows × {width}, columns {cols:?}");
        }
    }

    #[test]
    fn a_dense_block_gives_the_same_numbers_on_one_thread_or_two_and_declines_gemms_other_paths() {
        let mut cases = Cases::new(5);
        for (rows, k, o) in cases.shapes() {
            let block = DenseBlock { at: 0, inputs: k, units: o, activation: Activation::Relu };
            let (values, src) = (cases.values(block.parameters()), cases.values(rows * k));
            let (mut one, mut two) = (vec![f32::NAN; rows * o], vec![f32::NAN; rows * o]);
            dense_block(&src, rows, &values, &block, &mut one, gemm::Parallelism::None);
            dense_block(&src, rows, &values, &block, &mut two, gemm::Parallelism::Rayon(2));
            assert_eq!(bits(&one), bits(&two), "{rows} rows × {k} inputs");
        }
        let block = |inputs, units| DenseBlock { at: 0, inputs, units, activation: Activation::Relu };
        let values = vec![0.5; 4 * 600];
        assert!(Kernel::new(&values, &block(2, 4), 10).is_none(), "gemm's path for a depth of 2");
        assert!(Kernel::new(&values, &block(513, 4), 10).is_none(), "deeper than one pass");
        assert!(Kernel::new(&values, &block(3, 4), 1).is_none(), "gemm's path for one row");
        assert!(Kernel::new(&values, &block(3, 1), 10).is_none(), "gemm's path for one column");
    }
}
