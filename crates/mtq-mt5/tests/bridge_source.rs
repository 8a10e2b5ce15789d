//! The MQL5 bridge cannot be compiled on Linux; these checks keep it in step with the protocol
//! the connector speaks and the document describes.

use mtq_mt5::RequestKind;

const EA: &str = include_str!("../bridge/MtqBridge.mq5");
const DOC: &str = include_str!("../../../docs/mt5-bridge.md");

#[test]
fn the_bridge_and_the_document_cover_every_request_type() {
    for kind in RequestKind::ALL {
        let name = kind.name();
        assert!(
            EA.contains(&format!("type == \"{name}\"")),
            "MtqBridge.mq5 does not answer {name}"
        );
        assert!(
            DOC.contains(&format!("`{name}`")),
            "docs/mt5-bridge.md does not describe {name}"
        );
    }
}

#[test]
fn the_bridge_sends_every_push_and_the_hello_fields_the_connector_reads() {
    for needle in [
        "\"hello\"",
        "\"heartbeat\"",
        "\"tick\"",
        "\"trade_transaction\"",
        "\\\"time_trade_server\\\"",
        "\\\"time_gmt\\\"",
        "\\\"margin_mode\\\"",
        "\\\"terminal_build\\\"",
        "OnTradeTransaction",
        "EventSetMillisecondTimer",
    ] {
        assert!(EA.contains(needle), "MtqBridge.mq5 lacks {needle}");
    }
}

#[test]
fn the_bridge_escapes_quotes_backslashes_and_control_characters() {
    let escape = EA
        .split("string JsonEscape(")
        .nth(1)
        .and_then(|rest| rest.split("\n  }\n").next())
        .expect("JsonEscape is defined");
    for case in ["'\"'", "'\\\\'", "'\\n'", "'\\r'", "c < 0x20"] {
        assert!(escape.contains(case), "JsonEscape does not handle {case}");
    }
}
