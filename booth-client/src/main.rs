//! `booth-client`: a headless booth for scripts and tests.
//!
//! Exit codes: 0 served; 1 error (server unreachable, sign-in refused, connection lost); 2 bad
//! command line; 3 the ticket ended without service (`no_clerk`, `expired`, `cancelled`, …, the
//! summary's `outcome`); 4 timed out (`--timeout`).
#![forbid(unsafe_code)]

use clap::Parser;

#[derive(Parser)]
#[command(
    version,
    about = "Headless Xiaowu booth client (政务晓屋 终端)",
    after_help = "Exit codes: 0 served, 1 error, 2 bad arguments, 3 not served (see the summary's outcome), 4 timed out."
)]
struct Cli {
    #[command(flatten)]
    args: booth_client::BoothArgs,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let json = cli.args.json;
    let ran = booth_client::run_with(
        &cli.args,
        |msg| session::print::message(json, msg),
        |text| session::print::chat(json, "clerk", text),
    )
    .await;
    let summary = match ran {
        Ok(s) => s,
        Err(e) => {
            eprintln!("booth-client: {e}");
            std::process::exit(1);
        }
    };
    if json {
        println!("{}", serde_json::to_string(&summary).expect("the summary serializes"));
    } else {
        println!(
            "outcome: {} (ticket {:?}, clerk {:?}, waited {} ms)",
            summary.outcome, summary.ticket, summary.clerk, summary.waited_ms
        );
    }
    std::process::exit(match summary.outcome.as_str() {
        "served" => 0,
        "error" => 1,
        "timeout" => 4,
        _ => 3,
    });
}
