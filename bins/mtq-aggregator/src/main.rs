//! `mtq-aggregator`: daily performance aggregation. Its commands arrive with the persistence and
//! analytics crates; for now it answers `--help` and `version`.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mtq-aggregator",
    version,
    about = "Aggregate MTQ trading performance by day"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version and the crate versions it was built with.
    Version,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => println!("mtq-aggregator {}", env!("CARGO_PKG_VERSION")),
    }
    Ok(())
}
