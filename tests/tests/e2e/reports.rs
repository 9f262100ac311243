//! `GET /api/reports` over HTTP after real calls: the figures of the day's tickets, the same
//! numbers in the CSV export, the supervisor's scope, and clear refusals of bad requests.

use protocol::Role;
use xiaowu_tests::*;

fn get(url: &str, token: &str) -> (u16, String) {
    let req = ureq::get(url).config().http_status_as_error(false).build();
    let mut resp = req.header("Authorization", &format!("Bearer {token}")).call().expect("the server answers");
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_days_report_counts_the_calls_and_the_csv_says_the_same() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    // Two citizens served one after the other by one clerk, through the relay.
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            hold: Some(1.0),
            calls: 2,
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(&server, "hekou", 1).await;
    for booth in ["booth-gudao-1", "booth-gudao-2"] {
        let b = booth_client::run(&booth_client::BoothArgs::new(&url, booth, "teacher-cert"), |_| {}).await.unwrap();
        assert_eq!(b.outcome, "served");
    }
    assert_eq!(agent.await.unwrap().unwrap().outcome, "done");

    let today = china_time::date_string(store::now_ms());
    let sup = token(&server, Role::Supervisor, "sup-dongying").await;
    let report_url = format!("{url}/api/reports?from={today}&to={today}&group=hall,service,day");
    let (status, body) = get(&report_url, &sup);
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    let row = &rows[0];
    assert_eq!((row["hall"].as_str(), row["service"].as_str()), (Some("hekou"), Some("teacher-cert")));
    assert_eq!(row["period"].as_str(), Some(format!("{today}T00:00+08:00").as_str()));
    assert_eq!(
        (row["offered"].as_u64(), row["answered"].as_u64(), row["abandoned"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(row["service_level"].as_f64(), Some(1.0), "both answered within the 60 s target");
    assert_eq!((row["overflow_rate"].as_f64(), row["local_served_rate"].as_f64()), (Some(0.0), Some(1.0)));
    assert!(row["aht_secs"].as_f64().unwrap() >= 1.0, "held a second each: {row}");
    assert!(report["formulas"]["service_level"].as_str().unwrap().contains("target"));

    // The CSV export: a header, then the same numbers.
    let (status, csv) = get(&format!("{report_url}&format=csv"), &sup);
    assert_eq!(status, 200);
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cells: Vec<&str> = lines.next().expect("one row").split(',').collect();
    assert_eq!(lines.next(), None);
    let cell = |name: &str| cells[head.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name} in {head:?}"))];
    assert_eq!(
        (cell("hall"), cell("service"), cell("period")),
        ("hekou", "teacher-cert", row["period"].as_str().unwrap())
    );
    for name in ["offered", "answered", "abandoned", "no_clerk", "requeues", "rated"] {
        assert_eq!(cell(name).parse::<u64>().ok(), row[name].as_u64(), "{name}");
    }
    for name in ["service_level", "asa_secs", "aht_secs", "avg_wait_secs", "p90_wait_secs", "overflow_rate"] {
        let (a, b) = (cell(name).parse::<f64>().unwrap(), row[name].as_f64().unwrap());
        assert!((a - b).abs() < 1e-3, "{name}: csv {a}, json {b}");
    }

    // The clerk's time: two calls finished, each held a second, in the clerk's hall.
    let clerks_url = format!("{url}/api/reports/clerks?from={today}&to={today}&group=clerk,day");
    let (status, body) = get(&clerks_url, &sup);
    assert_eq!(status, 200, "{body}");
    let clerks: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(clerks["group"], serde_json::json!(["clerk", "day"]));
    let rows = clerks["rows"].as_array().unwrap();
    let mine = rows.iter().find(|r| r["clerk"] == "clerk-hekou-1").unwrap_or_else(|| panic!("{body}"));
    assert_eq!((mine["hall"].as_str(), mine["calls"].as_u64()), (Some("hekou"), Some(2)), "{body}");
    assert_eq!(mine["period"].as_str(), Some(format!("{today}T00:00+08:00").as_str()));
    assert!(mine["talk_secs"].as_f64().unwrap() >= 2.0, "{mine}");
    let occupancy = mine["occupancy"].as_f64().unwrap();
    assert!(occupancy > 0.0 && occupancy <= 1.0, "{mine}");
    assert!(mine["signed_in_secs"].as_f64().unwrap() >= mine["talk_secs"].as_f64().unwrap());
    assert!(clerks["formulas"]["occupancy"].as_str().unwrap().contains("wrap-up"));
    let (status, csv) = get(&format!("{clerks_url}&format=csv"), &sup);
    assert_eq!(status, 200);
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let line = csv.lines().find(|l| l.starts_with("clerk-hekou-1,")).unwrap_or_else(|| panic!("{csv}"));
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(cells[head.iter().position(|h| *h == "calls").unwrap()], "2", "{csv}");
    for bad in ["group=clerk,service", "group=day,week", "format=pdf"] {
        let (status, body) = get(&format!("{url}/api/reports/clerks?from={today}&to={today}&{bad}"), &sup);
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // Another city's supervisor: no rows. A clerk: forbidden. Bad requests: invalid_field.
    let binzhou = token(&server, Role::Supervisor, "sup-binzhou").await;
    let (_, body) = get(&report_url, &binzhou);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["rows"], serde_json::json!([]));
    let (_, body) = get(&clerks_url, &binzhou);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["rows"], serde_json::json!([]));
    assert_eq!(get(&clerks_url, &token(&server, Role::Clerk, "clerk-hekou-1").await).0, 403);
    let clerk = token(&server, Role::Clerk, "clerk-hekou-1").await;
    assert_eq!(get(&report_url, &clerk).0, 403);
    for bad in [
        format!("from={today}"),
        format!("from=2026-13-01&to={today}"),
        format!("from={today}&to=2020-01-01"),
        "from=2025-01-01&to=2026-12-31".to_owned(),
        format!("from={today}&to={today}&group=hall,clerk"),
        format!("from={today}&to={today}&group=hour,day"),
        format!("from={today}&to={today}&format=xml"),
    ] {
        let (status, body) = get(&format!("{url}/api/reports?{bad}"), &sup);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("invalid_field"), "{bad}: {body}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staffing_advice_forecasts_next_weeks_hour_from_this_weeks_calls() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    served_call(&server, "booth-gudao-1", "clerk-hekou-1").await;

    // Next week's plan averages the four weeks before it, this one included.
    let now = store::now_ms() as u64 / 1000;
    let next_week = china_time::date_string((now + 7 * 86_400) as i64 * 1000);
    let sup = token(&server, Role::Supervisor, "sup-dongying").await;
    let (status, body) = get(&format!("{url}/api/staffing?week={next_week}"), &sup);
    assert_eq!(status, 200, "{body}");
    let plan: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((plan["history_weeks"].as_u64(), plan["goal"].as_f64()), (Some(4), Some(0.8)));
    assert!(plan["formula"].as_str().unwrap().contains("Erlang B"));
    let rows = plan["rows"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["hall"] == "hekou" && r["service"] == "teacher-cert")
        .unwrap_or_else(|| panic!("a row for the hour of this call: {body}"));
    assert_eq!(row["arrivals_per_hour"].as_f64(), Some(0.25), "one ticket in four weeks");
    assert_eq!(row["clerks_needed"].as_u64(), Some(1));
    assert!(row["service_level"].as_f64().unwrap() >= 0.8);
    // The same weekday and hour, next week.
    let hour = row["hour"].as_str().unwrap();
    let monday = plan["week"].as_str().unwrap();
    assert!(hour >= monday && hour.ends_with(":00+08:00"), "{hour} in the week of {monday}");
    assert!(row["clerks_signed_in_now"].as_u64().is_some());
    assert_eq!(row["clerks_signed_in_then"], serde_json::Value::Null, "next week's hours have not begun");
    // This week's plan shows, for the hour of the call, the clerk who was signed in then.
    let this_week = china_time::date_string(now as i64 * 1000);
    let (status, body) = get(&format!("{url}/api/staffing?week={this_week}"), &sup);
    assert_eq!(status, 200, "{body}");
    let plan: serde_json::Value = serde_json::from_str(&body).unwrap();
    let then: f64 = plan["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["hall"] == "hekou" && r["service"] == "teacher-cert")
        .filter_map(|r| r["clerks_signed_in_then"].as_f64())
        .sum();
    assert!(then > 0.0, "the clerk's signed-in time this week: {body}");
    // Bad dates are refused; clerks may not ask.
    assert_eq!(get(&format!("{url}/api/staffing?week=2026-02-30"), &sup).0, 400);
    let clerk = token(&server, Role::Clerk, "clerk-hekou-1").await;
    assert_eq!(get(&format!("{url}/api/staffing?week={next_week}"), &clerk).0, 403);
    server.shutdown().await;
}

/// `GET /api/alerts`: a booth reports its camera denied, then working; the raise and the clear
/// are in the day's alert history for the booth's city supervisor, newest first, and not for
/// another city's; a clerk may not ask; bad dates are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_raised_and_cleared_are_in_the_alert_history() {
    use protocol::{ClientMessage, DeviceState};
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let booth = connect(&server, Role::Booth, "booth-xianhe-1").await;
    let sup = token(&server, Role::Supervisor, "sup-dongying").await;
    let today = china_time::date_string(store::now_ms());
    let history_url = format!("{url}/api/alerts?from={today}&to={today}");
    let events = |token: &str| {
        let (status, body) = get(&history_url, token);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["truncated"], false);
        v["events"].as_array().unwrap().clone()
    };
    let wait_for = |n: usize| {
        let sup = sup.clone();
        async move {
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let seen = events(&sup);
                if seen.len() >= n {
                    return seen;
                }
                assert!(std::time::Instant::now() < deadline, "{n} alert events: {seen:?}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    booth.send(ClientMessage::DeviceStatus { camera: DeviceState::Denied, microphone: DeviceState::Ok }).await.unwrap();
    let raised = wait_for(1).await;
    assert_eq!(
        (raised[0]["event"].as_str(), raised[0]["alert"]["kind"].as_str()),
        (Some("raised"), Some("booth_device"))
    );
    assert_eq!(raised[0]["alert"]["booth"], "booth-xianhe-1");
    assert_eq!(raised[0]["alert"]["message_en"], "booth-xianhe-1: camera access denied");
    booth.send(ClientMessage::DeviceStatus { camera: DeviceState::Ok, microphone: DeviceState::Ok }).await.unwrap();
    let both = wait_for(2).await;
    assert_eq!(
        (both[0]["event"].as_str(), both[1]["event"].as_str()),
        (Some("cleared"), Some("raised")),
        "newest first"
    );
    assert!(both[0]["at_unix_ms"].as_i64() >= both[1]["at_unix_ms"].as_i64());
    assert_eq!(both[0]["alert"]["since_unix"], both[1]["alert"]["since_unix"], "the clear names when it was raised");
    // Another city's supervisor: none of it. A clerk: forbidden. Bad dates: invalid_field.
    assert!(events(&token(&server, Role::Supervisor, "sup-binzhou").await).is_empty());
    assert_eq!(get(&history_url, &token(&server, Role::Clerk, "clerk-hekou-1").await).0, 403);
    for bad in ["from=2026-13-01&to=2026-12-01", "from=2026-12-02&to=2026-12-01", "to=2026-12-01"] {
        assert_eq!(get(&format!("{url}/api/alerts?{bad}"), &sup).0, 400, "{bad}");
    }
    server.shutdown().await;
}
