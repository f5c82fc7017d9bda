use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = finlink::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("finlink: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(finlink::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finlink: {e:#}");
            ExitCode::FAILURE
        }
    }
}
