//! `--range` parameter ranges: `fast_period=5..50:5` (inclusive, integer or decimal steps),
//! `ma_type=sma,ema,wma` (a list) or `sl_pips=30` (one value).

use serde_json::Value;

use super::list_values;
use crate::settings::param_value;

/// One parameter and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamRange {
    pub name: String,
    pub values: Vec<Value>,
}

/// Most values one range may expand to (a typo such as `1..1000000:1` is refused, not run).
const MAX_VALUES: usize = 100_000;

/// Parses `key=a..b:step`, `key=a,b,c` or `key=value`.
pub fn parse_range(s: &str) -> Result<ParamRange, String> {
    let help = "expected key=FROM..TO:STEP (e.g. fast_period=5..50:5), key=a,b,c or key=value";
    let (name, spec) = s
        .split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .ok_or_else(|| format!("`{s}`: {help}"))?;
    let name = name.trim().to_string();
    let spec = spec.trim();
    let values = if let Some((from, rest)) = spec.split_once("..") {
        let (to, step) = rest.split_once(':').unwrap_or((rest, "1"));
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("`{s}`: {what} `{v}` is not a number; {help}"))
        };
        let (a, b, st) = (num(from, "start")?, num(to, "end")?, num(step, "step")?);
        if st <= 0.0 {
            return Err(format!("`{s}`: the step must be positive"));
        }
        if b < a {
            return Err(format!("`{s}`: the end {b} is below the start {a}"));
        }
        let n_steps = ((b - a) / st + 1e-9).floor();
        if n_steps + 1.0 > MAX_VALUES as f64 {
            return Err(format!("`{s}`: more than {MAX_VALUES} values"));
        }
        let integers = [from, to, step]
            .iter()
            .all(|v| v.trim().parse::<i64>().is_ok());
        let mut out = Vec::new();
        let mut k = 0.0;
        while k <= n_steps {
            let x = a + k * st;
            out.push(if integers {
                param_value(&format!("{}", x.round()))
            } else {
                // Rounded to 10 decimals so 0.1 steps do not read 0.30000000000000004.
                param_value(&format!("{}", (x * 1e10).round() / 1e10))
            });
            k += 1.0;
        }
        out
    } else if spec.contains(',') {
        list_values(spec)
    } else if spec.is_empty() {
        return Err(format!("`{s}`: no value; {help}"));
    } else {
        vec![param_value(spec)]
    };
    Ok(ParamRange { name, values })
}

/// Combinations in the grid of `ranges` (1 for no ranges).
pub fn grid_size(ranges: &[ParamRange]) -> usize {
    ranges
        .iter()
        .map(|r| r.values.len())
        .fold(1usize, usize::saturating_mul)
}
