//! The small directory the desk's tests share.
#![allow(dead_code)]

pub mod call;

use std::time::Duration;

use routing::*;

/// Shandong › 东营 › 河口区 › 孤岛镇; 滨州 › 滨城区.
pub fn directory() -> Directory {
    builder().build().expect("a valid directory")
}

/// The same, with `extra` clerks (id, hall) who handle `teacher-cert`.
pub fn directory_with_clerks(extra: &[(&str, &str)]) -> Directory {
    let mut b = builder();
    for (id, hall) in extra {
        b.clerk(id, id, hall, &["teacher-cert"]);
    }
    b.build().expect("a valid directory")
}

/// The same, with `extra` booths (id, region).
pub fn directory_with_booths(extra: &[(&str, &str)]) -> Directory {
    let mut b = builder();
    for (id, region) in extra {
        b.booth(id, id, region);
    }
    b.build().expect("a valid directory")
}

/// The same, with a second item, 户口迁移 (`household`), that only 河口户籍 (`clerk-hekou-h`)
/// handles; 河口1 handles `teacher-cert` only.
pub fn directory_with_two_items() -> Directory {
    let mut b = builder();
    b.service(Service {
        code: "household".into(),
        name: "户口迁移".into(),
        levels: vec![Level::County, Level::City, Level::Province],
        widen_after: vec![Duration::from_secs(600), Duration::from_secs(1200)],
        target_answer: Duration::from_secs(60),
        expected_handle: Duration::from_secs(300),
    });
    b.clerk("clerk-hekou-h", "河口户籍", "hekou", &["household"]);
    b.build().expect("a valid directory")
}

/// The case 河口1 (河口区) opens for a call with 孤岛镇1号 on `teacher-cert`, as it waits for its
/// outcome: not recorded, no note, no rating.
pub fn pending_case(
    id: &str,
    call: u64,
    ticket: u64,
    call_end: protocol::CallEndReason,
    ended_unix: u64,
) -> protocol::rest::CaseRecord {
    protocol::rest::CaseRecord {
        id: id.into(),
        call,
        ticket,
        service: "teacher-cert".into(),
        booth: "booth-gudao-1".into(),
        booth_region: "gudao".into(),
        clerk: "clerk-hekou-1".into(),
        hall: "hekou".into(),
        call_end,
        ended_unix,
        outcome: protocol::CaseOutcome::NotRecorded,
        note: None,
        recorded_unix: 0,
        rating: None,
        rating_reason: None,
    }
}

fn builder() -> DirectoryBuilder {
    let mut b = DirectoryBuilder::default();
    b.region("sd", "山东省", Level::Province, None, &[])
        .region("dongying", "东营市", Level::City, Some("sd"), &[])
        .region("binzhou", "滨州市", Level::City, Some("sd"), &[])
        .region("hekou", "河口区", Level::County, Some("dongying"), &[])
        .region("bincheng", "滨城区", Level::County, Some("binzhou"), &[])
        .region("gudao", "孤岛镇", Level::Town, Some("hekou"), &[]);
    b.service(Service {
        code: "teacher-cert".into(),
        name: "教师资格认定".into(),
        levels: vec![Level::County, Level::City, Level::Province],
        widen_after: vec![Duration::from_secs(600), Duration::from_secs(1200)],
        target_answer: Duration::from_secs(60),
        expected_handle: Duration::from_secs(300),
    });
    b.booth("booth-gudao-1", "孤岛镇1号", "gudao").booth("booth-bincheng-1", "滨城区1号", "bincheng");
    b.clerk("clerk-hekou-1", "河口1", "hekou", &["teacher-cert"]);
    b
}
