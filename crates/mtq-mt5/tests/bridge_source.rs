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

#[test]
fn each_trade_request_carries_the_action_the_document_names_and_the_bridge_checks_it() {
    for (kind, action) in [
        ("position_close", "TRADE_ACTION_DEAL"),
        ("position_modify", "TRADE_ACTION_SLTP"),
        ("order_cancel", "TRADE_ACTION_REMOVE"),
    ] {
        assert!(
            DOC.contains(&format!("| `{kind}` | `{action}` |")),
            "docs/mt5-bridge.md does not give {kind} its action {action}"
        );
        assert!(
            EA.contains(&format!(
                "if(type == \"{kind}\") return action == \"{action}\";"
            )) || EA.contains(&format!(
                "if(type == \"{kind}\")  return action == \"{action}\";"
            )) || EA.contains(&format!(
                "if(type == \"{kind}\")    return action == \"{action}\";"
            )),
            "MtqBridge.mq5 does not check {kind}'s action"
        );
    }
    assert!(EA.contains("if(!ActionFits(type, S(\"action\")))"));
    assert!(EA.contains("if(!ActionFits(\"order_check\", S(\"action\")))"));
}

#[test]
fn the_bridge_answers_position_from_the_deal_and_selects_symbols_outside_market_watch() {
    assert!(EA.contains("HistoryDealGetInteger(deal, DEAL_POSITION_ID)"));
    assert!(DOC.contains("DEAL_POSITION_ID"));
    for handler in [
        "void DoTick(",
        "void DoRates(",
        "void DoTrade(",
        "void DoOrderCheck(",
    ] {
        let body = EA
            .split(handler)
            .nth(1)
            .and_then(|rest| rest.split("\n  }\n").next())
            .unwrap_or_else(|| panic!("{handler} is defined"));
        assert!(
            body.contains("EnsureSelected("),
            "{handler} does not select a symbol outside Market Watch"
        );
    }
    assert!(DOC.contains("4302") && DOC.contains("symbol_select {symbol, enable: true}"));
}
