//! `mtq-aggregator`: daily performance aggregation. Its commands arrive with the persistence and
//! analytics crates; for now it answers `--help` and `version`.

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mtq-aggregator",
    version,
    about = "Aggregate MTQ trading performance by day"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version.
    Version,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => println!("mtq-aggregator {}", env!("CARGO_PKG_VERSION")),
        None => Cli::command().print_help()?,
    }
    Ok(())
}
