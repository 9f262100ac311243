//! Kiosk devices end to end: a kiosk is set up with its booth's secret and gets a token of its own,
//! signs in with it (only for its booth, only as a booth), a supervisor lists it (another city's
//! does not see it) and revokes it, after which it is refused; all of it in the audit chain.

use protocol::Role;
use xiaowu_tests::*;

fn send(method: &str, url: &str, token: Option<&str>, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
    let resp = match (method, body) {
        ("POST", Some(b)) => agent.post(url).header("Authorization", &auth).send(b.to_string().as_bytes()),
        ("DELETE", _) => agent.delete(url).header("Authorization", &auth).call(),
        _ => agent.get(url).header("Authorization", &auth).call(),
    };
    let mut resp = resp.expect("the server answers");
    let status = resp.status().as_u16();
    let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_signs_in_with_its_own_token_until_a_supervisor_revokes_it() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let set_up = |secret: &str| {
        send(
            "POST",
            &format!("{url}/api/devices"),
            None,
            Some(serde_json::json!({"booth": "booth-gudao-1", "secret": secret})),
        )
    };
    assert_eq!(set_up("wrong").0, 401);
    let (status, device) = set_up("demo");
    assert_eq!(status, 201, "{device}");
    let (id, device_token) =
        (device["device"].as_str().unwrap().to_owned(), device["token"].as_str().unwrap().to_owned());
    assert_eq!(device["booth"], "booth-gudao-1");
    assert!(device_token.len() >= 40, "a long random token");

    let login = |role: &str, id: &str, token: &str| {
        send(
            "POST",
            &format!("{url}/api/login"),
            None,
            Some(serde_json::json!({"role": role, "id": id, "device_token": token})),
        )
    };
    let (status, signed_in) = login("booth", "booth-gudao-1", &device_token);
    assert_eq!(status, 200, "{signed_in}");
    assert!(signed_in["token"].is_string());
    assert_eq!(login("booth", "booth-gudao-2", &device_token).0, 401, "another booth's kiosk");
    assert_eq!(login("clerk", "clerk-hekou-1", &device_token).0, 400, "only booths have devices");
    assert_eq!(login("booth", "booth-gudao-1", "made-up").0, 401);

    let dongying = token(&server, Role::Supervisor, "sup-dongying").await;
    let binzhou = token(&server, Role::Supervisor, "sup-binzhou").await;
    let (status, list) = send("GET", &format!("{url}/api/devices"), Some(&dongying), None);
    assert_eq!(status, 200);
    let listed =
        list["devices"].as_array().unwrap().iter().find(|d| d["device"] == id.as_str()).expect("listed").clone();
    assert_eq!(listed["booth"], "booth-gudao-1");
    assert!(listed["booth_name"].as_str().unwrap().contains("晓屋"));
    assert!(listed["last_login_ms"].is_i64() && listed["revoked_ms"].is_null(), "{listed}");
    assert!(listed.get("token").is_none() && !list.to_string().contains(&device_token), "never the token");
    let (_, other) = send("GET", &format!("{url}/api/devices"), Some(&binzhou), None);
    assert!(other["devices"].as_array().unwrap().is_empty(), "another city sees none: {other}");
    let booth_token = signed_in["token"].as_str().unwrap();
    assert_eq!(send("GET", &format!("{url}/api/devices"), Some(booth_token), None).0, 403);

    let revoke = |who: &str| send("DELETE", &format!("{url}/api/devices/{id}"), Some(who), None).0;
    assert_eq!(revoke(&binzhou), 404, "out of scope");
    assert_eq!(revoke(&dongying), 204);
    assert_eq!(revoke(&dongying), 204, "again: still revoked");
    assert_eq!(login("booth", "booth-gudao-1", &device_token).0, 401, "a revoked kiosk is refused");
    let (_, list) = send("GET", &format!("{url}/api/devices"), Some(&dongying), None);
    let listed = list["devices"].as_array().unwrap().iter().find(|d| d["device"] == id.as_str()).unwrap().clone();
    assert_eq!(listed["revoked_by"], "supervisor:sup-dongying");
    // The booth's secret still sets up a new kiosk.
    assert_eq!(set_up("demo").0, 201);
    assert_eq!(server.state().records.store().verify_audit().unwrap(), None);
    server.shutdown().await;
}
