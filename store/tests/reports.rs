//! Reports on both real backends: the same closed-ticket facts, cases and ratings add up to the
//! same sums on SQLite and PostgreSQL, grouped by hall, service and hour or day, scoped by booth
//! region, with the wait steps for the 90th percentile.

mod common;

use xiaowu_store::{AlertEventRow, CaseRow, ClerkActivity, Period, RatingRow, ReportQuery, Stretch, TicketFactRow};

/// 2026-12-01 09:00 China time.
const NINE: i64 = 1_796_086_800_000;

fn fact(n: i64, hall: &str, asked_s: i64, answered_after_s: Option<i64>, outcome: &str) -> TicketFactRow {
    TicketFactRow {
        ticket_id: format!("1-{n}"),
        booth: "booth-gudao-1".into(),
        booth_region: if hall == "hekou" { "gudao".into() } else { "bincheng".into() },
        home_hall: hall.into(),
        service: "teacher-cert".into(),
        requested_ms: NINE + asked_s * 1000,
        answered_ms: answered_after_s.map(|w| NINE + (asked_s + w) * 1000),
        answered_hall: answered_after_s.map(|_| if n == 3 { "dongying".into() } else { hall.into() }),
        answered_clerk: answered_after_s.map(|_| "clerk-hekou-1".into()),
        target_secs: 60,
        closed_ms: NINE + (asked_s + answered_after_s.map_or(40, |w| w + 100)) * 1000,
        outcome: outcome.into(),
        talk_ms: if answered_after_s.is_some() { 100_000 } else { 0 },
        requeues: i64::from(n == 2),
        estimate_secs: Some(50),
    }
}

#[test]
fn facts_add_up_to_the_same_report_on_both_backends() {
    for (backend, store) in common::both() {
        store
            .append_facts(&[
                fact(1, "hekou", 0, Some(20), "served"),
                fact(2, "hekou", 600, Some(70), "served"),
                fact(3, "hekou", 1200, Some(30), "served"),
                fact(4, "hekou", 1800, None, "cancelled"),
                fact(5, "hekou", 3700, Some(10), "served"),
                fact(6, "bincheng", 100, None, "no_clerk"),
            ])
            .unwrap();
        // A retried batch writes nothing twice.
        store.append_facts(&[fact(1, "hekou", 0, Some(20), "served")]).unwrap();
        // In a group commit a fact already there fails the whole batch (its writes are sent
        // without waiting for answers; the records writer then writes one by one): the new fact
        // beside it is not kept, and the sums below are unchanged.
        let grouped = store.write_batch(|| {
            store.append_facts(&[fact(7, "hekou", 1900, Some(5), "served"), fact(2, "hekou", 600, Some(70), "served")])
        });
        assert!(matches!(grouped, Err(xiaowu_store::StoreError::Duplicate(_))), "{backend}: {grouped:?}");
        // Ticket 1's case: 30 s of wrap-up; its rating.
        let case = CaseRow {
            id: "1-1".into(),
            call_id: "1-1".into(),
            ticket_id: "1-1".into(),
            service: "teacher-cert".into(),
            booth: "booth-gudao-1".into(),
            booth_region: "gudao".into(),
            clerk: "clerk-hekou-1".into(),
            hall: "hekou".into(),
            call_end: "hung_up_by_clerk".into(),
            ended_ms: NINE + 120_000,
            outcome: "completed".into(),
            note: None,
            recorded_ms: NINE + 150_000,
        };
        store.append_case(&case).unwrap();
        let rating = RatingRow {
            ticket_id: "1-1".into(),
            booth: "booth-gudao-1".into(),
            rating: "very_dissatisfied".into(),
            at_ms: NINE + 200_000,
            reason: None,
        };
        store.append_rating(&rating).unwrap();

        let q = ReportQuery {
            from_ms: NINE,
            to_ms: NINE + 2 * 3_600_000,
            by_hall: true,
            by_service: true,
            period: Some(Period::Hour),
            booth_regions: None,
        };
        let rows = store.report(&q).unwrap();
        let keys: Vec<_> = rows.iter().map(|r| (r.hall.as_deref().unwrap(), r.period_ms.unwrap())).collect();
        assert_eq!(keys, [("bincheng", NINE), ("hekou", NINE), ("hekou", NINE + 3_600_000)], "{backend}");
        let h = &rows[1];
        assert_eq!(
            (h.offered, h.answered, h.abandoned, h.no_clerk, h.answered_within_target),
            (4, 3, 1, 0, 2),
            "{backend}"
        );
        assert_eq!((h.answer_wait_ms, h.wait_ms), (120_000, 160_000), "{backend}: 20 + 70 + 30, and + 40");
        assert_eq!((h.overflow, h.requeues, h.talk_ms, h.wrap_ms), (1, 1, 300_000, 30_000), "{backend}");
        assert_eq!(h.ratings, [0, 0, 0, 0, 1], "{backend}");
        assert_eq!(
            (h.estimated, h.estimate_abs_error_ms, h.estimate_error_ms),
            (3, 70_000, 30_000),
            "{backend}: 50 s shown, 20, 70 and 30 waited"
        );
        let mut buckets = vec![0; 32];
        for b in [4, 6, 8, 12] {
            buckets[b] = 1;
        }
        assert_eq!(h.wait_buckets, buckets, "{backend}: 20, 30, 40, 70 s in the 20–25, 30–35, 40–45, 60–75 s buckets");
        assert_eq!(rows[0].no_clerk, 1, "{backend}");

        // By day (whole days), only booths of the hekou county's towns.
        let midnight = NINE - 9 * 3_600_000;
        let q = ReportQuery {
            from_ms: midnight,
            to_ms: midnight + 86_400_000,
            period: Some(Period::Day),
            booth_regions: Some(vec!["gudao".into()]),
            ..q
        };
        let rows = store.report(&q).unwrap();
        assert_eq!(rows.len(), 1, "{backend}");
        assert_eq!((rows[0].offered, rows[0].period_ms), (5, Some(midnight)), "{backend}");
        assert_eq!((rows[0].wrap_ms, rows[0].ratings[4]), (30_000, 1), "{backend}: the daily roll-up has them too");
        // Nothing in scope: no rows.
        let q = ReportQuery { booth_regions: Some(vec![]), ..q };
        assert!(store.report(&q).unwrap().is_empty(), "{backend}");
        // Ungrouped: one row over everything.
        let q = ReportQuery { by_hall: false, by_service: false, period: None, booth_regions: None, ..q };
        let all = store.report(&q).unwrap();
        assert_eq!((all.len(), all[0].offered, all[0].hall.clone()), (1, 6, None), "{backend}");
        assert_eq!(store.ticket_fact("1-2").unwrap().map(|f| f.requeues), Some(1), "{backend}");
    }
}

