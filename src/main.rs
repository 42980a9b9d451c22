//! Wiring only: parse the command line and hand over to the command.

use std::process::ExitCode;

use clap::Parser;

/// glibc gives every thread that allocates its own arena (up to 8 per core) and rarely returns
/// their memory: with a pool of blocking threads handling large bulks, peak RSS grows several
/// times over what the requests need. Two arenas keep memory close to the working set.
const MALLOC_ARENAS: i32 = 2;

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
    let cli = ptt_ledger::cli::Cli::parse();
    ptt_ledger::telemetry::init(cli.log_format);
    match ptt_ledger::cli::run(cli) {
        Ok(code) => code,
        // 1 is a command's own "no" (verify found a problem); 2 is "could not run", as for a
        // usage error.
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
