//! The relay's side of the control link (`xiaowu-relay`): accepts the server's connections,
//! checks each one's `hello` proof (or serves one recording's `fetch`, [`crate::transfer`]),
//! then carries out its [`Op`]s on rooms of its own and reports their events and counts. The
//! rooms belong to the connection: when it ends they are closed (each recording completed).

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};

use crate::control::{read_line, write_json, Op, Report, HELLO_TIMEOUT, RETRY};
use crate::handshake::{verify, Challenge, Purpose};
use crate::relay::LocalRelay;
use crate::RelayConfig;

/// Serves control connections until the listener fails: each connection that says `hello` with
/// `secret` drives rooms of its own.
pub async fn serve(listener: TcpListener, config: RelayConfig, secret: String) -> std::io::Result<()> {
    loop {
        let (stream, from) = listener.accept().await?;
        let (config, secret) = (config.clone(), secret.clone());
        tokio::spawn(async move {
            tracing::info!(%from, "control connection");
            serve_one(stream, config, &secret).await;
            tracing::info!(%from, "control connection ended: its rooms are closed");
        });
    }
}

async fn serve_one(stream: TcpStream, config: RelayConfig, secret: &str) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let challenge = Challenge::fresh();
    if write_json(&mut write, &challenge).await.is_err() {
        return;
    }
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_line(&mut reader)).await.ok().flatten();
    match hello.and_then(|l| serde_json::from_str::<Op>(&l).ok()) {
        Some(Op::Hello { proof }) if verify(secret, &challenge, Purpose::Control, &proof) => {}
        Some(Op::Fetch { proof, file }) if verify(secret, &challenge, Purpose::Fetch(&file), &proof) => {
            if let Err(e) = crate::transfer::send(&mut write, config.record_dir.as_deref(), &file).await {
                tracing::warn!(error = %e, "a recording's transfer broke off");
            }
            return;
        }
        _ => {
            tracing::warn!("control connection refused: no hello proving the shared secret");
            return;
        }
    }
    let (relay, mut events) = LocalRelay::start(config);
    let mut counts = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            line = read_line(&mut reader) => {
                let Some(line) = line else { break };
                match serde_json::from_str::<Op>(&line) {
                    Ok(op) => apply(&relay, op),
                    Err(e) => tracing::warn!(error = %e, "control line not understood"),
                }
            }
            Some(event) = events.recv() => {
                if write_json(&mut write, &Report::Event { event }).await.is_err() {
                    break;
                }
            }
            _ = counts.tick() => {
                let (packets, bytes) = relay.forwarded();
                let report = Report::Counts { rooms: relay.rooms(), packets, bytes };
                if write_json(&mut write, &report).await.is_err() {
                    break;
                }
            }
        }
    }
    for call in relay.open_calls() {
        relay.close(call);
    }
}

fn apply(relay: &LocalRelay, op: Op) {
    // A call or party the relay does not have is a stale message: nothing to do.
    let _ = match op {
        Op::Hello { .. } | Op::Fetch { .. } => Ok(()),
        Op::Open { call, parties, fresh } => {
            relay.open(call, parties, fresh);
            Ok(())
        }
        Op::Join { call, spec } => relay.join(call, spec),
        Op::Rejoin { call, spec } => relay.rejoin(call, spec),
        Op::Answer { call, party, sdp } => relay.answer(call, party, sdp),
        Op::Candidate { call, party, candidate, sdp_mid, sdp_mline_index } => {
            relay.candidate(call, party, candidate, sdp_mid, sdp_mline_index)
        }
        Op::Leave { call, party } => relay.leave(call, party),
        Op::Close { call } => {
            relay.close(call);
            Ok(())
        }
    };
}
