//! MTQ's own f32 kernel for the recurrent models [`super::recognise`] accepts: the ONNX LSTM
//! and GRU equations, the last step through the linear head and the sigmoid.
//!
//! Speed comes from three things:
//! - a row's input projection (`W·x + Wb + Rb`) does not depend on the window it sits in, so
//!   [`Kernel::project`] runs once when the row is pushed and the window keeps the projections:
//!   an inference runs only the recurrence (`R·h` and the gates) over the window's steps;
//! - `R` is stored transposed (`[hidden][gates]`, rows padded to 16 floats), so the
//!   matrix-vector product walks contiguous rows and adds `row_k * h[k]` to every gate at once:
//!   the compiler vectorises that loop across gates, and functions compiled with AVX-512 or
//!   AVX2 and FMA (picked at load by runtime detection) use the widest registers;
//! - the sigmoid and tanh are branch-free polynomial approximations (Cephes' `expf` and
//!   `tanhf`, within a few f32 ulps of the exact functions) that vectorise like the rest.
//!
//! Each gate's sum runs over `k` in the same order on every path, with fused multiply-adds on
//! the SIMD paths: the same inputs give the same bits however they reach the kernel (streaming
//! or batch). The scratch state lives in a thread-local buffer: no allocation per inference.

#![allow(unsafe_code)]

use std::cell::RefCell;

use super::recognise::{Cell, PreOp, Recurrent};

/// Padding of a gate row, in floats: a 512-bit register.
const LANES: usize = 16;

/// The instruction set an inference runs with, detected once at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// x86-64 with AVX-512F (and AVX2, FMA).
    Avx512,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// Anything else: plain Rust, multiply then add.
    Portable,
}

impl Isa {
    /// The widest path this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Self::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Self::Avx2;
            }
        }
        Self::Portable
    }

    /// Every path this CPU can run (for tests).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        let mut v = vec![Self::Portable];
        match Self::detect() {
            Self::Avx512 => v.extend([Self::Avx2, Self::Avx512]),
            Self::Avx2 => v.push(Self::Avx2),
            Self::Portable => {}
        }
        v
    }
}

/// A recognised model laid out for the kernel.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    cell: Cell,
    hidden: usize,
    features: usize,
    /// Floats per projection: `gates * hidden` padded to [`LANES`].
    stride: usize,
    pre: Vec<(PreOp, Vec<f32>)>,
    /// `W` transposed: `[features][stride]`.
    wt: Vec<f32>,
    /// `Wb + Rb` per gate; for the GRU's `h` gate only `Wb` (its `Rb` goes inside the reset).
    bias: Vec<f32>,
    /// `R` transposed: `[hidden][stride]`.
    rt: Vec<f32>,
    /// Added to `R·h`: zeros, except the GRU's `Rb` of the `h` gate.
    rbias: Vec<f32>,
    head_w: Vec<f32>,
    head_b: f32,
    isa: Isa,
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Kernel {
    /// Lays out `m` for the kernel, for the instruction set `isa`.
    pub(crate) fn new(m: &Recurrent, isa: Isa) -> Self {
        let (h, f) = (m.hidden, m.features);
        let g = m.cell.gates() * h;
        let stride = g.div_ceil(LANES) * LANES;
        let mut wt = vec![0.0; f * stride];
        let mut rt = vec![0.0; h * stride];
        for j in 0..g {
            for k in 0..f {
                wt[k * stride + j] = m.w[j * f + k];
            }
            for k in 0..h {
                rt[k * stride + j] = m.r[j * h + k];
            }
        }
        let mut bias = vec![0.0; stride];
        let mut rbias = vec![0.0; stride];
        for j in 0..g {
            let (wb, rb) = (m.b[j], m.b[g + j]);
            if m.cell == Cell::Gru && j >= 2 * h {
                bias[j] = wb;
                rbias[j] = rb;
            } else {
                bias[j] = wb + rb;
            }
        }
        Self {
            cell: m.cell,
            hidden: h,
            features: f,
            stride,
            pre: m.pre.clone(),
            wt,
            bias,
            rt,
            rbias,
            head_w: m.head_w.clone(),
            head_b: m.head_b,
            isa,
        }
    }

    /// The same kernel on another instruction set (tests).
    #[cfg(test)]
    pub(crate) fn with_isa(&self, isa: Isa) -> Self {
        Self {
            isa,
            ..self.clone()
        }
    }

    /// Floats per projected row.
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// A row (`features` values, scaled as MTQ scales them) projected: the graph's own
    /// elementwise operations, then `W·x + bias`, into `out` (`stride` floats).
    pub(crate) fn project(&self, row: &[f32], out: &mut [f32]) {
        let mut x = [0.0_f32; 64];
        let mut heap;
        let x: &mut [f32] = if self.features <= x.len() {
            &mut x[..self.features]
        } else {
            heap = vec![0.0; self.features];
            &mut heap
        };
        x.copy_from_slice(&row[..self.features]);
        for (op, c) in &self.pre {
            for (v, &c) in x.iter_mut().zip(c) {
                *v = match op {
                    PreOp::Add => *v + c,
                    PreOp::Sub => *v - c,
                    PreOp::Mul => *v * c,
                    PreOp::Div => *v / c,
                };
            }
        }
        let out = &mut out[..self.stride];
        match self.isa {
            // SAFETY: `isa` is `Avx512` or `Avx2` only when `Isa::detect` found those features
            // on this CPU (or a test picked it from `Isa::available`).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { matvec_avx512(&self.wt, self.stride, x, &self.bias, out) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { matvec_avx2(&self.wt, self.stride, x, &self.bias, out) },
            _ => matvec::<false>(&self.wt, self.stride, x, &self.bias, out),
        }
    }

    /// The probability for a window of projected rows (`stride` floats each, oldest first).
    pub(crate) fn infer(&self, proj: &[f32]) -> f32 {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let need = 2 * self.hidden + self.stride;
            if s.len() < need {
                s.resize(need, 0.0);
            }
            let s = &mut s[..need];
            match self.isa {
                // SAFETY: as in `project`.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe { infer_avx512(self, proj, s) },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { infer_avx2(self, proj, s) },
                _ => infer_body::<false>(self, proj, s),
            }
        })
    }
}

