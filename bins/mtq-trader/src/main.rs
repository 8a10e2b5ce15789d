//! `mtq-trader`: the MTQ trader binary. It parses arguments, loads config, wires the library
//! crates together and prints; the work happens in the crates. Today it answers `--help` and
//! `version`; `trade`, `backtest`, `optimize`, `serve`, `check` and `import` arrive with the issues
//! that build them.

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mtq-trader",
    version,
    about = "MTQ: automated forex trading for MetaTrader 5",
    long_about = "MTQ connects to a MetaTrader 5 terminal (or its built-in simulated broker), runs \
                  strategies on many currency pairs, sizes and checks every order against risk \
                  rules, and records everything it does."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the MTQ version and the simulated broker's built-in symbols.
    Version,
}

/// Symbols with built-in specifications (`SymbolSpec::builtin`).
const BUILTIN_SYMBOLS: [&str; 12] = [
    "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDJPY", "USDCHF", "USDCAD", "EURGBP", "EURJPY",
    "GBPJPY", "EURCHF", "XAUUSD",
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!("mtq-trader {}", env!("CARGO_PKG_VERSION"));
            let known: Vec<&str> = BUILTIN_SYMBOLS
                .into_iter()
                .filter(|s| mtq_core::SymbolSpec::builtin(s).is_some())
                .collect();
            println!("built-in symbol specs: {}", known.join(" "));
        }
        None => Cli::command().print_help()?,
    }
    Ok(())
}
