//! A dense block's forward pass, `activation(x · Wᵀ + b)`, as one kernel on AVX2 + FMA or
//! AVX-512: the bias and the ReLU are applied in registers as each tile of outputs is stored, the
//! rows are read in place, and the weights are laid out once per call instead of `gemm`'s packing
//! of both operands on every call.
//!
//! **Same numbers as `gemm`.** `gemm` 0.15's microkernels start each output at zero and add its
//! products one input after the other with a fused multiply-add, in one pass when the depth is at
//! most its block depth ([`ONE_PASS_DEPTH`]), then store the sum unchanged (`beta` =
//! 1). This kernel does exactly that for every output, whatever the tile it falls in and whatever
//! the vector width (a fused multiply-add rounds each lane alone), so its results are `gemm`'s bit
//! for bit wherever `gemm` uses those microkernels (tested on random shapes, on both instruction
//! sets). `gemm` takes other paths for a depth of at most 2 and for a single row; [`Kernel::new`]
//! declines those, as it does on a CPU without AVX2 and FMA, and the caller calls `gemm`.
//!
//! **Why.** Scoring runs the 10-50-50-2 audiobooks network over a few thousand rows at a time,
//! where `gemm` packs the operands, writes the products, and a second pass adds the bias. This
//! kernel keeps 12 (AVX2) or 24 (AVX-512) accumulators in registers and writes each output once;
//! gemm 0.15 itself uses AVX-512 only with its `nightly` feature (see the scoring figures in the
//! README).

use crate::layers::ONE_PASS_DEPTH;
use crate::network::{Activation, DenseBlock};

/// Lanes the weights' rows are padded to: whole vectors of either instruction set.
const PAD: usize = 16;

/// The vector instructions the kernel runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    /// 8 lanes, 16 registers.
    Avx2,
    /// 16 lanes, 32 registers: twice the products per instruction, the same numbers.
    Avx512,
}

/// A dense block's weights laid out for the kernel: `Wᵀ` (inputs × units, each row padded with
/// zeros to a multiple of 16 lanes) and the bias, padded likewise.
pub(crate) struct Kernel {
    inputs: usize,
    units: usize,
    /// Values per row of `wt`.
    stride: usize,
    wt: Vec<f32>,
    bias: Vec<f32>,
    activation: Activation,
    isa: Isa,
}

impl Kernel {
    /// The kernel for `block` of the parameters `values`, or `None` where `gemm`'s own paths
    /// would be used (see the module's notes): no AVX2 + FMA, a depth outside 3..=[`ONE_PASS_DEPTH`],
    /// fewer than two rows.
    pub(crate) fn new(values: &[f32], block: &DenseBlock, rows: usize) -> Option<Kernel> {
        Kernel::on(isa()?, values, block, rows)
    }

    /// [`Kernel::new`] on the instructions `isa`, which the CPU must have.
    fn on(isa: Isa, values: &[f32], block: &DenseBlock, rows: usize) -> Option<Kernel> {
        if rows < 2 || !(3..=ONE_PASS_DEPTH).contains(&block.inputs) || block.units == 0 {
            return None;
        }
        let (k, o) = (block.inputs, block.units);
        let stride = o.div_ceil(PAD) * PAD;
        let mut wt = vec![0.0f32; k * stride];
        let w = &values[block.at..block.at + o * k];
        for (j, row) in w.chunks_exact(k).enumerate() {
            for (p, &v) in row.iter().enumerate() {
                wt[p * stride + j] = v;
            }
        }
        let mut bias = vec![0.0f32; stride];
        bias[..o].copy_from_slice(&values[block.bias_at()..block.bias_at() + o]);
        Some(Kernel { inputs: k, units: o, stride, wt, bias, activation: block.activation, isa })
    }

