//! `agent-console`: a headless clerk console for scripts and tests.

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Headless Xiaowu clerk console (坐席)")]
struct Cli {
    #[command(flatten)]
    args: agent_console::AgentArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let json = cli.args.json;
    let summary = agent_console::run(&cli.args, |msg| {
        if json {
            println!("{}", msg.encode());
        } else {
            println!("<- {msg:?}");
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("outcome: {} ({} calls, last ticket {:?})", summary.outcome, summary.calls, summary.ticket);
    }
    if summary.outcome == "error" {
        std::process::exit(1);
    }
    Ok(())
}
