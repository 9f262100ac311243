//! Scenario test of what a supervisor's screen lists, in virtual time: the clerks of the scope
//! who are signed in, with their state and its age; the booths of the scope, offline ones first
//! (the one offline longest first) with when they went and their devices.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::{Desk, Now};
use protocol::{ClerkState, DeviceState};
use routing::{BoothIdx, ClerkIdx, Engine, EngineConfig, Input};

const WALL0: i64 = 1_800_000_000_000;

#[test]
fn a_supervisor_sees_the_scopes_clerks_and_its_offline_booths_first() {
    let dir = Arc::new(common::directory_with_booths(&[("booth-gudao-2", "gudao"), ("booth-gudao-3", "gudao")]));
    let t0 = Instant::now();
    let mut desk = Desk::new(Engine::new(dir.clone(), EngineConfig::default(), t0), true);
    let now = |secs: u64| Now { at: t0 + Duration::from_secs(secs), wall_ms: WALL0 + secs as i64 * 1000 };
    let connected: BTreeSet<ClerkIdx> = [ClerkIdx(0)].into();
    let (hekou, binzhou) = (dir.region_idx("hekou").unwrap(), dir.region_idx("binzhou").unwrap());
    let booth = |id: &str| dir.booth_idx(id).unwrap();

    desk.clerk_connected(ClerkIdx(0), now(0));
    desk.input(Input::ClerkSetAvailable { clerk: ClerkIdx(0) }, now(10).at).unwrap();
    for b in ["booth-gudao-1", "booth-gudao-2", "booth-gudao-3", "booth-bincheng-1"] {
        desk.booth_connected(booth(b), now(0));
    }
    desk.drain(now(10), &connected);
    desk.booth_disconnected(booth("booth-gudao-3"), now(20));
    desk.booth_disconnected(booth("booth-gudao-2"), now(30));
    let camera_denied = desk::Principal::Booth(booth("booth-gudao-1"));
    let report = protocol::ClientMessage::DeviceStatus { camera: DeviceState::Denied, microphone: DeviceState::Ok };
    desk.on_message(camera_denied, &report, now(31), &connected).unwrap();
    desk.drain(now(40), &connected);

    let clerks = desk.clerk_rows(hekou, now(45));
    assert_eq!(clerks.len(), 1);
    assert_eq!(
        (clerks[0].clerk.as_str(), clerks[0].state, clerks[0].secs_in_state),
        ("clerk-hekou-1", ClerkState::Available, 35)
    );
    assert_eq!(desk.clerk_rows(binzhou, now(45)), vec![], "another city's clerks are not listed");

    let online: BTreeSet<BoothIdx> = [booth("booth-gudao-1"), booth("booth-bincheng-1")].into();
    let rows = desk.booth_rows(hekou, &|b| online.contains(&b), now(45));
    let unix0 = (WALL0 / 1000) as u64;
    let listed: Vec<_> = rows.iter().map(|r| (r.booth.as_str(), r.online, r.offline_since_unix)).collect();
    assert_eq!(
        listed,
        vec![
            ("booth-gudao-3", false, Some(unix0 + 20)),
            ("booth-gudao-2", false, Some(unix0 + 30)),
            ("booth-gudao-1", true, None),
        ]
    );
    assert_eq!((rows[2].camera, rows[2].microphone), (Some(DeviceState::Denied), Some(DeviceState::Ok)));
    assert_eq!((rows[0].camera, rows[0].microphone), (None, None), "never reported");
}