    /// `dst = activation(src · Wᵀ + b)` for the `rows` rows of the row-major `src` (`rows ×
    /// inputs`) into the row-major `dst` (`rows × units`).
    pub(crate) fn run(&self, src: &[f32], rows: usize, dst: &mut [f32]) {
        assert_eq!(src.len(), rows * self.inputs, "rows × inputs values");
        assert_eq!(dst.len(), rows * self.units, "rows × units values");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `new` checked that the CPU has the instructions; the sizes were checked above,
        // and the padded weights and bias hold whole vectors.
        unsafe {
            match self.isa {
                Isa::Avx2 => x86::run_avx2(self, src, rows, dst),
                Isa::Avx512 => x86::run_avx512(self, src, rows, dst),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("Kernel::new declines without AVX2 and FMA")
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

    use super::Kernel;
    use crate::network::Activation;

    /// The vector operations the kernel needs, for one instruction set.
    trait Simd {
        /// `f32` lanes in a vector.
        const LANES: usize;
        type V: Copy;
        unsafe fn zero() -> Self::V;
        unsafe fn load(p: *const f32) -> Self::V;
        unsafe fn splat(p: *const f32) -> Self::V;
        /// `a · b + c`, rounded once.
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
        /// `f32::max(a, 0.0)` in every lane: 0 for NaN, as `maxps` gives its second operand.
        unsafe fn relu(a: Self::V) -> Self::V;
        /// Stores the first `lanes` lanes of `v` at `p`.
        unsafe fn store(p: *mut f32, v: Self::V, lanes: usize);
    }

    struct Avx2;

    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
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
                let mask: [i32; 8] = std::array::from_fn(|l| if l < lanes { -1 } else { 0 });
                _mm256_maskstore_ps(p, _mm256_loadu_si256(mask.as_ptr().cast()), v)
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
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
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
    }

    /// Every tile of rows × vectors of outputs, with AVX2: rows in tiles of `R`, output vectors
    /// in groups of `V` — at most 12 accumulators, so that they, the weight vectors or the
    /// broadcast inputs (whichever are fewer) and one more value fit in the 16 registers.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run_avx2(kernel: &Kernel, src: &[f32], rows: usize, dst: &mut [f32]) {
        let mut v0 = 0;
        let vectors = kernel.units.div_ceil(Avx2::LANES);
        while v0 < vectors {
            let group = match vectors - v0 {
                n @ 1..=6 => n,
                7 => 4,
                _ => 6,
            };
            match group {
                1 => columns::<Avx2, 8, 1>(kernel, src, rows, dst, v0),
                2 => columns::<Avx2, 6, 2>(kernel, src, rows, dst, v0),
                3 => columns::<Avx2, 4, 3>(kernel, src, rows, dst, v0),
                4 => columns::<Avx2, 3, 4>(kernel, src, rows, dst, v0),
                5 => columns::<Avx2, 2, 5>(kernel, src, rows, dst, v0),
                _ => columns::<Avx2, 2, 6>(kernel, src, rows, dst, v0),
            }
            v0 += group;
        }
    }

    /// [`run_avx2`] with AVX-512's 32 registers of 16 lanes: at most 24 accumulators.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run_avx512(kernel: &Kernel, src: &[f32], rows: usize, dst: &mut [f32]) {
        let mut v0 = 0;
        let vectors = kernel.units.div_ceil(Avx512::LANES);
        while v0 < vectors {
            let group = (vectors - v0).min(6);
            match group {
                1 => columns::<Avx512, 16, 1>(kernel, src, rows, dst, v0),
                2 => columns::<Avx512, 8, 2>(kernel, src, rows, dst, v0),
                3 => columns::<Avx512, 6, 3>(kernel, src, rows, dst, v0),
                4 => columns::<Avx512, 6, 4>(kernel, src, rows, dst, v0),
                5 => columns::<Avx512, 4, 5>(kernel, src, rows, dst, v0),
                _ => columns::<Avx512, 4, 6>(kernel, src, rows, dst, v0),
            }
            v0 += group;
        }
    }

