//! Metric families with fixed label names, rendered in the Prometheus text format.
//!
//! A family is a `static`: the request path takes a read lock and bumps an atomic; only
//! the first use of a label set takes the write lock. Each family holds at most
//! [`MAX_SERIES`] label sets; past that, new sets are counted under one overflow series
//! whose values are all `other` (the `tier` value is kept), so a bug that feeds unbounded
//! values into a label costs a bounded amount of memory and says so in the output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Label sets one family holds before new ones go to the overflow series.
pub const MAX_SERIES: usize = 2000;

/// Longest label value kept (longer ones are cut at a character boundary).
pub const MAX_VALUE_LEN: usize = 128;

/// The value every non-`tier` label of the overflow series carries.
pub const OVERFLOW: &str = "other";

/// Separates label values in a series key; removed from values on the way in.
const SEP: char = '\u{1f}';

thread_local! {
    /// The series key of the current call on this thread, reused between calls.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Writes the series key of the first `n` label values into `key` (missing values are
/// empty): the cleaned values joined by [`SEP`].
fn write_key(key: &mut String, n: usize, values: &[&str]) {
    key.clear();
    for i in 0..n {
        if i > 0 {
            key.push(SEP);
        }
        let v = clean(values.get(i).copied().unwrap_or(""));
        if v.contains(SEP) {
            key.extend(v.chars().filter(|c| *c != SEP));
        } else {
            key.push_str(v);
        }
    }
}

/// What all families share: names, help, the series by label values.
struct Core<C> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    series: RwLock<BTreeMap<String, Entry<C>>>,
    max_series: usize,
    warned: AtomicBool,
}

/// One series: its label values (for rendering) and its cell.
struct Entry<C> {
    values: Box<[Box<str>]>,
    cell: C,
}

/// A label value as stored: no separator, bounded length.
fn clean(value: &str) -> &str {
    let mut end = value.len().min(MAX_VALUE_LEN);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end).unwrap_or("")
}

impl<C> Core<C> {
    const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        max_series: usize,
    ) -> Self {
        Core {
            name,
            help,
            labels,
            series: RwLock::new(BTreeMap::new()),
            max_series,
            warned: AtomicBool::new(false),
        }
    }

    fn key(values: &[&str]) -> String {
        let mut key = String::new();
        write_key(&mut key, values.len(), values);
        key
    }

    /// Runs `f` on the cell of `values` (created by `make` on first use). Missing values
    /// are empty, extra ones ignored: the label names are fixed.
    fn with(&self, values: &[&str], make: impl Fn() -> C, f: impl FnOnce(&C)) {
        let n = self.labels.len();
        let mut f = Some(f);
        let mut bump = |key: &str| {
            let series = self.series.read().unwrap_or_else(|e| e.into_inner());
            let Some(entry) = series.get(key) else {
                return false;
            };
            if let Some(f) = f.take() {
                f(&entry.cell);
            }
            true
        };
        // The key is built in a per-thread buffer, so counting into an existing series
        // allocates nothing; `Some(None)`: counted, `Some(Some(key))`: a new series.
        let reused = KEY
            .try_with(|buf| {
                let mut buf = buf.try_borrow_mut().ok()?;
                write_key(&mut buf, n, values);
                Some((!bump(&buf)).then(|| buf.clone()))
            })
            .ok()
            .flatten();
        let key = match reused {
            Some(None) => return,
            Some(Some(key)) => key,
            None => {
                let mut key = String::new();
                write_key(&mut key, n, values);
                if bump(&key) {
                    return;
                }
                key
            }
        };
        let values: Vec<&str> = (0..n)
            .map(|i| values.get(i).copied().unwrap_or(""))
            .collect();
        let mut series = self.series.write().unwrap_or_else(|e| e.into_inner());
        let (key, values) = if series.contains_key(&key) || series.len() < self.max_series {
            (key, values)
        } else {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    metric = self.name,
                    max = self.max_series,
                    "metric has too many label sets; new ones are counted as `other`"
                );
            }
            let overflow: Vec<&str> = self
                .labels
                .iter()
                .zip(&values)
                .map(|(name, v)| if *name == "tier" { *v } else { OVERFLOW })
                .collect();
            (Self::key(&overflow), overflow)
        };
        let entry = series.entry(key).or_insert_with(|| Entry {
            values: values
                .iter()
                .map(|v| {
                    clean(v)
                        .chars()
                        .filter(|c| *c != SEP)
                        .collect::<String>()
                        .into()
                })
                .collect(),
            cell: make(),
        });
        if let Some(f) = f.take() {
            f(&entry.cell);
        }
    }

    /// Writes HELP, TYPE and one call of `sample` per series whose `tier` label (when the
    /// family has one) is `tier`.
    fn render(
        &self,
        out: &mut String,
        kind: &str,
        tier: Option<&str>,
        mut sample: impl FnMut(&mut String, &str, &C),
    ) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} {kind}", self.name);
        let tier_at = self.labels.iter().position(|l| *l == "tier");
        let series = self.series.read().unwrap_or_else(|e| e.into_inner());
        for Entry { values, cell } in series.values() {
            if let (Some(tier), Some(i)) = (tier, tier_at)
                && values.get(i).map(|v| &**v) != Some(tier)
            {
                continue;
            }
            let labels = label_text(self.labels, values);
            sample(out, &labels, cell);
        }
    }

    fn len(&self) -> usize {
        self.series.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// `name="value",...` with values escaped as the text format wants.
pub fn label_text<V: AsRef<str>>(names: &[&str], values: &[V]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(&escape_value(value.as_ref()));
        out.push('"');
    }
    out
}

