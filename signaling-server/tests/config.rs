//! The embedded demo configuration has the regions, services and accounts the README promises, and invalid configurations are
//! refused with an error naming the file, the entry and the problem.

use protocol::RegionLevel;
use signaling_server::config::{Settings, DEMO_CONFIG};

#[test]
fn demo_has_the_promised_size_and_fixed_ids() {
    let s = Settings::demo();
    let f = &s.file;
    let count = |level| f.regions.iter().filter(|r| r.level == level).count();
    assert!(count(RegionLevel::City) >= 2);
    assert!(count(RegionLevel::County) >= 6);
    assert!(count(RegionLevel::Town) >= 12);
    assert!(f.services.len() >= 20);
    assert!(f.booths.len() >= 30);
    assert!(f.clerks.len() >= 40);
    assert!(f.supervisors.len() >= 3);
    let d = &s.directory;
    let booth = d.booth(d.booth_idx("booth-gudao-1").unwrap());
    let path: Vec<&str> = d.ancestry(booth.region).map(|r| d.region(r).name.as_str()).collect();
    assert_eq!(&path[..3], &["孤岛镇", "河口区", "东营市"]);
    assert_eq!(d.service(d.service_idx("teacher-cert").unwrap()).name, "教师资格认定确认");
    for (clerk, hall) in [("clerk-hekou-1", "河口区"), ("clerk-dongying-1", "东营市")] {
        let c = d.clerk(d.clerk_idx(clerk).unwrap());
        assert_eq!(d.region(c.hall).name, hall);
        assert!(c.skills.contains(&d.service_idx("teacher-cert").unwrap()));
    }
    for name in
        ["企业设立登记", "个体工商户设立登记", "食品经营许可", "出生一件事", "社保卡申领", "不动产登记", "公积金提取"]
    {
        assert!(f.services.iter().any(|x| x.name == name), "missing {name}");
    }
}

#[test]
fn every_demo_secret_is_demo() {
    let s = Settings::demo();
    assert!(s.booth_secrets.iter().chain(&s.clerk_secrets).chain(&s.supervisor_secrets).all(|h| h.verify("demo")));
    assert!(!s.clerk_secrets[0].verify("Demo"));
}

fn refused(edit: impl Fn(&str) -> String) -> String {
    let err = Settings::parse(&edit(DEMO_CONFIG), "site.toml").expect_err("the edited config must be refused");
    err.to_string()
}

#[test]
fn invalid_configs_name_file_entry_and_problem() {
    let e = refused(|t| t.replacen(r#"skills = ["teacher-cert""#, r#"skills = ["no-such-skill""#, 1));
    assert!(e.starts_with("config site.toml: clerks[0] (clerk-hekou-1):"), "{e}");
    assert!(e.contains("unknown service `no-such-skill`"), "{e}");

    let e = refused(|t| t.replacen(r#"region = "gudao""#, r#"region = "atlantis""#, 1));
    assert!(e.contains("booths[0] (booth-gudao-1)") && e.contains("unknown region `atlantis`"), "{e}");

    let e = refused(|t| t.replacen(r#"id = "booth-gudao-2""#, r#"id = "booth-gudao-1""#, 1));
    assert!(e.contains("duplicate booth id `booth-gudao-1`"), "{e}");

    let e = refused(|t| t.replacen("offer_timeout_secs = 20", "offer_timeout_secs = -1", 1));
    assert!(e.contains("routing.offer_timeout_secs"), "{e}");

    let e = refused(|t| t.replacen(r#"secret_hash = "pbkdf2"#, r#"secret_hash = "plain"#, 1));
    assert!(e.contains("booths[0] (booth-gudao-1): secret_hash"), "{e}");

    let e = refused(|t| t.replacen("[server]", "[server]\nlisten_port = 1", 1));
    assert!(e.contains("line ") && e.contains("unknown field `listen_port`"), "{e}");

    let e = refused(|t| t.replacen(r#"level = "county""#, r#"level = "galaxy""#, 1));
    assert!(e.contains("unknown variant `galaxy`"), "{e}");
}

/// `docs/config-reference.toml` lists every setting: it loads as it stands, its values are the
/// defaults (a file without them means the same), and every secret in it is `demo`.
#[test]
fn the_reference_config_loads_and_states_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config-reference.toml");
    let s = Settings::load(&path).unwrap();
    assert!(s.booth_secrets.iter().chain(&s.clerk_secrets).chain(&s.supervisor_secrets).all(|h| h.verify("demo")));
    let text = std::fs::read_to_string(&path).unwrap();
    for section in ["server", "routing", "media", "documents", "database", "limits", "cluster"] {
        assert!(text.contains(&format!("\n[{section}]\n")), "[{section}] is in the reference");
    }
    let f = &s.file;
    assert_eq!((f.server.snapshot_every, f.server.token_ttl_secs, f.server.routing_log), (50_000, 43_200, true));
    assert_eq!((f.limits.messages_per_sec, f.limits.message_burst, f.limits.outbound_queue), (20, 60, 256));
    assert_eq!((f.documents.retention_days, f.database.case_retention_days, f.cluster.lease_ms), (30, 3650, 1000));
    assert_eq!(s.engine.clerk_grace, std::time::Duration::from_secs(15));
    assert_eq!(
        (f.media.mode, f.media.record, f.media.recording_retention_days),
        (protocol::MediaMode::Relay, true, 180)
    );
}

/// A bad key at the start of a line is reported at that line (not the one before).
#[test]
fn a_config_error_names_the_line_of_the_bad_key() {
    let text =
        DEMO_CONFIG.replacen("heartbeat_timeout_secs = 30\n", "heartbeat_timeout_secs = 30\nno_such_key = 1\n", 1);
    let line = text.lines().position(|l| l.starts_with("no_such_key")).unwrap() + 1;
    let err = Settings::parse(&text, "x.toml").unwrap_err().to_string();
    assert!(err.contains(&format!("line {line}:")), "{err}");
}
