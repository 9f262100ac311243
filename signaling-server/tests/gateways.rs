//! Every node is a gateway, as real processes on one Redis and one PostgreSQL. Node C routes; a
//! citizen on node A is served by a clerk on node B while the supervisor on node C watches: the
//! inputs cross through the input stream, the answers through each gateway's outbound stream,
//! the booth's photo is uploaded to A (which checks the call on its warm replica) and reaches the
//! clerk on B. Then a gateway is killed with SIGKILL in the middle of a call and with a citizen
//! waiting: the router notices the silent gateway, the clients reconnect to another node within
//! their graces, the call goes on and the waiting citizen keeps the ticket.

mod common;

use std::time::Duration;

use common::cluster::*;
use common::*;
use protocol::{CaseOutcome, ClientMessage, Role, ServerMessage, TicketNotice};
use session::Session;

fn id_card_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 500, |x, y| image::Rgb([(x / 4) as u8, (y / 2) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `clerk` signs in available, `booth` asks, the clerk accepts and both report media up.
/// Returns the call and the ticket.
async fn start_call(booth: &mut Session, clerk: &mut Session) -> (protocol::CallId, protocol::TicketId) {
    clerk.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();
    expect(clerk, "available", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }).then_some(())
    })
    .await;
    call_between(booth, clerk).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booth_on_one_node_is_served_by_a_clerk_on_another_and_watched_from_a_third() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let c = cluster.node("c");
    wait_for_router(&c, WAIT);
    let (a, b) = (cluster.node("a"), cluster.node("b"));
    for (node, name) in [(&a, "a"), (&b, "b")] {
        let health = node.health();
        assert_eq!((health["status"].as_str(), health["role"].as_str()), (Some("ok"), Some("standby")), "{name}");
    }

    let mut supervisor = connect(&c, Role::Supervisor, "sup-dongying").await;
    let mut clerk = connect(&b, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = connect(&a, Role::Booth, "booth-gudao-1").await;
    let (call, ticket) = start_call(&mut booth, &mut clerk).await;

    // Signaling crosses gateways: the media relay runs with the router (node C); its offers reach
    // the booth on node A and the clerk on node B.
    for (who, s) in [("booth", &mut booth), ("clerk", &mut clerk)] {
        let offered = expect(s, "the relay's offer", |m| match m {
            ServerMessage::Sdp { call: c, kind: protocol::SdpKind::Offer, sdp, .. } => {
                Some((*c, sdp.starts_with("v=0")))
            }
            _ => None,
        })
        .await;
        assert_eq!(offered, (call, true), "{who}");
    }
    // And a party's candidate goes back to the router (for the relay) without an error.
    let candidate = "candidate:1 1 udp 2122260223 192.168.1.20 54400 typ host".to_owned();
    clerk.send(ClientMessage::IceCandidate { call, candidate, sdp_mid: None, sdp_mline_index: None }).await.unwrap();

    // The supervisor on node C sees the clerk of node B in a call.
    expect(&mut supervisor, "the clerk in a call", |m| match m {
        ServerMessage::ClerkList { clerks } => {
            clerks.iter().any(|r| r.clerk == "clerk-hekou-1" && r.state == protocol::ClerkState::InCall).then_some(())
        }
        _ => None,
    })
    .await;

    // The booth's photo goes to node A (a standby: it checks the call on its replica); the clerk
    // on node B is told and reads it from node B.
    let booth_token = token(&a, Role::Booth, "booth-gudao-1").await;
    let url = format!("{}/api/calls/{}/documents?doc_type=id_front", a.url(), call.0);
    let reply = session::post_bytes(url, booth_token, "image/jpeg", id_card_photo()).await.unwrap();
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let document = expect(&mut clerk, "document ready", |m| match m {
        ServerMessage::DocumentReady { document, .. } => Some(document.clone()),
        _ => None,
    })
    .await;
    let clerk_token = token(&b, Role::Clerk, "clerk-hekou-1").await;
    let read = session::get_bytes(format!("{}/api/documents/{}", b.url(), document.as_str()), clerk_token).await;
    assert_eq!(read.unwrap().status, 200);
    // The clerk's review reaches the booth (the router learnt of the document from node A).
    clerk
        .send(ClientMessage::ReviewDocument { document: document.clone(), accepted: true, reason: None })
        .await
        .unwrap();
    expect(&mut booth, "reviewed", |m| matches!(m, ServerMessage::DocumentReviewed { .. }).then_some(())).await;

    clerk.send(ClientMessage::HangUp { call }).await.unwrap();
    expect(&mut booth, "served", |m| matches!(m, ServerMessage::TicketClosed { .. }).then_some(())).await;
    let note = Some("材料齐全，已核验".to_owned());
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note }).await.unwrap();
    expect(&mut clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    // The case has the clerk's note: the standbys replaying the log (which holds only a mask of
    // it) did not write the case before the router did.
    let clerk_token = token(&a, Role::Clerk, "clerk-hekou-1").await;
    let cases: serde_json::Value = get_json(&a, "/api/cases", clerk_token).await;
    assert_eq!(cases["cases"][0]["note"], "材料齐全，已核验", "{cases}");
    booth.send(ClientMessage::RateService { ticket, rating: protocol::Rating::Satisfied, reason: None }).await.unwrap();
    expect(&mut booth, "rating recorded", |m| matches!(m, ServerMessage::RatingRecorded { .. }).then_some(())).await;

    // One log for all three gateways; each connection logged with the gateway holding it.
    let log = replay_twice(&cluster.redis.url());
    for node in ["a", "b", "c"] {
        assert!(log.contains(&format!("\"gateway\":\"{node}:")), "no connection on {node}: {log}");
    }
    assert_eq!(log.lines().filter(|l| l.trim_start().starts_with("CallStarted")).count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_call_costs_nobody_their_call_or_place() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let c = cluster.node("c");
    wait_for_router(&c, WAIT);
    let (a, b) = (cluster.node("a"), cluster.node("b"));

    // On node A: a call, and a citizen waiting behind it (the hall's other clerk is away).
    let mut clerk = connect(&a, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = connect(&a, Role::Booth, "booth-gudao-1").await;
    let (call, _) = start_call(&mut booth, &mut clerk).await;
    let _away = connect(&b, Role::Clerk, "clerk-hekou-2").await;
    let mut waiting = connect(&a, Role::Booth, "booth-gudao-2").await;
    waiting.send(teacher_cert()).await.unwrap();
    let place = expect(&mut waiting, "a place", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(p), .. } => Some((*ticket, *p)),
        _ => None,
    })
    .await;

    a.kill_9();
    drop((clerk, booth, waiting));
    // Long enough for the router to take the silent gateway's connections as gone (three missed
    // heartbeats), well within the clerk's 15 s and the booth's 30 s graces.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut clerk = connect(&b, Role::Clerk, "clerk-hekou-1").await;
    let again = expect(&mut clerk, "the call again", |m| match m {
        ServerMessage::CallStarted { call, .. } => Some(*call),
        ServerMessage::CallEnded { .. } => panic!("the call ended with the gateway"),
        _ => None,
    })
    .await;
    assert_eq!(again, call);
    let mut booth = connect(&b, Role::Booth, "booth-gudao-1").await;
    expect(&mut booth, "the call again", |m| match m {
        ServerMessage::CallStarted { call: c, .. } if *c == call => Some(()),
        ServerMessage::CallEnded { .. } => panic!("the call ended with the gateway"),
        _ => None,
    })
    .await;
    let mut waiting = connect(&c, Role::Booth, "booth-gudao-2").await;
    let back = expect(&mut waiting, "resumed", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(p), notice: Some(TicketNotice::Resumed), .. } => {
            Some((*ticket, *p))
        }
        _ => None,
    })
    .await;
    assert_eq!(back, place, "the waiting citizen keeps the ticket and the place");

    // The call ends as usual from the new gateway, and its case is recorded.
    clerk.send(ClientMessage::HangUp { call }).await.unwrap();
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: None }).await.unwrap();
    expect(&mut clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    let log = replay_twice(&cluster.redis.url());
    assert!(log.contains("\"gateway_lost\":{\"gateway\":\"a:"), "the router logged the lost gateway: {log}");
    assert_eq!(log.lines().filter(|l| l.trim_start().starts_with("CallEnded")).count(), 1, "{log}");
}
