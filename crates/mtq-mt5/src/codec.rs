//! Newline-delimited framing with a hard cap on line length, and decoding of one line into an
//! [`Inbound`] message.
//!
//! The decoder never holds more than `max_line` bytes of an unfinished line: a longer line is
//! reported once as [`Frame::TooLong`] and its remaining bytes are skipped up to the next newline,
//! so a misbehaving peer costs bounded memory and the stream resynchronises on the next line.

use serde_json::{Map, Value};

use crate::protocol::PROTOCOL_VERSION;

/// Default cap on one line: large enough for a chunk of 10,000 bars or a long deal history.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// What the framer found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete line, without its `\n` (and without a trailing `\r`).
    Line(Vec<u8>),
    /// A line exceeded the cap; its bytes are being discarded up to the next newline.
    TooLong { max: usize },
}

/// Splits a byte stream into lines of at most `max_line` bytes.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    max_line: usize,
    discarding: bool,
}

impl LineDecoder {
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_line: max_line.max(1),
            discarding: false,
        }
    }

    /// Raises (or lowers) the cap from the next byte on, keeping what is buffered: a
    /// connection's first line is capped tightly, later lines by the configured cap.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.max(1);
    }

    /// Bytes of an unfinished line currently held (never more than the cap).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds `bytes`, appending every frame they complete to `out`. Empty lines are skipped.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Frame>) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (chunk, rest, complete) = match newline {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            if self.discarding {
                if complete {
                    self.discarding = false;
                }
                continue;
            }
            if self.buf.len() + chunk.len() > self.max_line {
                self.buf.clear();
                self.buf.shrink_to(64 * 1024);
                out.push(Frame::TooLong { max: self.max_line });
                self.discarding = !complete;
                continue;
            }
            self.buf.extend_from_slice(chunk);
            if complete {
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if !line.iter().all(u8::is_ascii_whitespace) {
                    out.push(Frame::Line(line));
                }
            }
        }
    }
}

/// A message from the bridge, checked for version, id and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub id: u64,
    pub kind: InboundKind,
    /// The whole message object.
    pub body: Map<String, Value>,
}

/// The message types the bridge sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundKind {
    Hello,
    Reply,
    Heartbeat,
    Tick,
    TradeTransaction,
}

/// Why a line could not be used. The connection survives all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("protocol version {0} is not supported (this MTQ speaks version {PROTOCOL_VERSION})")]
    Version(String),
    #[error("missing or invalid field `{0}`")]
    Field(&'static str),
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("line longer than {0} bytes was dropped")]
    TooLong(usize),
}

