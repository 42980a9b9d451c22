//! Wiring only: parse the command line and hand over to the command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ptt_ledger::cli::Cli::parse();
    ptt_ledger::telemetry::init(cli.log_format);
    match ptt_ledger::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
