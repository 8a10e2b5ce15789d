use mtq_core::{Currency, StaticRates};
use rust_decimal_macros::dec;

use super::*;
use crate::testkit::*;

fn request<'a>(
    spec: &'a SymbolSpec,
    side: Side,
    entry: Decimal,
    sl: Decimal,
    account: &'a AccountInfo,
    rates: &'a StaticRates,
) -> SizingRequest<'a> {
    SizingRequest {
        spec,
        side,
        entry,
        sl: Some(sl),
        account,
        rates,
        stacked: 0,
    }
}

fn one_percent() -> SymbolRiskConfig {
    SymbolRiskConfig::default()
}

#[test]
fn one_percent_over_twenty_pips_is_correct_for_each_symbol_and_account_currency() {
    let rates = rates();
    // (symbol, side, entry, sl, [lots in a USD, EUR, JPY account])
    let table = [
        (
            "EURUSD",
            Side::Buy,
            dec!(1.10000),
            dec!(1.09800),
            [dec!(0.5), dec!(0.55), dec!(0.5)],
        ),
        (
            "USDJPY",
            Side::Sell,
            dec!(150.000),
            dec!(150.200),
            [dec!(0.75), dec!(0.82), dec!(0.75)],
        ),
        (
            "EURGBP",
            Side::Buy,
            dec!(0.88000),
            dec!(0.87800),
            [dec!(0.4), dec!(0.44), dec!(0.4)],
        ),
        (
            "XAUUSD",
            Side::Sell,
            dec!(2000.00),
            dec!(2010.00),
            [dec!(0.1), dec!(0.11), dec!(0.1)],
        ),
    ];
    let accounts = [
        account(Currency::USD, dec!(10000)),
        account(Currency::EUR, dec!(10000)),
        account(Currency::JPY, dec!(1500000)),
    ];
    for (name, side, entry, sl, expected) in table {
        let s = spec(name);
        for (acc, want) in accounts.iter().zip(expected) {
            let sized = size_position(&one_percent(), &request(&s, side, entry, sl, acc, &rates))
                .unwrap_or_else(|r| panic!("{name} in {}: {r}", acc.currency));
            assert_eq!(sized.volume, want, "{name} in a {} account", acc.currency);
            let budget = sized.budget.unwrap();
            assert!(sized.risk.unwrap() <= budget + MONEY_TOLERANCE, "{name}");
        }
    }
}

#[test]
fn volume_is_rounded_down_to_the_step_never_to_the_nearest() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    // 100 USD over 17 pips (170 USD a lot) is 0.588 lots.
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09830), &acc, &r);
    assert_eq!(
        size_position(&one_percent(), &req).unwrap().volume,
        dec!(0.58)
    );
}

#[test]
fn an_entry_whose_minimum_volume_risks_too_much_is_refused_not_rounded_up() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(100)));
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    let refusal = size_position(&one_percent(), &req).unwrap_err();
    assert_eq!(
        refusal,
        Refusal::MinimumVolumeTooRisky {
            symbol: sym("EURUSD"),
            min_volume: dec!(0.01),
            risk_at_min: dec!(2),
            budget: dec!(1),
            currency: Currency::USD,
        }
    );
    assert!(
        refusal
            .to_string()
            .contains("minimum volume 0.01 lots would risk 2 USD")
    );
}

#[test]
fn volume_is_capped_by_max_position_size_and_the_symbols_volume_max() {
    let (s, r, acc) = (
        spec("EURUSD"),
        rates(),
        account(Currency::USD, dec!(10000000)),
    );
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    assert_eq!(
        size_position(&one_percent(), &req).unwrap().volume,
        dec!(100)
    );
    let capped = SymbolRiskConfig {
        max_position_size: Some(dec!(2.5)),
        ..one_percent()
    };
    assert_eq!(size_position(&capped, &req).unwrap().volume, dec!(2.5));
}

#[test]
fn a_min_position_size_above_the_sized_volume_refuses_the_entry() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    let cfg = SymbolRiskConfig {
        min_position_size: Some(dec!(1)),
        ..one_percent()
    };
    assert_eq!(
        size_position(&cfg, &req).unwrap_err().code(),
        "minimum_volume_too_risky"
    );
}

#[test]
fn each_stacked_position_scales_the_risk_down() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    let mut req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    req.stacked = 2;
    // 100 USD * 0.5 * 0.5 = 25 USD over 200 USD a lot.
    let sized = size_position(&one_percent(), &req).unwrap();
    assert_eq!(sized.budget, Some(dec!(25)));
    assert_eq!(sized.volume, dec!(0.12));
}

#[test]
fn round_trip_commission_counts_against_the_risk_budget() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    let cfg = SymbolRiskConfig {
        commission_per_lot: dec!(3.5),
        ..one_percent()
    };
    // 200 + 2 * 3.5 = 207 USD a lot: 100 / 207 = 0.483.
    let sized = size_position(&cfg, &req).unwrap();
    assert_eq!(sized.volume, dec!(0.48));
    assert_eq!(sized.risk, Some(dec!(99.36)));
}