/// [`matvec`] with AVX-512 registers: the gates in blocks of up to 16 vectors (256 floats)
/// held in registers over all of `v`, so each weight is loaded once and `out` written once.
/// The same fused operations in the same order as [`matvec`]`::<true>`: the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn matvec_avx512(m: &[f32], stride: usize, v: &[f32], init: &[f32], out: &mut [f32]) {
    // The bounds every load and store below relies on.
    assert!(
        stride.is_multiple_of(LANES)
            && m.len() >= v.len() * stride
            && init.len() >= stride
            && out.len() >= stride
    );
    let mut j = 0;
    while j < stride {
        match (stride - j) / LANES {
            16.. => j = block_avx512::<16>(m, stride, v, init, out, j),
            8.. => j = block_avx512::<8>(m, stride, v, init, out, j),
            4.. => j = block_avx512::<4>(m, stride, v, init, out, j),
            2.. => j = block_avx512::<2>(m, stride, v, init, out, j),
            _ => j = block_avx512::<1>(m, stride, v, init, out, j),
        }
    }
}

/// Gates `j..j + 16 * N` of [`matvec_avx512`]; returns the next `j`. The caller checked that
/// `j + 16 * N <= stride`, `m` holds `v.len()` rows of `stride` and `init`, `out` `stride`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
fn block_avx512<const N: usize>(
    m: &[f32],
    stride: usize,
    v: &[f32],
    init: &[f32],
    out: &mut [f32],
    j: usize,
) -> usize {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
    };
    let end = j + N * LANES;
    assert!(end <= stride && end <= init.len() && end <= out.len());
    // SAFETY: `j + 16 * N <= stride <= init.len()`.
    let mut acc: [__m512; N] =
        std::array::from_fn(|i| unsafe { _mm512_loadu_ps(init.as_ptr().add(j + i * LANES)) });
    for (k, &vk) in v.iter().enumerate() {
        let b = _mm512_set1_ps(vk);
        let row = &m[k * stride + j..k * stride + end];
        for (i, a) in acc.iter_mut().enumerate() {
            // SAFETY: `row` holds `16 * N` floats.
            let w = unsafe { _mm512_loadu_ps(row.as_ptr().add(i * LANES)) };
            *a = _mm512_fmadd_ps(w, b, *a);
        }
    }
    for (i, a) in acc.iter().enumerate() {
        // SAFETY: `j + 16 * N <= out.len()`.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(j + i * LANES), *a) };
    }
    end
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn matvec_avx2(m: &[f32], stride: usize, v: &[f32], init: &[f32], out: &mut [f32]) {
    matvec::<true>(m, stride, v, init, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn infer_avx512(k: &Kernel, proj: &[f32], scratch: &mut [f32]) -> f32 {
    infer_body::<true>(k, proj, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn infer_avx2(k: &Kernel, proj: &[f32], scratch: &mut [f32]) -> f32 {
    infer_body::<true>(k, proj, scratch)
}

/// `a * b + c`, fused (one rounding) on the FMA paths.
#[inline(always)]
fn madd<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// `out = init + m·v` with `m` stored `[v.len()][stride]`: for each gate `j`, the sum runs over
/// `k` in order. Four rows at a time, so `out` is read and written once per four.
#[inline(always)]
fn matvec<const FUSED: bool>(m: &[f32], stride: usize, v: &[f32], init: &[f32], out: &mut [f32]) {
    let out = &mut out[..stride];
    out.copy_from_slice(&init[..stride]);
    let mut k = 0;
    while k + 4 <= v.len() {
        let (v0, v1, v2, v3) = (v[k], v[k + 1], v[k + 2], v[k + 3]);
        let rows = &m[k * stride..(k + 4) * stride];
        let (r0, rest) = rows.split_at(stride);
        let (r1, rest) = rest.split_at(stride);
        let (r2, r3) = rest.split_at(stride);
        for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            let s = madd::<FUSED>(a, v0, *o);
            let s = madd::<FUSED>(b, v1, s);
            let s = madd::<FUSED>(c, v2, s);
            *o = madd::<FUSED>(d, v3, s);
        }
        k += 4;
    }
    while k < v.len() {
        let vk = v[k];
        for (o, &a) in out.iter_mut().zip(&m[k * stride..(k + 1) * stride]) {
            *o = madd::<FUSED>(a, vk, *o);
        }
        k += 1;
    }
}

/// The recurrence over the window and the head. `scratch`: `h`, `c`, the gates.
#[inline(always)]
fn infer_body<const FUSED: bool>(k: &Kernel, proj: &[f32], scratch: &mut [f32]) -> f32 {
    let (n, st) = (k.hidden, k.stride);
    let (h, rest) = scratch.split_at_mut(n);
    let (c, gates) = rest.split_at_mut(n);
    h.fill(0.0);
    c.fill(0.0);
    for p in proj.chunks_exact(st) {
        match k.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `infer_body` runs with `Isa::Avx512` only inside `infer_avx512`, which has
            // these features enabled.
            Isa::Avx512 => unsafe { matvec_avx512(&k.rt, st, h, &k.rbias, gates) },
            _ => matvec::<FUSED>(&k.rt, st, h, &k.rbias, gates),
        }
        cell_update::<FUSED>(k.cell, n, p, gates, h, c);
    }
    head::<FUSED>(k, h)
}

/// One step's gates from `R·h` (in `gates`) and the row's projection `p`: the new `h` and `c`.
#[inline(always)]
fn cell_update<const FUSED: bool>(
    cell: Cell,
    n: usize,
    p: &[f32],
    gates: &mut [f32],
    h: &mut [f32],
    c: &mut [f32],
) {
    match cell {
        Cell::Lstm => {
            // i, o, f through the sigmoid, c through tanh.
            for (g, &x) in gates[..3 * n].iter_mut().zip(p) {
                *g = sigmoid::<FUSED>(*g + x);
            }
            for (g, &x) in gates[3 * n..4 * n].iter_mut().zip(&p[3 * n..]) {
                *g = tanh::<FUSED>(*g + x);
            }
            let (i, rest) = gates.split_at(n);
            let (o, rest) = rest.split_at(n);
            let (f, cc) = rest.split_at(n);
            // Iterators, not indices: no bounds checks, so the loop (tanh included)
            // vectorises.
            let gates = i.iter().zip(o).zip(f.iter().zip(cc));
            for ((cj, hj), ((&ij, &oj), (&fj, &gj))) in c.iter_mut().zip(h.iter_mut()).zip(gates) {
                let cn = madd::<FUSED>(fj, *cj, ij * gj);
                *cj = cn;
                *hj = oj * tanh::<FUSED>(cn);
            }
        }
        Cell::Gru => {
            for (g, &x) in gates[..2 * n].iter_mut().zip(p) {
                *g = sigmoid::<FUSED>(*g + x);
            }
            let (z, rest) = gates.split_at_mut(n);
            let (r, hh) = rest.split_at_mut(n);
            let gates = z.iter().zip(r.iter()).zip(hh.iter().zip(&p[2 * n..3 * n]));
            for (hj, ((&zj, &rj), (&hhj, &xj))) in h.iter_mut().zip(gates) {
                let cand = tanh::<FUSED>(madd::<FUSED>(rj, hhj, xj));
                // (1 - z) * cand + z * h
                *hj = madd::<FUSED>(zj, *hj - cand, cand);
            }
        }
    }
}

/// The linear head and the sigmoid on the last hidden state.
#[inline(always)]
fn head<const FUSED: bool>(k: &Kernel, h: &[f32]) -> f32 {
    let mut logit = k.head_b;
    for (&w, &x) in k.head_w.iter().zip(h.iter()) {
        logit = madd::<FUSED>(w, x, logit);
    }
    1.0 / (1.0 + (-logit).exp())
}

/// Symbols run together by [`Kernel::infer_many`] on the AVX-512 path: each weight loaded once
/// for that many hidden states.
const GROUP: usize = 4;

impl Kernel {
    /// The probability for each of several windows (projected rows, `stride` floats each, the
    /// same number of rows in each) into `out`: the same bits as [`Kernel::infer`] on each, but
    /// on the AVX-512 path up to four windows' recurrences share each load of `R`.
    pub(crate) fn infer_many(&self, projs: &[&[f32]], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.isa == Isa::Avx512 {
            SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                let need = GROUP * (2 * self.hidden + self.stride);
                if s.len() < need {
                    s.resize(need, 0.0);
                }
                for (group, out) in projs.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
                    // SAFETY: `isa` is `Avx512` only when the CPU has these features.
                    unsafe {
                        match group.len() {
                            4 => infer_group_avx512::<4>(self, group, &mut s, out),
                            3 => infer_group_avx512::<3>(self, group, &mut s, out),
                            2 => infer_group_avx512::<2>(self, group, &mut s, out),
                            _ => infer_group_avx512::<1>(self, group, &mut s, out),
                        }
                    }
                }
            });
            return;
        }
        for (p, o) in projs.iter().zip(out.iter_mut()) {
            *o = self.infer(p);
        }
    }
}

