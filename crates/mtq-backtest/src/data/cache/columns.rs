//! Reading a cache's bar columns: on the thread pool, block by block, each worker decoding its
//! blocks straight into the result, with each block's CRCs and time steps kept so that, combined
//! in file order, they are the whole file's.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration};
use mtq_core::Bar;

use super::{BarLayout, Clock, RAW_PRICES, bar_widths, field, pow10, unscaled};

/// Decodes one block of bar columns (`cols`: each column's rows, `bar_widths` wide) onto the
/// end of `out`, and the steps between its times (the block's first row is row `first` of the
/// file; gaps are steps above `gap_above`). The one way stored rows become bars again: column by
/// column, each a tight loop over a block that stays in the core's cache. `None` when a time is
/// out of range.
pub(super) fn decode_block(
    cols: &[&[u8]; 8],
    layout: BarLayout,
    clock: &mut Clock,
    out: &mut Vec<Bar>,
    (first, gap_above): (usize, i64),
) -> Option<Steps> {
    let [times, open, high, low, close, ticks, real, spreads] = *cols;
    let from = out.len();
    let times = times.as_chunks::<8>().0;
    let mut steps = Steps::default();
    for (k, w) in times.windows(2).enumerate() {
        let step = i64::from_le_bytes(w[1]).saturating_sub(i64::from_le_bytes(w[0]));
        steps.add(step, first + k, gap_above);
    }
    let mut ok = true;
    out.extend(times.iter().zip(spreads.as_chunks::<4>().0).map(|(t, s)| {
        let time = clock.at(i64::from_le_bytes(*t), 0);
        ok &= time.is_some();
        Bar {
            time: time.unwrap_or(DateTime::<chrono::Utc>::UNIX_EPOCH),
            open: 0.0,
            high: 0.0,
            low: 0.0,
            close: 0.0,
            tick_volume: 0,
            real_volume: 0,
            spread: u32::from_le_bytes(*s),
        }
    }));
    let bars = &mut out[from..];
    set_prices(bars, open, layout, |b, p| b.open = p);
    set_prices(bars, high, layout, |b, p| b.high = p);
    set_prices(bars, low, layout, |b, p| b.low = p);
    set_prices(bars, close, layout, |b, p| b.close = p);
    if layout.wide_tick_volume {
        for (b, v) in bars.iter_mut().zip(ticks.as_chunks::<8>().0) {
            b.tick_volume = u64::from_le_bytes(*v);
        }
    } else {
        for (b, v) in bars.iter_mut().zip(ticks.as_chunks::<4>().0) {
            b.tick_volume = u64::from(u32::from_le_bytes(*v));
        }
    }
    if layout.real_volume {
        for (b, v) in bars.iter_mut().zip(real.as_chunks::<8>().0) {
            b.real_volume = u64::from_le_bytes(*v);
        }
    }
    ok.then_some(steps)
}

/// One price column into `bars`.
#[inline(always)]
fn set_prices(bars: &mut [Bar], col: &[u8], layout: BarLayout, set: impl Fn(&mut Bar, f64)) {
    if layout.scale == RAW_PRICES {
        for (b, p) in bars.iter_mut().zip(col.as_chunks::<8>().0) {
            set(b, f64::from_le_bytes(*p));
        }
    } else {
        let unit = pow10(layout.scale);
        for (b, q) in bars.iter_mut().zip(col.as_chunks::<4>().0) {
            set(b, unscaled(i32::from_le_bytes(*q), unit));
        }
    }
}

/// Rows read per block: a block's columns fit in half a megabyte, in one buffer each worker
/// reuses, instead of the whole file in one allocation (32 MB for a million bars, all of it page
/// faults).
const BLOCK_ROWS: usize = 16_384;

/// The spacing of consecutive times: the smallest positive step (the data's timeframe, which
/// `infer_timeframe` would otherwise work out again over the bars) and the steps longer than the
/// gap limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Steps {
    pub(super) smallest: Option<i64>,
    pub(super) gaps: usize,
    /// The largest gap and the index of the row before it (the first such row on a tie).
    pub(super) largest: Option<(i64, usize)>,
}

