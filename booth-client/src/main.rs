//! `booth-client`: a headless booth for scripts and tests.

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Headless Xiaowu booth client (政务晓屋 终端)")]
struct Cli {
    #[command(flatten)]
    args: booth_client::BoothArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let json = cli.args.json;
    let summary = booth_client::run(&cli.args, |msg| {
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
        println!(
            "outcome: {} (ticket {:?}, clerk {:?}, waited {} ms)",
            summary.outcome, summary.ticket, summary.clerk, summary.waited_ms
        );
    }
    if summary.outcome == "error" {
        std::process::exit(1);
    }
    Ok(())
}
