//! Where a clerk's signed-in time goes, from the engine's state changes on the caller's timeline:
//! each change closes one stretch and opens the next; a call that ends into wrap-up is counted as
//! finished; signed-out and disconnected time is nothing; an hour boundary cuts open stretches so
//! an hour's sums are complete; a snapshot's open stretches go on after a restore.

use desk::clerk_time::{ClerkActivity, ClerkTime, Stretch};
use routing::{Action, AwayReason, ClerkIdx, ClerkState};

mod common;

/// 2026-12-01 09:00 China time, Unix ms.
const NINE: i64 = 1_796_086_800_000;

fn change(clerk: ClerkIdx, state: ClerkState) -> Action {
    Action::ClerkStateChanged { clerk, state }
}

fn stretch(activity: ClerkActivity, from_s: i64, to_s: i64, call_finished: bool) -> Stretch {
    Stretch {
        clerk: "clerk-hekou-1".into(),
        hall: "hekou".into(),
        activity,
        start_ms: NINE + from_s * 1000,
        end_ms: NINE + to_s * 1000,
        call_finished,
    }
}

#[test]
fn each_state_change_closes_a_stretch_and_an_hour_cuts_them() {
    let dir = common::directory();
    let clerk = dir.clerk_idx("clerk-hekou-1").unwrap();
    let mut time = ClerkTime::default();
    let at = |s: i64| NINE + s * 1000;
    time.on_action(&change(clerk, ClerkState::Away(AwayReason::SignedIn)), at(0), &dir);
    time.on_action(&change(clerk, ClerkState::Available), at(60), &dir);
    time.on_action(&change(clerk, ClerkState::Offered), at(100), &dir);
    time.on_action(&change(clerk, ClerkState::InCall), at(105), &dir);
    time.on_action(&change(clerk, ClerkState::WrapUp), at(405), &dir);
    time.on_action(&change(clerk, ClerkState::Available), at(465), &dir);
    // A dropped connection: its time is nobody's until the clerk is back.
    time.on_action(&change(clerk, ClerkState::Away(AwayReason::Disconnected)), at(500), &dir);
    time.on_action(&change(clerk, ClerkState::Available), at(520), &dir);
    assert_eq!(
        time.take_closed(),
        [
            stretch(ClerkActivity::Away, 0, 60, false),
            stretch(ClerkActivity::Available, 60, 100, false),
            stretch(ClerkActivity::Offered, 100, 105, false),
            stretch(ClerkActivity::InCall, 105, 405, true),
            stretch(ClerkActivity::WrapUp, 405, 465, false),
            stretch(ClerkActivity::Available, 465, 500, false),
        ]
    );
    assert!(time.take_closed().is_empty(), "each stretch is handed over once");

    // 10:00 China time passes while the clerk stays available: the stretch is cut there.
    time.cut_hours(at(3_700), &dir);
    assert_eq!(time.take_closed(), [stretch(ClerkActivity::Available, 520, 3_600, false)]);
    let open = time.open_list();
    assert_eq!(open, [(clerk.0, ClerkActivity::Available, at(3_600))]);

    // A restart from a snapshot goes on with the open stretch.
    let mut restarted = ClerkTime::default();
    restarted.restore(&open);
    restarted.on_action(&change(clerk, ClerkState::Offline), at(3_900), &dir);
    assert_eq!(restarted.take_closed(), [stretch(ClerkActivity::Available, 3_600, 3_900, false)]);
    assert!(restarted.open_list().is_empty(), "signed out: nothing open");
}