fn stretch(clerk: &str, activity: ClerkActivity, from_min: i64, to_min: i64, call_finished: bool) -> Stretch {
    Stretch {
        clerk: clerk.into(),
        hall: if clerk.starts_with("k") { "kenli" } else { "hekou" }.into(),
        activity,
        start_ms: NINE + from_min * 60_000,
        end_ms: NINE + to_min * 60_000,
        call_finished,
    }
}

/// A clerk's state intervals add up per hour on both backends: one spanning 10:00 is split there,
/// a call counts in the hour it ended, and intervals handed over again (a replay) count once.
#[test]
fn clerk_time_adds_up_per_hour_once_on_both_backends() {
    use ClerkActivity::*;
    for (backend, store) in common::both() {
        let day = vec![
            stretch("a", Away, 0, 5, false),
            stretch("a", Available, 5, 20, false),
            stretch("a", Offered, 20, 21, false),
            stretch("a", InCall, 21, 65, true),
            stretch("a", WrapUp, 65, 70, false),
            stretch("a", Available, 70, 120, false),
            stretch("k1", Available, 0, 60, false),
        ];
        store.append_clerk_time(&day[..4]).unwrap();
        // The whole day again (the first four were written already), then the rest once more.
        store.append_clerk_time(&day).unwrap();
        store.append_clerk_time(&day[4..]).unwrap();
        let hours = store.clerk_report(NINE, NINE + 2 * 3_600_000, Some(Period::Hour), None).unwrap();
        let a: Vec<_> = hours.iter().filter(|s| s.clerk == "a").collect();
        assert_eq!(a.len(), 2, "{backend}: {hours:?}");
        let min = |ms: i64| ms / 60_000;
        assert_eq!(
            (min(a[0].away_ms), min(a[0].available_ms), min(a[0].offered_ms), min(a[0].in_call_ms), a[0].calls),
            (5, 15, 1, 39, 0),
            "{backend}: 09:00"
        );
        assert_eq!(
            (min(a[1].in_call_ms), min(a[1].wrap_ms), min(a[1].available_ms), a[1].calls),
            (5, 5, 50, 1),
            "{backend}: 10:00, the call ended in it"
        );
        assert_eq!(a[0].period_ms, Some(NINE));
        let whole = store.clerk_report(NINE, NINE + 86_400_000, Some(Period::Day), Some(&["hekou".into()])).unwrap();
        assert_eq!(whole.len(), 1, "{backend}: only hekou's clerk: {whole:?}");
        assert_eq!((min(whole[0].in_call_ms), whole[0].calls, whole[0].hall.as_str()), (44, 1, "hekou"));
    }
}

fn alert_event(at_s: i64, event: &str, region: &str, booth: &str) -> AlertEventRow {
    AlertEventRow {
        at_ms: NINE + at_s * 1000,
        event: event.into(),
        kind: "booth_device".into(),
        region: region.into(),
        service: None,
        clerk: None,
        booth: Some(booth.into()),
        since_ms: NINE,
        value_milli: 0,
        message_zh: "摄像头无权限".into(),
        message_en: "camera access denied".into(),
    }
}

/// Alerts raised and cleared are kept on both backends: newest first, only the regions asked
/// for, a batch written twice counted once.
#[test]
fn alert_events_are_kept_newest_first_by_region_on_both_backends() {
    for (backend, store) in common::both() {
        let events = vec![
            alert_event(0, "raised", "xianhe", "booth-xianhe-1"),
            alert_event(0, "raised", "kenli", "booth-kenli-1"),
            alert_event(90, "cleared", "xianhe", "booth-xianhe-1"),
        ];
        store.append_alert_events(&events).unwrap();
        store.append_alert_events(&events).unwrap();
        let xianhe = store.alert_events(NINE, NINE + 3_600_000, &["xianhe".into()], 100).unwrap();
        assert_eq!(xianhe.len(), 2, "{backend}: {xianhe:?}");
        assert_eq!((xianhe[0].event.as_str(), xianhe[1].event.as_str()), ("cleared", "raised"), "{backend}");
        assert_eq!(xianhe[1], events[0], "{backend}: the row as written");
        let both = store.alert_events(NINE, NINE + 3_600_000, &["xianhe".into(), "kenli".into()], 2).unwrap();
        assert_eq!(both.len(), 2, "{backend}: the limit");
        assert!(store.alert_events(NINE + 3_600_000, NINE + 7_200_000, &["xianhe".into()], 100).unwrap().is_empty());
    }
}