/// `S` windows' recurrences step by step; `scratch`: `S` hidden states, `S` cell states, `S`
/// gate vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn infer_group_avx512<const S: usize>(
    k: &Kernel,
    projs: &[&[f32]],
    scratch: &mut [f32],
    out: &mut [f32],
) {
    let (n, st) = (k.hidden, k.stride);
    let steps = projs[0].len() / st;
    assert!(projs.len() == S && out.len() >= S && projs.iter().all(|p| p.len() == steps * st));
    let (hs, rest) = scratch.split_at_mut(S * n);
    let (cs, rest) = rest.split_at_mut(S * n);
    let gates = &mut rest[..S * st];
    hs.fill(0.0);
    cs.fill(0.0);
    for t in 0..steps {
        matvec_group::<S>(&k.rt, st, n, hs, &k.rbias, gates);
        for (s, proj) in projs.iter().enumerate() {
            cell_update::<true>(
                k.cell,
                n,
                &proj[t * st..(t + 1) * st],
                &mut gates[s * st..(s + 1) * st],
                &mut hs[s * n..(s + 1) * n],
                &mut cs[s * n..(s + 1) * n],
            );
        }
    }
    for s in 0..S {
        out[s] = head::<true>(k, &hs[s * n..(s + 1) * n]);
    }
}

