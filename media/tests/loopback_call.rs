//! Two real webrtc-rs peers on loopback, signaling passed by hand: media flows both ways and the
//! chat channel carries text both ways.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use xiaowu_media::{CallPeer, PeerConfig, PeerEvent};

/// Forwards candidates from one peer's events to the other; returns chat texts seen.
async fn pump(from: &mut UnboundedReceiver<PeerEvent>, to: &CallPeer, chats: &mut Vec<String>) {
    while let Ok(ev) = from.try_recv() {
        match ev {
            PeerEvent::LocalCandidate { candidate, sdp_mid, sdp_mline_index } => {
                to.add_remote_candidate(candidate, sdp_mid, sdp_mline_index).await.unwrap()
            }
            PeerEvent::Chat(t) => chats.push(t),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_and_chat_flow_both_ways() {
    let cfg = PeerConfig::default();
    let (clerk, mut clerk_ev) = CallPeer::new(&cfg).await.unwrap();
    let (booth, mut booth_ev) = CallPeer::new(&cfg).await.unwrap();
    let offer = clerk.create_offer().await.unwrap();
    let answer = booth.answer(&offer).await.unwrap();
    clerk.accept_answer(&answer).await.unwrap();
    clerk.start_media();
    booth.start_media();
    let (mut clerk_chats, mut booth_chats) = (vec![], vec![]);
    let mut said = false;
    for _ in 0..200 {
        pump(&mut clerk_ev, &booth, &mut clerk_chats).await;
        pump(&mut booth_ev, &clerk, &mut booth_chats).await;
        let (c, b) = (clerk.counters().snapshot(), booth.counters().snapshot());
        if !said && c.video_packets > 0 && b.video_packets > 0 {
            clerk.send_chat("请出示身份证").await.unwrap();
            booth.send_chat("好的").await.unwrap();
            said = true;
        }
        if c.video_frames > 30
            && b.video_frames > 30
            && c.audio_packets > 50
            && b.audio_packets > 50
            && !clerk_chats.is_empty()
            && !booth_chats.is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (c, b) = (clerk.counters().snapshot(), booth.counters().snapshot());
    assert!(c.video_frames > 30 && b.video_frames > 30, "video frames: clerk {c:?}, booth {b:?}");
    assert!(c.audio_packets > 50 && b.audio_packets > 50, "audio: clerk {c:?}, booth {b:?}");
    assert_eq!(booth_chats, vec!["请出示身份证".to_string()]);
    assert_eq!(clerk_chats, vec!["好的".to_string()]);
    let stats = clerk.stats().await;
    assert!(stats.packets_received > 0, "{stats:?}");
    clerk.close().await;
    booth.close().await;
}