    /// The output vectors `v0 .. v0 + V` of every row, `R` rows at a time; a last tile of fewer
    /// rows repeats its last row in the unused places and stores only its own.
    #[inline(always)]
    unsafe fn columns<S: Simd, const R: usize, const V: usize>(
        kernel: &Kernel,
        src: &[f32],
        rows: usize,
        dst: &mut [f32],
        v0: usize,
    ) {
        let (k, o, stride) = (kernel.inputs, kernel.units, kernel.stride);
        let wt = kernel.wt.as_ptr().add(v0 * S::LANES);
        let mut r0 = 0;
        while r0 < rows {
            let live = R.min(rows - r0);
            let x: [*const f32; R] = std::array::from_fn(|r| src.as_ptr().add((r0 + r.min(live - 1)) * k));
            let mut acc = [[S::zero(); V]; R];
            for p in 0..k {
                let w = wt.add(p * stride);
                // each output: `acc = fma(w, x, acc)`, input after input, as gemm's microkernels
                if V <= R {
                    let b: [S::V; V] = std::array::from_fn(|v| S::load(w.add(v * S::LANES)));
                    for (row, x) in acc.iter_mut().zip(&x) {
                        let a = S::splat(x.add(p));
                        for (sum, b) in row.iter_mut().zip(&b) {
                            *sum = S::fma(*b, a, *sum);
                        }
                    }
                } else {
                    let a: [S::V; R] = std::array::from_fn(|r| S::splat(x[r].add(p)));
                    for v in 0..V {
                        let b = S::load(w.add(v * S::LANES));
                        for (row, a) in acc.iter_mut().zip(&a) {
                            row[v] = S::fma(b, *a, row[v]);
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(live) {
                let row = dst.as_mut_ptr().add((r0 + r) * o);
                for (v, &sum) in acc.iter().enumerate() {
                    let col = (v0 + v) * S::LANES;
                    let mut y = S::add(sum, S::load(kernel.bias.as_ptr().add(col)));
                    if kernel.activation == Activation::Relu {
                        y = S::relu(y);
                    }
                    S::store(row.add(col), y, o - col);
                }
            }
            r0 += R;
        }
        if kernel.activation == Activation::Tanh {
            for row in dst.chunks_exact_mut(o) {
                for y in &mut row[(v0 * S::LANES).min(o)..((v0 + V) * S::LANES).min(o)] {
                    *y = y.tanh();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{dense_block, gemm_block};
    use rand::{Rng, SeedableRng};

    /// Random shapes (and the audiobooks network's), each activation, with weights and inputs of
    /// mixed scales, exact zeros and negative zeros.
    fn cases() -> Vec<(DenseBlock, Vec<f32>, usize, Vec<f32>)> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let shapes =
            [(100, 10, 50), (4096, 50, 50), (4096, 50, 2), (37, 3, 1), (2, 512, 65), (9, 17, 8), (1000, 33, 113)];
        let random: Vec<_> =
            (0..60).map(|_| (rng.gen_range(2..200), rng.gen_range(3..120), rng.gen_range(1..130))).collect();
        let mut value = move |_| match rng.gen_range(0..20) {
            0 => 0.0,
            1 => -0.0,
            _ => rng.gen_range(-1.0f32..1.0) * 10f32.powi(rng.gen_range(-3..3)),
        };
        shapes
            .into_iter()
            .chain(random)
            .enumerate()
            .map(|(n, (rows, k, o))| {
                let activation = [Activation::Relu, Activation::Tanh, Activation::Linear][n % 3];
                let block = DenseBlock { at: 3, inputs: k, units: o, activation };
                let values = (0..3 + block.parameters()).map(&mut value).collect();
                (block, values, rows, (0..rows * k).map(&mut value).collect())
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn every_instruction_set_gives_gemms_numbers_bit_for_bit() {
        let isas: Vec<Isa> = match isa() {
            Some(Isa::Avx512) => vec![Isa::Avx2, Isa::Avx512],
            Some(Isa::Avx2) => vec![Isa::Avx2],
            None => return eprintln!("no AVX2 + FMA here: the kernel is never used"),
        };
        for (block, values, rows, src) in cases() {
            let (o, k) = (block.units, block.inputs);
            let mut theirs = vec![f32::NAN; rows * o];
            gemm_block(&src, rows, &values, &block, &mut theirs, gemm::Parallelism::None);
            for &isa in &isas {
                let mut ours = vec![f32::NAN; rows * o];
                Kernel::on(isa, &values, &block, rows).expect("a shape the kernel takes").run(&src, rows, &mut ours);
                assert_eq!(
                    bits(&ours),
                    bits(&theirs),
                    "{isa:?}: {rows} rows × {k} inputs → {o} units, {:?}",
                    block.activation
                );
            }
        }
    }

    #[test]
    fn a_dense_block_gives_the_same_numbers_on_one_thread_or_two_and_declines_gemms_other_paths() {
        for (block, values, rows, src) in cases() {
            let (mut one, mut two) = (vec![f32::NAN; rows * block.units], vec![f32::NAN; rows * block.units]);
            dense_block(&src, rows, &values, &block, &mut one, gemm::Parallelism::None);
            dense_block(&src, rows, &values, &block, &mut two, gemm::Parallelism::Rayon(2));
            assert_eq!(bits(&one), bits(&two), "{rows} rows × {} inputs", block.inputs);
        }
        let block = |inputs| DenseBlock { at: 0, inputs, units: 4, activation: Activation::Relu };
        let values = vec![0.5; 4 * 300];
        assert!(Kernel::new(&values, &block(2), 10).is_none(), "gemm's path for a depth of 2");
        assert!(Kernel::new(&values, &block(513), 10).is_none(), "deeper than one pass");
        assert!(Kernel::new(&values, &block(3), 1).is_none(), "gemm's path for one row");
    }
}