/// `S` products `out_s = init + m·h_s` at once (`hs`: `S` vectors of `hidden`, `outs`: `S` of
/// `stride`): per gate the same fused operations in the same order as [`matvec_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::needless_range_loop)] // `i` indexes the accumulators of every symbol.
fn matvec_group<const S: usize>(
    m: &[f32],
    stride: usize,
    hidden: usize,
    hs: &[f32],
    init: &[f32],
    outs: &mut [f32],
) {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
    };
    // Four vectors (64 gates) a block: 4 * S accumulators, S broadcasts, one weight register.
    const N: usize = 4;
    assert!(
        stride.is_multiple_of(LANES)
            && m.len() >= hidden * stride
            && hs.len() >= S * hidden
            && init.len() >= stride
            && outs.len() >= S * stride
    );
    let mut j = 0;
    while j < stride {
        let nv = ((stride - j) / LANES).min(N);
        // SAFETY (every load and store below): `j + 16 * nv <= stride`, checked above against
        // the lengths of `init`, each of `m`'s `hidden` rows and each of `outs`' `S` parts.
        let mut acc: [[__m512; N]; S] = std::array::from_fn(|_| {
            std::array::from_fn(|i| unsafe {
                _mm512_loadu_ps(init.as_ptr().add(j + i.min(nv - 1) * LANES))
            })
        });
        for kk in 0..hidden {
            let b: [__m512; S] = std::array::from_fn(|s| _mm512_set1_ps(hs[s * hidden + kk]));
            let row = &m[kk * stride + j..kk * stride + j + nv * LANES];
            for i in 0..N {
                if i < nv {
                    let w = unsafe { _mm512_loadu_ps(row.as_ptr().add(i * LANES)) };
                    for s in 0..S {
                        acc[s][i] = _mm512_fmadd_ps(w, b[s], acc[s][i]);
                    }
                }
            }
        }
        for (s, acc) in acc.iter().enumerate() {
            for (i, a) in acc.iter().enumerate().take(nv) {
                unsafe { _mm512_storeu_ps(outs.as_mut_ptr().add(s * stride + j + i * LANES), *a) };
            }
        }
        j += nv * LANES;
    }
}