impl Steps {
    /// The step from row `before` to the next, in seconds; gaps are steps above `gap_above`.
    #[inline(always)]
    fn add(&mut self, step: i64, before: usize, gap_above: i64) {
        if step > 0 && self.smallest.is_none_or(|s| step < s) {
            self.smallest = Some(step);
        }
        if step > gap_above {
            self.gap(step, before);
        }
    }

    /// A step above the gap limit (rare: weekends and holes in the data).
    #[cold]
    fn gap(&mut self, step: i64, before: usize) {
        self.gaps += 1;
        if self.largest.is_none_or(|(l, _)| step > l) {
            self.largest = Some((step, before));
        }
    }

    /// These steps, then `later`'s (the steps among rows after these).
    fn then(&mut self, later: &Self) {
        if let Some(s) = later.smallest
            && self.smallest.is_none_or(|m| s < m)
        {
            self.smallest = Some(s);
        }
        self.gaps += later.gaps;
        if let Some((g, before)) = later.largest
            && self.largest.is_none_or(|(l, _)| g > l)
        {
            self.largest = Some((g, before));
        }
    }
}

/// The most whole seconds that are not a gap under `max_gap`: `Duration::seconds(s) > max_gap`
/// exactly when `s` is above it (`i64::MAX` when there is no limit).
pub(in crate::data) fn gap_threshold(max_gap: Option<Duration>) -> i64 {
    let Some(limit) = max_gap else {
        return i64::MAX;
    };
    let s = limit.num_seconds();
    [s.saturating_add(1), s, s.saturating_sub(1)]
        .into_iter()
        .find(|&c| Duration::try_seconds(c).is_some_and(|d| d <= limit))
        .unwrap_or(i64::MIN)
}

/// What one block of the file held, for the checks over the whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BlockFacts {
    /// Each column's CRC-32 over the block's rows.
    crcs: [u32; 8],
    first: i64,
    last: i64,
    steps: Steps,
}

/// A bar payload read: the bars and their steps (`None` when a read failed or a time is out of
/// range), and the CRC-32 of the bytes read, in file order.
pub(super) struct ReadBars {
    pub(super) rows: Option<(Vec<Bar>, Steps)>,
    pub(super) crc: crc32fast::Hasher,
}

/// Reads the bar columns of `file` from `start` on the thread pool: each worker reads whole
/// blocks of rows (one positioned read per column) into its own buffer and writes their bars
/// straight into the result, so the 64 bytes a bar of the result are faulted in by both cores
/// (that is most of a cache read's time) and no row is copied twice. Every block's CRCs and
/// steps are kept; combined in file order they are the file's.
pub(super) fn read_bars(
    file: &std::fs::File,
    start: u64,
    n: usize,
    layout: BarLayout,
    gap_above: i64,
) -> ReadBars {
    use rayon::prelude::*;
    let widths = bar_widths(layout);
    let mut starts = [0u64; 8];
    let mut at = start;
    for (s, w) in starts.iter_mut().zip(widths) {
        *s = at;
        // The file's length was checked to be `start` plus every column: no overflow.
        at += (n * w) as u64;
    }
    let reader = BarReader {
        file,
        n,
        layout,
        widths,
        starts,
        gap_above,
        facts: (0..n.div_ceil(BLOCK_ROWS))
            .map(|_| OnceLock::new())
            .collect(),
        failed: AtomicBool::new(false),
    };
    let mut bars = Vec::new();
    (0..n)
        .into_par_iter()
        // A few long ranges a worker: each range's worker allocates its buffers once (more
        // ranges were more page faults), and only a range's edges may share a block.
        .with_min_len(n.div_ceil(4 * rayon::current_num_threads()).max(BLOCK_ROWS))
        .map_init(Held::default, |held, i| reader.bar(held, i))
        .collect_into_vec(&mut bars);
    let mut crc = crc32fast::Hasher::new();
    let Some(facts) = reader
        .facts
        .into_iter()
        .map(OnceLock::into_inner)
        .collect::<Option<Vec<_>>>()
    else {
        return ReadBars { rows: None, crc };
    };
    let rows_of = |b: usize| BLOCK_ROWS.min(n - b * BLOCK_ROWS);
    for (c, w) in widths.into_iter().enumerate() {
        for (b, f) in facts.iter().enumerate() {
            if w > 0 {
                crc.combine(&crc32fast::Hasher::new_with_initial_len(
                    f.crcs[c],
                    (rows_of(b) * w) as u64,
                ));
            }
        }
    }
    let mut steps = Steps::default();
    let mut last: Option<i64> = None;
    for (b, f) in facts.iter().enumerate() {
        if let Some(t) = last {
            steps.add(f.first.saturating_sub(t), b * BLOCK_ROWS - 1, gap_above);
        }
        steps.then(&f.steps);
        last = Some(f.last);
    }
    let rows = (!reader.failed.into_inner()).then_some((bars, steps));
    ReadBars { rows, crc }
}

