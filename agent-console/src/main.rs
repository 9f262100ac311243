//! `agent-console`: a headless clerk console for scripts and tests.
//!
//! Exit codes: 0 done (the `--calls` calls were handled and their cases recorded; with
//! `--monitor`, the call was watched); 1 error (server unreachable, sign-in refused, connection
//! lost, monitoring refused); 2 bad command line; 4 timed out (`--timeout`).

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
            println!("outcome: {} (call {}, {:?})", summary.outcome, summary.call, summary.by_party);
        }
        std::process::exit(match summary.outcome.as_str() {
            "watched" => 0,
            "timeout" => 4,
            _ => 1,
        });
    }
    let ran = agent_console::run_with(
        &cli.args,
        |msg| session::print::message(json, msg),
        |text| session::print::chat(json, "booth", text),
    )
    .await;
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
        println!("outcome: {} ({} calls, last ticket {:?})", summary.outcome, summary.calls, summary.ticket);
    }
    std::process::exit(match summary.outcome.as_str() {
        "done" => 0,
        "timeout" => 4,
        _ => 1,
    });
}