/// `log2(e)`, and `ln 2` split in a part exact in f32 and the rest (Cephes).
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` for `x` in about `[-87, 88]` (clamped there), within 2 ulps: Cephes' `expf`.
#[inline(always)]
fn exp<const FUSED: bool>(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = madd::<FUSED>(x, LOG2E, 0.5).floor();
    let r = madd::<FUSED>(n, -LN2_HI, x);
    let r = madd::<FUSED>(n, -LN2_LO, r);
    let mut p = 1.987_569_1e-4_f32;
    p = madd::<FUSED>(p, r, 1.398_199_9e-3);
    p = madd::<FUSED>(p, r, 8.333_452e-3);
    p = madd::<FUSED>(p, r, 4.166_579_6e-2);
    p = madd::<FUSED>(p, r, 1.666_666_5e-1);
    p = madd::<FUSED>(p, r, 5e-1);
    let y = madd::<FUSED>(p, r * r, r) + 1.0;
    // 2^n, built in the exponent field: after the clamp n is an integer in [-125, 127], so
    // k = n + 127 is in [2, 254] and k + 2^23 holds k in its low mantissa bits; shifting them
    // into the exponent drops the rest. (An `as i32` cast would not vectorise: it saturates.)
    let k = n + 127.0;
    let bits = (k + 8_388_608.0).to_bits() << 23;
    y * f32::from_bits(bits)
}

#[inline(always)]
fn sigmoid<const FUSED: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<FUSED>(-x))
}

/// `tanh(x)`: Cephes' `tanhf` (a polynomial below 0.625, `1 - 2 / (e^2x + 1)` above).
#[inline(always)]
fn tanh<const FUSED: bool>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3_f32;
    p = madd::<FUSED>(p, z, 2.063_909e-2);
    p = madd::<FUSED>(p, z, -5.373_971_6e-2);
    p = madd::<FUSED>(p, z, 1.333_144_2e-1);
    p = madd::<FUSED>(p, z, -3.333_328e-1);
    let small = madd::<FUSED>(p * z, x, x);
    // `exp` clamps at 88; tanh(44) is 1 in f32.
    let e = exp::<FUSED>(2.0 * a.min(44.0));
    let big = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if a < 0.625 { small } else { big }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-200_000..=200_000).map(|i| i as f32 * 1e-4)
    }

    #[test]
    fn the_approximations_are_within_a_few_ulps_of_f64() {
        for isa_fused in [false, true] {
            let (mut es, mut ss, mut ts) = (0.0_f64, 0.0_f64, 0.0_f64);
            for x in grid().chain([-87.0, -60.0, 30.0, 80.0, 88.0, 1e-30, -1e-8]) {
                let xd = f64::from(x);
                let (e, s, t) = if isa_fused {
                    (exp::<true>(x), sigmoid::<true>(x), tanh::<true>(x))
                } else {
                    (exp::<false>(x), sigmoid::<false>(x), tanh::<false>(x))
                };
                let rel = |got: f32, want: f64| {
                    if want == 0.0 {
                        f64::from(got).abs()
                    } else {
                        ((f64::from(got) - want) / want).abs()
                    }
                };
                es = es.max(rel(e, xd.exp()));
                ss = ss.max(rel(s, 1.0 / (1.0 + (-xd).exp())));
                ts = ts.max(rel(t, xd.tanh()));
            }
            // An f32 ulp is 6e-8 to 1.2e-7 relative.
            assert!(es < 3e-7, "exp: {es:e}");
            assert!(ss < 3e-7, "sigmoid: {ss:e}");
            assert!(ts < 3e-7, "tanh: {ts:e}");
        }
        assert_eq!(tanh::<true>(20.0).to_bits(), 1.0_f32.to_bits());
        assert_eq!(tanh::<true>(-20.0).to_bits(), (-1.0_f32).to_bits());
        assert!(sigmoid::<true>(-200.0) < 1e-37);
        assert_eq!(sigmoid::<true>(200.0).to_bits(), 1.0_f32.to_bits());
    }

    #[test]
    fn every_instruction_set_gives_the_same_matrix_vector_product_within_rounding() {
        let mut seed = 7_u64;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        for (rows, stride) in [(64, 256), (17, 256), (8, 32), (7, 48)] {
            let m: Vec<f32> = (0..rows * stride).map(|_| rnd()).collect();
            let v: Vec<f32> = (0..rows).map(|_| rnd()).collect();
            let init: Vec<f32> = (0..stride).map(|_| rnd()).collect();
            let mut want = vec![0.0_f64; stride];
            for j in 0..stride {
                want[j] = f64::from(init[j])
                    + (0..rows)
                        .map(|k| f64::from(m[k * stride + j]) * f64::from(v[k]))
                        .sum::<f64>();
            }
            let mut fused = vec![0.0; stride];
            matvec::<true>(&m, stride, &v, &init, &mut fused);
            for isa in Isa::available() {
                let mut out = vec![0.0; stride];
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => unsafe { matvec_avx512(&m, stride, &v, &init, &mut out) },
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => unsafe { matvec_avx2(&m, stride, &v, &init, &mut out) },
                    _ => matvec::<false>(&m, stride, &v, &init, &mut out),
                }
                for j in 0..stride {
                    assert!((f64::from(out[j]) - want[j]).abs() < 1e-5, "{isa:?} {j}");
                }
                // The SIMD paths are the fused arithmetic in the same order: the same bits.
                if isa != Isa::Portable {
                    assert_eq!(out, fused, "{isa:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod isa_tests {
    use tract_onnx::prelude::Framework as _;

    use super::*;

    /// Every instruction set on the fixtures' recognised models and random windows: the SIMD
    /// paths give the same bits, the portable path (unfused) the same probability to 1e-6.
    #[test]
    fn every_instruction_set_runs_the_fixtures_alike() {
        let mut seed = 11_u64;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        };
        for (name, batch_first, window, width) in [
            ("lstm", true, 16, 6),
            ("gru", false, 12, 17),
            ("lstm64", true, 64, 17),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/onnx")
                .join(name)
                .join("model.onnx");
            let bytes = std::fs::read(path).unwrap();
            let proto = tract_onnx::onnx()
                .proto_model_for_read(&mut bytes.as_slice())
                .unwrap();
            let found = super::super::recognise::recognise(
                &proto,
                "window",
                "probability",
                batch_first,
                window,
                width,
            )
            .unwrap();
            let base = Kernel::new(&found, Isa::Portable);
            for _ in 0..50 {
                let rows: Vec<f32> = (0..window * width).map(|_| rnd()).collect();
                let mut results = Vec::new();
                for isa in Isa::available() {
                    let k = base.with_isa(isa);
                    let mut proj = vec![0.0; window * k.stride()];
                    for (row, out) in rows
                        .chunks_exact(width)
                        .zip(proj.chunks_exact_mut(k.stride()))
                    {
                        k.project(row, out);
                    }
                    results.push((isa, k.infer(&proj)));
                }
                let simd: Vec<u32> = results
                    .iter()
                    .filter(|r| r.0 != Isa::Portable)
                    .map(|r| r.1.to_bits())
                    .collect();
                assert!(simd.windows(2).all(|w| w[0] == w[1]), "{name}: {results:?}");
                for r in &results {
                    assert!((r.1 - results[0].1).abs() <= 1e-6, "{name}: {results:?}");
                }
            }
        }
    }
}
