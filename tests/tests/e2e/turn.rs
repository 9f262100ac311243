//! A call whose media may only go through TURN: a real coturn on loopback, credentials minted by
//! the server per call (coturn REST scheme), relay-only ICE policy on both clients.

use protocol::{Role, ServerMessage};
use xiaowu_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_call_through_coturn_with_minted_credentials() {
    let turn = Coturn::start();
    let server = start(settings(|s| s.file.turn = Some(turn.config()))).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            relay_only: true,
            hold: Some(2.0),
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move {
            let mut ice = vec![];
            let summary = agent_console::run(&args, |m| {
                if let ServerMessage::CallStarted { ice_servers, .. } = m {
                    ice = ice_servers.clone();
                }
            })
            .await;
            (summary, ice)
        }
    });
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "clerk available", |m| match m {
        ServerMessage::QueueLoad { rows } => {
            rows.iter().any(|r| r.region.as_str() == "hekou" && r.clerks_available > 0).then_some(())
        }
        _ => None,
    })
    .await;
    let args = booth_client::BoothArgs {
        relay_only: true,
        ..booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert")
    };
    let b = booth_client::run(&args, |_| {}).await.unwrap();
    let (a, ice) = agent.await.unwrap();
    let a = a.unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");
    assert!(b.frames_received > 0 && b.audio_packets_received > 0, "booth: {b:?}");
    assert!(a.frames_received > 0 && a.audio_packets_received > 0, "clerk: {a:?}");
    // The clerk's credentials: "<expiry>:clerk-hekou-1" with the coturn REST password.
    let turn_entry = ice.iter().find(|s| s.urls.iter().any(|u| u.starts_with("turn:"))).expect("a TURN entry");
    let username = turn_entry.username.clone().unwrap();
    assert!(username.ends_with(":clerk-hekou-1"), "{username}");
    assert_eq!(
        turn_entry.credential.as_deref(),
        Some(signaling_server::turn::password(&turn.secret, &username).as_str())
    );
    // coturn authenticated both parties' minted credentials, allocated relays and let them talk.
    let log = turn.log();
    for user in ["clerk-hekou-1", "booth-gudao-1"] {
        let allocated = log.lines().any(|l| l.contains(user) && l.contains("ALLOCATE processed, success"));
        assert!(allocated, "no TURN allocation for {user}:\n{log}");
    }
    assert!(log.contains("CREATE_PERMISSION processed, success"), "no TURN permission:\n{log}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_path_broken_for_seconds_recovers_with_an_ice_restart() {
    let turn = Coturn::start();
    // Peer to peer through TURN: the clerk's console restarts ICE.
    let server = start(settings(|s| {
        s.file.turn = Some(turn.config());
        s.file.media.mode = protocol::MediaMode::P2p;
    }))
    .await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args =
            agent_console::AgentArgs { relay_only: true, ..agent_console::AgentArgs::new(&url, "clerk-hekou-1") };
        async move { agent_console::run(&args, |_| {}).await }
    });
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "clerk available", |m| match m {
        ServerMessage::QueueLoad { rows } => {
            rows.iter().any(|r| r.region.as_str() == "hekou" && r.clerks_available > 0).then_some(())
        }
        _ => None,
    })
    .await;
    let booth = tokio::spawn({
        let args = booth_client::BoothArgs {
            relay_only: true,
            hold: Some(14.0),
            ..booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert")
        };
        async move { booth_client::run(&args, |_| {}).await }
    });
    // Let the media flow, then freeze the relay for 4 s: every packet of the call is lost.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    turn.pause();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    turn.resume();
    let b = booth.await.unwrap().unwrap();
    let a = agent.await.unwrap().unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");
    let (am, bm) = (a.media.last().cloned().unwrap(), b.media.clone().unwrap());
    assert!(am.ice_restarts >= 1, "the clerk restarted ICE: {am:?}");
    assert!(bm.ice_restarts >= 1, "the booth answered the restart: {bm:?}");
    // After the restart the media came back on both sides (several seconds at 15 fps).
    assert!(am.frames_after_restart.unwrap_or(0) >= 30, "clerk after restart: {am:?}");
    assert!(bm.frames_after_restart.unwrap_or(0) >= 30, "booth after restart: {bm:?}");
    server.shutdown().await;
}
