//! `agent-console`: a headless clerk console for scripts and tests.
//!
//! Exit codes: 0 done (the `--calls` calls were handled and their cases recorded; with
//! `--monitor`, the call was watched; with `--join-invites`, a call was joined, or taken over
//! after a transfer and its case recorded); 1 error (server unreachable, sign-in refused, connection
//! lost, monitoring refused); 2 bad command line; 4 timed out (`--timeout`).
#![forbid(unsafe_code)]

use clap::Parser;

#[derive(Parser)]
#[command(
    version,
    about = "Headless Xiaowu clerk console (坐席)",
    after_help = "Exit codes: 0 done, 1 error, 2 bad arguments, 4 timed out."
)]
struct Cli {
    #[command(flatten)]
    args: agent_console::AgentArgs,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let json = cli.args.json;
    if let Some(call) = cli.args.monitor {
        let ran = agent_console::monitor::run(&cli.args, call, |msg| session::print::message(json, msg)).await;
        finish(
            json,
            ran,
            "watched",
            |s| format!("outcome: {} (call {}, {:?})", s.outcome, s.call, s.by_party),
            |s| s.outcome.clone(),
        );
    }
    if cli.args.join_invites {
        let ran = agent_console::guest::run(&cli.args, |msg| session::print::message(json, msg)).await;
        finish(
            json,
            ran,
            "joined",
            |s| format!("outcome: {} (call {:?}, {:?})", s.outcome, s.call, s.by_party),
            // A call taken over after a transfer is a success too.
            |s| if s.outcome == "transferred" { "joined".into() } else { s.outcome.clone() },
        );
    }
    let ran = agent_console::run_with(
        &cli.args,
        |msg| session::print::message(json, msg),
        |text| session::print::chat(json, "booth", text),
    )
    .await;
    finish(
        json,
        ran,
        "done",
        |s| format!("outcome: {} ({} calls, last ticket {:?})", s.outcome, s.calls, s.ticket),
        |s| s.outcome.clone(),
    );
}

/// Prints the summary (a JSON line with `--json`, else `line`) and exits: 0 when the outcome is
/// `success`, 4 on `timeout`, 1 otherwise or on an error.
fn finish<S: serde::Serialize>(
    json: bool,
    ran: Result<S, session::SessionError>,
    success: &str,
    line: impl Fn(&S) -> String,
    outcome: impl Fn(&S) -> String,
) -> ! {
    let summary = match ran {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agent-console: {e}");
            std::process::exit(1);
        }
    };
    if json {
        println!("{}", serde_json::to_string(&summary).expect("the summary serializes"));
    } else {
        println!("{}", line(&summary));
    }
    let outcome = outcome(&summary);
    std::process::exit(if outcome == success {
        0
    } else if outcome == "timeout" {
        4
    } else {
        1
    });
}
