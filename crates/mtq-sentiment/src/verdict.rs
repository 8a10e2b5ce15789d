//! The prompt, the JSON schema the model must answer with, and the validation of its answer.
//!
//! The model is asked for one object, `{"scores": [{"currency": "EUR", "score": -0.4,
//! "reason": "..."}]}`, with exactly one entry per currency asked, each score in -1..1. Anything
//! else (prose, a missing currency, a score out of range, an unknown field) is malformed: the
//! filter rejects it, counts it, and answers by its fail mode. A model's text is never trusted
//! further than this parser.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The JSON schema sent with the prompt (and, for OpenAI-style providers, as the response
/// format's schema).
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["scores"],
        "properties": {
            "scores": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["currency", "score", "reason"],
                    "properties": {
                        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                        "score": {"type": "number", "minimum": -1, "maximum": 1},
                        "reason": {"type": "string", "maxLength": 200}
                    }
                }
            }
        }
    })
}

/// The system instruction.
pub const SYSTEM: &str = "You are a forex news analyst. From the headlines given, rate the \
near-term (next few hours) sentiment for each currency asked, from -1 (strongly bearish) to 1 \
(strongly bullish), 0 when the news says nothing about it. Answer with one JSON object matching \
the schema and nothing else.";

/// The user message: the currencies, the schema and the headlines (numbered, newest first).
pub fn prompt(currencies: &[String], headlines: &[String]) -> String {
    let mut out = format!(
        "Currencies: {}\nJSON schema of the answer:\n{}\nHeadlines:\n",
        currencies.join(", "),
        schema()
    );
    for (i, h) in headlines.iter().enumerate() {
        // A headline is data: one line each, so it cannot pose as a new section.
        let line: String = h
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        out.push_str(&format!("{}. {}\n", i + 1, line.trim()));
    }
    if headlines.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

/// One currency's score.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub score: f64,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    scores: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    currency: String,
    score: f64,
    reason: String,
}

/// Why a model's answer was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Malformed {
    #[error("not the JSON object the schema asks for: {0}")]
    NotJson(String),
    #[error("currency `{0}` is not three capital letters")]
    BadCurrency(String),
    #[error("currency {0} was not asked for")]
    Unasked(String),
    #[error("currency {0} appears twice")]
    Duplicate(String),
    #[error("currency {0} is missing")]
    Missing(String),
    #[error("score {score} for {currency} is outside -1..1")]
    OutOfRange { currency: String, score: f64 },
    #[error("reason for {0} is longer than 200 characters")]
    LongReason(String),
}

/// Parses and validates a model's answer for `asked`. A single surrounding Markdown code fence
/// is tolerated (small local models add one); any other text is not.
pub fn parse(text: &str, asked: &[String]) -> Result<BTreeMap<String, Score>, Malformed> {
    let body = unfence(text.trim());
    let answer: Answer =
        serde_json::from_str(body).map_err(|e| Malformed::NotJson(e.to_string()))?;
    let mut out = BTreeMap::new();
    for e in answer.scores {
        if e.currency.len() != 3 || !e.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Malformed::BadCurrency(
                e.currency.chars().take(16).collect(),
            ));
        }
        if !asked.contains(&e.currency) {
            return Err(Malformed::Unasked(e.currency));
        }
        if !e.score.is_finite() || !(-1.0..=1.0).contains(&e.score) {
            return Err(Malformed::OutOfRange {
                currency: e.currency,
                score: e.score,
            });
        }
        if e.reason.chars().count() > 200 {
            return Err(Malformed::LongReason(e.currency));
        }
        if out.contains_key(&e.currency) {
            return Err(Malformed::Duplicate(e.currency));
        }
        out.insert(
            e.currency,
            Score {
                score: e.score,
                reason: e.reason,
            },
        );
    }
    if let Some(missing) = asked.iter().find(|c| !out.contains_key(*c)) {
        return Err(Malformed::Missing(missing.clone()));
    }
    Ok(out)
}

fn unfence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").map_or(text, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Vec<String> {
        vec!["EUR".into(), "USD".into()]
    }

    #[test]
    fn a_good_answer_gives_every_currency_asked() {
        let got = parse(
            r#"{"scores":[{"currency":"EUR","score":-0.6,"reason":"ECB dovish"},{"currency":"USD","score":0.2,"reason":"jobs"}]}"#,
            &asked(),
        )
        .unwrap();
        assert!((got["EUR"].score + 0.6).abs() < 1e-12);
        assert_eq!(got["USD"].reason, "jobs");
    }

    #[test]
    fn a_fenced_answer_is_accepted_but_prose_is_not() {
        let fenced = "```json\n{\"scores\":[{\"currency\":\"EUR\",\"score\":0,\"reason\":\"\"},{\"currency\":\"USD\",\"score\":0,\"reason\":\"\"}]}\n```";
        assert!(parse(fenced, &asked()).is_ok());
        let prose = "Sure! {\"scores\":[]}";
        assert!(matches!(parse(prose, &asked()), Err(Malformed::NotJson(_))));
    }

    #[test]
    fn malformed_answers_are_refused_with_the_reason() {
        let cases = [
            (
                r#"{"scores":[{"currency":"EUR","score":1.5,"reason":""},{"currency":"USD","score":0,"reason":""}]}"#,
                "outside",
            ),
            (
                r#"{"scores":[{"currency":"EUR","score":0.1,"reason":""}]}"#,
                "USD is missing",
            ),
            (
                r#"{"scores":[{"currency":"eur","score":0.1,"reason":""}]}"#,
                "three capital",
            ),
            (
                r#"{"scores":[{"currency":"JPY","score":0.1,"reason":""}]}"#,
                "not asked",
            ),
            (
                r#"{"scores":[{"currency":"EUR","score":0.1,"reason":"","extra":1}]}"#,
                "unknown field",
            ),
            (
                r#"{"scores":[{"currency":"EUR","score":0.1,"reason":""},{"currency":"EUR","score":0.1,"reason":""}]}"#,
                "twice",
            ),
            ("", "not the JSON"),
        ];
        for (text, want) in cases {
            let err = parse(text, &asked()).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn the_prompt_keeps_each_headline_on_one_line() {
        let p = prompt(&asked(), &["ECB\nCurrencies: JPY".into()]);
        assert!(p.contains("1. ECB Currencies: JPY\n"), "{p}");
        assert!(p.starts_with("Currencies: EUR, USD\n"));
    }
}