#[test]
fn equity_can_be_the_risk_base() {
    let (s, r) = (spec("EURUSD"), rates());
    let mut acc = account(Currency::USD, dec!(10000));
    acc.equity = dec!(8000);
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    let cfg = SymbolRiskConfig {
        risk_base: RiskBase::Equity,
        ..one_percent()
    };
    assert_eq!(size_position(&cfg, &req).unwrap().volume, dec!(0.4));
}

#[test]
fn fixed_volume_mode_rounds_down_and_refuses_below_the_minimum() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    let mut req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    let cfg = SymbolRiskConfig {
        sizing_mode: SizingMode::FixedVolume,
        fixed_volume: dec!(0.037),
        ..one_percent()
    };
    let sized = size_position(&cfg, &req).unwrap();
    assert_eq!(sized.volume, dec!(0.03));
    assert_eq!(sized.risk, Some(dec!(6)));
    req.sl = None;
    assert_eq!(size_position(&cfg, &req).unwrap().risk, None);
    let tiny = SymbolRiskConfig {
        fixed_volume: dec!(0.005),
        ..cfg
    };
    assert_eq!(
        size_position(&tiny, &req).unwrap_err().code(),
        "below_minimum_volume"
    );
}

#[test]
fn fraction_of_equity_mode_fits_margin_and_entry_commission_in_the_free_margin_share() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &acc, &r);
    let cfg = SymbolRiskConfig {
        sizing_mode: SizingMode::FractionOfEquity,
        equity_fraction: dec!(0.1),
        commission_per_lot: dec!(5),
        ..one_percent()
    };
    // 1,000 USD of free margin share; a lot needs 1,100 USD margin + 5 USD commission.
    let sized = size_position(&cfg, &req).unwrap();
    assert_eq!(sized.volume, dec!(0.9));
    assert!(sized.required_margin + dec!(5) * sized.volume <= dec!(1000));
    let mut broke = acc.clone();
    broke.free_margin = dec!(5);
    let req = SizingRequest {
        account: &broke,
        ..req
    };
    assert_eq!(
        size_position(&cfg, &req).unwrap_err().code(),
        "below_minimum_volume"
    );
}

#[test]
fn risk_sizing_needs_a_stop_loss_on_the_losing_side() {
    let (s, r, acc) = (spec("EURUSD"), rates(), account(Currency::USD, dec!(10000)));
    let mut req = request(&s, Side::Buy, dec!(1.10000), dec!(1.10200), &acc, &r);
    assert_eq!(
        size_position(&one_percent(), &req).unwrap_err().code(),
        "stop_loss_wrong_side"
    );
    req.sl = None;
    assert_eq!(
        size_position(&one_percent(), &req).unwrap_err().code(),
        "no_stop_loss"
    );
}

#[test]
fn missing_rates_and_an_empty_account_are_refused_by_name() {
    let (s, r) = (spec("EURUSD"), rates());
    let chf = account(Currency::new("CHF").unwrap(), dec!(10000));
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &chf, &r);
    let refusal = size_position(&one_percent(), &req).unwrap_err();
    assert!(refusal.to_string().contains("USD to CHF"), "{refusal}");
    let empty = account(Currency::USD, Decimal::ZERO);
    let req = request(&s, Side::Buy, dec!(1.10000), dec!(1.09800), &empty, &r);
    assert_eq!(
        size_position(&one_percent(), &req).unwrap_err().code(),
        "no_risk_capital"
    );
}

#[test]
fn stopless_entries_are_refused_at_load_with_risk_percent_sizing_or_a_portfolio_cap() {
    let risk = one_percent();
    let err = check_stopless_entries(&risk, dec!(100)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "risk-percent sizing needs a stop loss; use fixed lots or equity sizing with stop_mode: none"
    );
    let fixed = SymbolRiskConfig {
        sizing_mode: SizingMode::FixedVolume,
        ..one_percent()
    };
    let equity = SymbolRiskConfig {
        sizing_mode: SizingMode::FractionOfEquity,
        ..one_percent()
    };
    assert_eq!(check_stopless_entries(&fixed, dec!(100)), Ok(()));
    assert_eq!(check_stopless_entries(&equity, dec!(100)), Ok(()));
    let err = check_stopless_entries(&fixed, dec!(6)).unwrap_err();
    assert!(
        err.to_string().contains("portfolio_risk_percent 6"),
        "{err}"
    );
}

#[test]
fn a_stop_loss_at_or_below_zero_is_refused_with_its_reason() {
    // A 50-dollar stop under a 40-dollar price: the stop lies below zero.
    let spec = spec("XAUUSD");
    let account = account(Currency::USD, dec!(10000));
    let rates = rates();
    let fixed = SymbolRiskConfig {
        sizing_mode: SizingMode::FixedVolume,
        ..one_percent()
    };
    let req = request(
        &spec,
        Side::Buy,
        dec!(40.00),
        dec!(-10.00),
        &account,
        &rates,
    );
    let err = size_position(&fixed, &req).unwrap_err();
    assert_eq!(err.code(), "invalid_price");
    assert!(err.to_string().contains("stop_mode: none"), "{err}");
}
