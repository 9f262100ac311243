//! `GET /api/openapi.json`: the document is valid OpenAPI 3 (every operation has responses, every
//! `$ref` resolves, every `{param}` of a path is declared), and every documented route answers on
//! the real router: its documented method is routed (not `405`), another method is not (`405`), so
//! the route exists — and every REST route the server has is documented.

use std::collections::BTreeSet;

use protocol::Role;
use xiaowu_tests::*;

fn call(method: &str, url: &str, token: &str) -> u16 {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().new_agent();
    let resp = match method {
        "get" => agent.get(url).header("Authorization", &format!("Bearer {token}")).call(),
        "post" => agent.post(url).header("Authorization", &format!("Bearer {token}")).send(&b"{}"[..]),
        "delete" => agent.delete(url).header("Authorization", &format!("Bearer {token}")).call(),
        "put" => agent.put(url).header("Authorization", &format!("Bearer {token}")).send(&b"{}"[..]),
        other => panic!("no {other}"),
    };
    resp.expect("the server answers").status().as_u16()
}

/// A path with its parameters filled with sample values.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1-1").replace("{call}", "1").replace("{role}", "clerk")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_and_matches_the_router() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let mut resp = ureq::get(&format!("{url}/api/openapi.json")).call().unwrap();
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();

    // Valid OpenAPI 3.0: version, info, paths; operations with responses; refs that resolve;
    // every path parameter declared.
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"").skip(1) {
        let target = piece.split('"').next().unwrap();
        let pointer = target.strip_prefix('#').expect("local references only");
        assert!(doc.pointer(pointer).is_some(), "`{target}` resolves");
    }
    let paths = doc["paths"].as_object().unwrap();
    let sup = token(&server, Role::Supervisor, "sup-dongying").await;
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(["get", "post", "delete"].contains(&method.as_str()), "{method} {path}");
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has responses"));
            assert!(!responses.is_empty() && responses.keys().all(|c| c.len() == 3 && c.parse::<u16>().is_ok()));
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path.split('{').skip(1).map(|s| s.split('}').next().unwrap()).collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters declared");
            // The route exists with this method: anything but 405; another method: 405.
            let status = call(method, &format!("{url}{}", concrete(path)), &sup);
            assert_ne!(status, 405, "{method} {path} is routed");
            assert_eq!(call("put", &format!("{url}{}", concrete(path)), &sup), 405, "{path} exists on the router");
            documented.insert(path.clone());
        }
    }
    // Every REST route the router has is documented: the routes as `router()` declares them, and
    // the WebSocket route the gateway adds to it (the pages and their assets are not REST).
    let read = |path: &str| std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let source = read("signaling-server/src/lib.rs") + &read("gateway/src/ws.rs");
    let pages = ["/", "/booth", "/clerk", "/supervisor", "/web/{name}"];
    let routes: BTreeSet<String> = source
        .split(".route(\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_owned())
        .filter(|r| !pages.contains(&r.as_str()))
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    assert_eq!(documented, routes);
    // An undocumented path is not routed at all.
    assert_eq!(call("put", &format!("{url}/api/nothing-here"), &sup), 404);
    server.shutdown().await;
}

/// The statuses docs/protocol.md gives each endpoint ("Statuses by endpoint") are exactly those the
/// OpenAPI description lists for it, both ways, and every endpoint is in both. Each refusal the
/// upload's table names (and `410` of a document read) is in both too.
#[test]
fn the_documented_statuses_are_the_openapi_statuses() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/gateway/api/openapi.json")).unwrap()).unwrap();
    let protocol = std::fs::read_to_string(format!("{root}/docs/protocol.md")).unwrap();
    let table = protocol.split("**Statuses by endpoint.**").nth(1).expect("the statuses table");
    let mut documented = std::collections::BTreeMap::new();
    for line in table.lines().skip_while(|l| !l.starts_with("| `")).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let endpoint = cells[1].trim_matches('`').to_owned();
        let statuses: BTreeSet<String> = cells[2].split(',').map(|s| s.trim().to_owned()).collect();
        documented.insert(endpoint, statuses);
    }
    let mut described = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses: BTreeSet<String> = op["responses"].as_object().unwrap().keys().cloned().collect();
            described.insert(format!("{} {path}", method.to_uppercase()), statuses);
        }
    }
    assert_eq!(documented, described, "docs/protocol.md's statuses table and the OpenAPI description");
    let upload = &described["POST /api/calls/{call}/documents"];
    for status in ["400", "403", "408", "409", "413", "415", "422", "503"] {
        assert!(upload.contains(status), "the upload's {status}");
    }
    assert!(described["GET /api/documents/{id}"].contains("410"));
}