/// The shared side of [`read_bars`].
struct BarReader<'a> {
    file: &'a std::fs::File,
    n: usize,
    layout: BarLayout,
    widths: [usize; 8],
    /// Where each column starts in the file.
    starts: [u64; 8],
    gap_above: i64,
    /// Each block's facts, set by the first worker to read it.
    facts: Vec<OnceLock<BlockFacts>>,
    /// A read failed, a block read twice differed, or a time was out of range.
    failed: AtomicBool,
}

/// A worker's block in memory: the columns as read, and the bars decoded from them.
#[derive(Default)]
struct Held {
    buf: Vec<u8>,
    /// The block's first row.
    first: usize,
    bars: Vec<Bar>,
    clock: Clock,
}

/// A bar put where a row could not be read (the result is thrown away).
const BLANK: Bar = Bar {
    time: DateTime::<chrono::Utc>::UNIX_EPOCH,
    open: 0.0,
    high: 0.0,
    low: 0.0,
    close: 0.0,
    tick_volume: 0,
    real_volume: 0,
    spread: 0,
};

impl BarReader<'_> {
    /// Row `i` of the file, reading its block first when the worker does not hold it.
    #[inline(always)]
    fn bar(&self, held: &mut Held, i: usize) -> Bar {
        if i.wrapping_sub(held.first) >= held.bars.len() {
            self.hold(held, i / BLOCK_ROWS);
        }
        held.bars.get(i - held.first).copied().unwrap_or(BLANK)
    }

    /// Reads and decodes block `block` into `held`, and keeps its facts.
    #[inline(never)]
    fn hold(&self, held: &mut Held, block: usize) {
        let first = block * BLOCK_ROWS;
        let rows = BLOCK_ROWS.min(self.n - first);
        held.buf.resize(rows * self.layout.record_size(), 0);
        let mut crcs = [0u32; 8];
        let mut cols: [&[u8]; 8] = [&[]; 8];
        let mut rest = held.buf.as_mut_slice();
        let mut ok = true;
        for c in 0..8 {
            let (part, tail) = rest.split_at_mut(rows * self.widths[c]);
            rest = tail;
            if !part.is_empty() {
                let from = self.starts[c] + (first * self.widths[c]) as u64;
                ok &= read_at(self.file, part, from).is_ok();
            }
            crcs[c] = crc32fast::hash(part);
            cols[c] = part;
        }
        held.first = first;
        held.bars.clear();
        let steps = decode_block(
            &cols,
            self.layout,
            &mut held.clock,
            &mut held.bars,
            (first, self.gap_above),
        );
        let time = |k: usize| i64::from_le_bytes(field(cols[0], k * 8));
        let facts = BlockFacts {
            crcs,
            first: time(0),
            last: time(rows - 1),
            steps: steps.unwrap_or_default(),
        };
        // Two workers may both read a block their ranges share: the bytes must be the same.
        let same = match self.facts[block].set(facts) {
            Ok(()) => true,
            Err(f) => self.facts[block].get() == Some(&f),
        };
        if !ok || steps.is_none() || !same {
            self.failed.store(true, Ordering::Relaxed);
        }
    }
}

/// Fills `buf` from `file` at `at`, without moving a cursor other workers share.
#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

/// Fills `buf` from `file` at `at`, without moving a cursor other workers share.
#[cfg(windows)]
fn read_at(file: &std::fs::File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, at) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(k) => {
                buf = &mut buf[k..];
                at += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