/// A label value escaped: backslash, double quote and line feed.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text escaped: backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as the text format writes it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// `{labels}` or nothing.
fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// Monotonic counters.
pub struct Counters(Core<AtomicU64>);

impl Counters {
    /// A family named `name` with these label names.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        Counters(Core::new(name, help, labels, MAX_SERIES))
    }

    /// The same with another series cap (tests).
    pub const fn with_max_series(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        max_series: usize,
    ) -> Self {
        Counters(Core::new(name, help, labels, max_series))
    }

    /// Adds `n` to the series of `values` (one per label name, in order).
    pub fn add(&self, values: &[&str], n: u64) {
        self.0.with(values, AtomicU64::default, |c| {
            c.fetch_add(n, Ordering::Relaxed);
        });
    }

    /// Adds one.
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    /// The current value of a series, 0 when it does not exist.
    pub fn value(&self, values: &[&str]) -> u64 {
        let mut v = 0;
        let series = self.0.series.read().unwrap_or_else(|e| e.into_inner());
        if let Some(Entry { cell: c, .. }) = series.get(&Core::<AtomicU64>::key(values)) {
            v = c.load(Ordering::Relaxed);
        }
        v
    }

    /// Label sets held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the family (series of `tier` only, when given).
    pub fn render(&self, out: &mut String, tier: Option<&str>) {
        let name = self.0.name;
        self.0.render(out, "counter", tier, |out, labels, c| {
            let _ = writeln!(
                out,
                "{name}{} {}",
                braces(labels),
                c.load(Ordering::Relaxed)
            );
        });
    }
}

/// Values that go up and down.
pub struct Gauges(Core<AtomicU64>);

impl Gauges {
    /// A family named `name` with these label names.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        Gauges(Core::new(name, help, labels, MAX_SERIES))
    }

    /// Sets the series of `values`.
    pub fn set(&self, values: &[&str], v: f64) {
        self.0.with(values, AtomicU64::default, |c| {
            c.store(v.to_bits(), Ordering::Relaxed);
        });
    }

    /// Appends the family (series of `tier` only, when given).
    pub fn render(&self, out: &mut String, tier: Option<&str>) {
        let name = self.0.name;
        self.0.render(out, "gauge", tier, |out, labels, c| {
            let v = f64::from_bits(c.load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}{} {}", braces(labels), number(v));
        });
    }
}

/// One histogram series: per-bucket counts (the last is `+Inf`) and the sum.
pub struct HistogramCell {
    buckets: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
}

impl HistogramCell {
    fn new(bounds: usize) -> Self {
        HistogramCell {
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }
}

/// Distributions over fixed bucket bounds.
pub struct Histograms {
    core: Core<HistogramCell>,
    bounds: &'static [f64],
}

impl Histograms {
    /// A family named `name` with these label names and ascending bucket upper bounds
    /// (`+Inf` is implied).
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Histograms {
            core: Core::new(name, help, labels, MAX_SERIES),
            bounds,
        }
    }

    /// Records one observation of `v` in the series of `values`.
    pub fn observe(&self, values: &[&str], v: f64) {
        let bounds = self.bounds;
        let i = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        self.core.with(
            values,
            || HistogramCell::new(bounds.len()),
            |cell| {
                if let Some(b) = cell.buckets.get(i) {
                    b.fetch_add(1, Ordering::Relaxed);
                }
                // A float sum has no atomic add: compare-and-swap until it sticks.
                let _ = cell
                    .sum_bits
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                        Some((f64::from_bits(bits) + v).to_bits())
                    });
            },
        );
    }

    /// Observations recorded in the series of `values`, 0 when it does not exist.
    pub fn count(&self, values: &[&str]) -> u64 {
        let series = self.core.series.read().unwrap_or_else(|e| e.into_inner());
        series
            .get(&Core::<HistogramCell>::key(values))
            .map_or(0, |Entry { cell: c, .. }| {
                c.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
            })
    }

    /// Appends the family (series of `tier` only, when given): cumulative buckets, with
    /// `+Inf` equal to `_count`.
    pub fn render(&self, out: &mut String, tier: Option<&str>) {
        let name = self.core.name;
        let bounds = self.bounds;
        self.core
            .render(out, "histogram", tier, |out, labels, cell| {
                let sep = if labels.is_empty() { "" } else { "," };
                let mut cumulative = 0u64;
                for (i, bucket) in cell.buckets.iter().enumerate() {
                    cumulative += bucket.load(Ordering::Relaxed);
                    let le = bounds
                        .get(i)
                        .map_or_else(|| "+Inf".to_owned(), |b| number(*b));
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
                    );
                }
                let sum = f64::from_bits(cell.sum_bits.load(Ordering::Relaxed));
                let _ = writeln!(out, "{name}_sum{} {}", braces(labels), number(sum));
                let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
            });
    }
}

/// Appends a gauge family whose values are read at scrape time (health of configured
/// endpoints): `items` are `(label values, value)`.
pub fn render_gauge<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &[&str],
    items: impl IntoIterator<Item = (Vec<&'a str>, f64)>,
) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (values, v) in items.into_iter().take(MAX_SERIES) {
        let values: Vec<&str> = values.iter().map(|v| clean(v)).collect();
        let _ = writeln!(
            out,
            "{name}{} {}",
            braces(&label_text(labels, &values)),
            number(v)
        );
    }
}
