//! The one way a wire line reaches a log: secret-named fields redacted by name, whatever the
//! message type or the path that logs it (a second `hello` on an established connection once
//! logged its token whole).

use serde_json::Value;

/// Longest preview of a line in a log, in characters.
const PREVIEW_CHARS: usize = 160;

/// Parts of a field name that mark its value as a secret.
const SECRET_NAMES: [&str; 7] = [
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "credential",
];

const REDACTED: &str = "***";

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

fn redact_value(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                if is_secret_name(k) {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_value(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// A short, printable preview of a line from the bridge for a log: JSON with every
/// secret-named field (token, password, secret, API key, ...) at any depth replaced by `***`.
/// A line that is not JSON but mentions a secret-named field is not shown at all.
pub(crate) fn log_line(line: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(line) {
        Ok(mut v) => {
            redact_value(&mut v);
            v.to_string()
        }
        Err(_) => {
            let lossy = String::from_utf8_lossy(line);
            if is_secret_name(&lossy) {
                return format!(
                    "<{} bytes, not shown: not JSON and mentions a secret-named field>",
                    line.len()
                );
            }
            lossy.into_owned()
        }
    };
    text.chars()
        .take(PREVIEW_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_named_fields_are_redacted_at_any_depth() {
        let line = br#"{"v":1,"id":1,"type":"hello","token":"s3cret-token","data":{"Password":"pw1","list":[{"api_key":"k2"}]},"server":"Demo"}"#;
        let shown = log_line(line);
        for secret in ["s3cret-token", "pw1", "k2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("\"server\":\"Demo\""), "{shown}");
        assert!(shown.contains("\"token\":\"***\""), "{shown}");
    }

    #[test]
    fn a_broken_line_naming_a_secret_is_not_shown() {
        let shown = log_line(br#"{"v":1,"type":"hello","token":"s3cret-token""#);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(log_line(b"plain \x01junk"), "plain ?junk");
    }
}