/// At most `max` characters of `s` (never cut inside a character), for messages and logs.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Decodes one line. Never panics, whatever the bytes.
pub fn decode(line: &[u8]) -> Result<Inbound, DecodeError> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| DecodeError::Json(e.to_string()))?;
    let Value::Object(body) = value else {
        return Err(DecodeError::NotAnObject);
    };
    match body.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        Some(other) => {
            return Err(DecodeError::Version(shorten(&other.to_string(), 32)));
        }
        None => return Err(DecodeError::Field("v")),
    }
    let id = body
        .get("id")
        .and_then(Value::as_u64)
        .ok_or(DecodeError::Field("id"))?;
    let kind = match body.get("type").and_then(Value::as_str) {
        Some("hello") => InboundKind::Hello,
        Some("reply") => InboundKind::Reply,
        Some("heartbeat") => InboundKind::Heartbeat,
        Some("tick") => InboundKind::Tick,
        Some("trade_transaction") => InboundKind::TradeTransaction,
        Some(other) => return Err(DecodeError::UnknownType(shorten(other, 64))),
        None => return Err(DecodeError::Field("type")),
    };
    Ok(Inbound { id, kind, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(dec: &mut LineDecoder, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        dec.push(bytes, &mut out);
        out
    }

    #[test]
    fn a_line_split_across_reads_comes_out_whole() {
        let mut d = LineDecoder::new(1024);
        assert!(frames(&mut d, br#"{"v":1,"id":3,"#).is_empty());
        let out = frames(&mut d, b"\"type\":\"reply\"}\r\n");
        assert_eq!(
            out,
            vec![Frame::Line(br#"{"v":1,"id":3,"type":"reply"}"#.to_vec())]
        );
    }

    #[test]
    fn several_lines_in_one_read_come_out_in_order() {
        let mut d = LineDecoder::new(1024);
        let out = frames(&mut d, b"a\n\nb\n  \nc");
        assert_eq!(
            out,
            vec![Frame::Line(b"a".to_vec()), Frame::Line(b"b".to_vec())]
        );
        assert_eq!(frames(&mut d, b"\n"), vec![Frame::Line(b"c".to_vec())]);
    }

    #[test]
    fn an_overlong_line_is_reported_once_and_the_next_line_survives() {
        let mut d = LineDecoder::new(8);
        let out = frames(&mut d, b"0123456789");
        assert_eq!(out, vec![Frame::TooLong { max: 8 }]);
        assert_eq!(d.buffered(), 0);
        let out = frames(&mut d, b"abcdef\nok\n");
        assert_eq!(out, vec![Frame::Line(b"ok".to_vec())]);
        // Exactly at the cap is fine.
        assert_eq!(
            frames(&mut d, b"12345678\n"),
            vec![Frame::Line(b"12345678".to_vec())]
        );
    }

    #[test]
    fn decode_checks_version_id_and_type() {
        let ok = decode(br#"{"v":1,"id":9,"type":"reply","retcode":10009}"#).unwrap();
        assert_eq!((ok.id, ok.kind), (9, InboundKind::Reply));
        assert_eq!(
            decode(br#"{"v":2,"id":9,"type":"reply"}"#),
            Err(DecodeError::Version("2".into()))
        );
        assert_eq!(
            decode(br#"{"v":1,"type":"reply"}"#),
            Err(DecodeError::Field("id"))
        );
        assert_eq!(
            decode(br#"{"v":1,"id":-1,"type":"reply"}"#),
            Err(DecodeError::Field("id"))
        );
        assert!(matches!(
            decode(br#"{"v":1,"id":1,"type":"launch"}"#),
            Err(DecodeError::UnknownType(_))
        ));
        assert_eq!(decode(b"[1,2]"), Err(DecodeError::NotAnObject));
        assert!(matches!(decode(b"{\"v\":1,"), Err(DecodeError::Json(_))));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("v".to_string()),
                        Just("id".to_string()),
                        Just("type".to_string()),
                        "[a-z_]{1,8}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic_and_memory_stays_under_the_cap(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
            cap in 1usize..200,
        ) {
            let mut d = LineDecoder::new(cap);
            let mut out = Vec::new();
            for c in &chunks {
                d.push(c, &mut out);
                prop_assert!(d.buffered() <= cap);
            }
            for f in &out {
                match f {
                    Frame::Line(l) => {
                        prop_assert!(l.len() <= cap);
                        prop_assert!(!l.contains(&b'\n'));
                        let _ = decode(l);
                    }
                    Frame::TooLong { max } => prop_assert_eq!(*max, cap),
                }
            }
        }

        #[test]
        fn arbitrary_json_decodes_or_fails_cleanly(value in json_value()) {
            let line = serde_json::to_vec(&value).unwrap();
            if let Ok(msg) = decode(&line) {
                prop_assert!(value.is_object());
                prop_assert_eq!(value.get("id").and_then(Value::as_u64), Some(msg.id));
            }
        }

        #[test]
        fn any_split_of_a_valid_stream_yields_the_same_lines(
            lines in prop::collection::vec("[ -~]{1,40}", 1..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let stream: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut d = LineDecoder::new(64);
            let mut out = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain([stream.len()]) {
                d.push(&stream[start..p], &mut out);
                start = p;
            }
            let expected: Vec<Frame> = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Frame::Line(l.as_bytes().to_vec()))
                .collect();
            prop_assert_eq!(out, expected);
        }
    }
}
