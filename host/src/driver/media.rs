//! Relay mode: the driver's side of the media relay. A call's room opens when the call starts
//! and closes when it ends; a party that comes back (reconnected, or after a restart of the
//! server) gets a fresh connection; the parties' answers and candidates go to the relay, and the
//! relay's offers and candidates go to the party. Nothing here changes routing state: a replay
//! or a standby's replica never touches the relay.

use media_relay::{JoinSpec, RelayEvent, Signal};
use protocol::{ClientMessage, ErrorCode, SdpKind, ServerMessage};
use tracing::{debug, info, warn};

use super::Driver;
use crate::media::{BOOTH, CLERK};

/// A relayed call as its recording's index row needs it: the call, and every clerk who served
/// it, in order (more than one after a transfer).
pub(super) struct MediaCall {
    pub view: routing::CallView,
    pub clerks: Vec<routing::ClerkIdx>,
    /// When its room was opened (Unix ms): a partial recording's start.
    pub opened_ms: i64,
}

impl Driver {
    /// The relay, when this driver routes live in relay mode.
    pub(super) fn live_relay(&self) -> Option<media_relay::Relay> {
        self.shared.relay.clone().filter(|_| self.reach().drives())
    }

    /// A call started (`both`), or one party was told again about its live call.
    pub(super) fn relay_call_started(&mut self, call: &routing::CallView, to_clerk: bool, to_booth: bool) {
        let Some(relay) = self.live_relay() else { return };
        let id = call.call.0;
        if self.shared.media.recorded() {
            // Kept until the recording is reported (then indexed with it).
            let opened_ms = self.timeline_ms();
            self.media_calls.entry(id).or_insert_with(|| MediaCall {
                view: *call,
                clerks: vec![call.clerk],
                opened_ms,
            });
        }
        let parties =
            || vec![JoinSpec { party: BOOTH.into(), publish: true }, JoinSpec { party: CLERK.into(), publish: true }];
        if to_clerk && to_booth {
            relay.open(id, parties(), false);
            return;
        }
        if !relay.is_open(id) {
            // The room is gone with an earlier run of the server: both parties start afresh.
            info!(call = id, "reopening the call's media room");
            relay.open(id, parties(), true);
            return;
        }
        // The party's signaling came back; its media may never have stopped.
        let party = if to_booth { BOOTH } else { CLERK };
        if let Err(e) = relay.rejoin(id, JoinSpec { party: party.into(), publish: true }) {
            warn!(call = id, party, error = %e, "party could not rejoin the media room");
        }
    }

    pub(super) fn relay_call_ended(&mut self, call: routing::CallId) {
        if let Some(relay) = self.live_relay() {
            relay.close(call.0);
        }
    }

    /// Hands an answer or candidate (`msg`) for `call` to the relay as coming from `party` (a
    /// party, a guest, a monitor). Offers come only from the relay: a party's is `wrong_state`.
    pub(super) fn forward_to_relay(&self, call: u64, party: &str, msg: &ClientMessage) -> Result<(), ErrorCode> {
        desk::signal::validate(msg).map_err(|e| {
            debug!(call, error = %e, "relay payload refused");
            ErrorCode::InvalidField
        })?;
        let Some(relay) = self.live_relay() else { return Err(ErrorCode::WrongState) };
        let sent = match msg {
            ClientMessage::Sdp { kind: SdpKind::Answer, sdp, .. } => relay.answer(call, party.into(), sdp.clone()),
            ClientMessage::Sdp { kind: SdpKind::Offer, .. } => return Err(ErrorCode::WrongState),
            ClientMessage::IceCandidate { candidate, sdp_mid, sdp_mline_index, .. } => {
                relay.candidate(call, party.into(), candidate.clone(), sdp_mid.clone(), *sdp_mline_index)
            }
            _ => unreachable!("only sdp and ice_candidate are forwarded"),
        };
        sent.map_err(|_| ErrorCode::NotFound)
    }

    /// What the relay reports.
    pub(super) fn on_relay_event(&mut self, event: RelayEvent) {
        match event {
            RelayEvent::Signal { call, party, signal } => {
                let Some(view) = self.desk.engine().call(routing::CallId(call)) else { return };
                let msg = match signal {
                    Signal::Offer { sdp, fresh } => {
                        ServerMessage::Sdp { call: protocol::CallId(call), kind: SdpKind::Offer, sdp, fresh }
                    }
                    Signal::Candidate { candidate, sdp_mid, sdp_mline_index } => ServerMessage::IceCandidate {
                        call: protocol::CallId(call),
                        candidate,
                        sdp_mid,
                        sdp_mline_index,
                    },
                };
                match party.as_str() {
                    BOOTH => self.send_to_booth(view.booth, msg),
                    CLERK => self.send_to_clerk(view.clerk, msg),
                    desk::three_way::GUEST => {
                        if let Some(guest) = self.desk.three_way.guest_of(call) {
                            self.send_to_clerk(guest, msg);
                        }
                    }
                    other => {
                        if !self.send_to_monitor(other, msg) {
                            debug!(call, party = other, "relay signaling for a party the driver does not route");
                        }
                    }
                }
            }
            RelayEvent::Connected { call, party } => debug!(call, %party, "party connected to the media relay"),
            RelayEvent::Failed { call, party } => {
                // A party still there says so itself (`media_state` failed ends the call); one
                // that reloaded its page gets a fresh connection offered.
                warn!(call, %party, "party's media relay connection failed");
                let is_party = party == BOOTH || party == CLERK;
                if let Some(relay) =
                    self.live_relay().filter(|_| is_party && self.desk.engine().call(routing::CallId(call)).is_some())
                {
                    let _ = relay.join(call, JoinSpec { party, publish: true });
                }
            }
            RelayEvent::RoomLost { call } => {
                // The relay holding the call is gone: its media with it. Logged, so that a replay
                // ends the call the same way.
                if let Some(recorded) = self.media_calls.remove(&call) {
                    self.index_partial_recording(call, recorded);
                }
                if self.desk.engine().call(routing::CallId(call)).is_some() && !self.reach().rebuilding {
                    warn!(call, "the call's media relay is gone: the call ends as media_failed");
                    self.record(crate::routing_log::Entry::MediaLost { call });
                }
            }
            RelayEvent::Recorded(info) => {
                info!(call = info.call, bytes = info.bytes, duration_ms = info.duration_ms, "call recorded");
                self.index_recording(info);
            }
        }
    }

    /// A logged `media_lost`: the call (if still live) ends as `media_failed` and its citizen goes
    /// back to the head of the queue, as when a party reports its media failed.
    pub(super) fn media_lost(&mut self, call: u64) {
        if let Some(view) = self.desk.engine().call(routing::CallId(call)) {
            let by = routing::Party::Booth(view.booth);
            self.apply_event(desk::Event::Input(&routing::Input::MediaFailed { call: view.call, by }));
        }
    }

    /// Indexes a finished recording in the records store (through the records writer, in order).
    fn index_recording(&mut self, info: media_relay::record::RecordingInfo) {
        let Some(recorded) = self.media_calls.remove(&info.call) else {
            warn!(call = info.call, "a recording for a call this driver did not open: not indexed");
            return;
        };
        let mut row = self.recording_row(info.call, &recorded);
        row.parties = info.parties.join(",");
        row.file = info.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        (row.started_ms, row.ended_ms) = (info.started_unix_ms as i64, info.ended_unix_ms as i64);
        (row.duration_ms, row.bytes, row.sha256) = (info.duration_ms as i64, info.bytes as i64, info.sha256);
        self.shared.records.append(crate::records::Record::Recording(row, info.sealing));
    }

    /// A relay died with the call's recording open: what it wrote up to then is indexed too, found
    /// in `recording_dir` (a relay of its own writes there through a shared mount). Its end is the
    /// file's last write; hashing it runs off the driver.
    fn index_partial_recording(&mut self, call: u64, recorded: MediaCall) {
        let mut row = self.recording_row(call, &recorded);
        row.parties = [BOOTH, CLERK].join(",");
        let (dir, records, vault) =
            (self.shared.recording_dir.clone(), self.shared.records.clone(), self.shared.vault.clone());
        tokio::task::spawn_blocking(move || {
            let Some((path, modified_ms)) = newest_part(&dir, call) else {
                warn!(call, dir = %dir.display(), "the relay died mid-call and left no recording here: not indexed");
                return;
            };
            // Sealed at rest: its wrapped key is beside it; what it holds is its whole chunks.
            let sealing = std::fs::read_to_string(media_relay::record::sink::key_file(&path)).ok();
            let hashed = match &sealing {
                None => media_relay::record::hash_file(&path),
                Some(sealing) => {
                    vault::Envelope::parse(sealing.trim()).map_err(std::io::Error::other).and_then(|envelope| {
                        let file = std::io::BufReader::new(std::fs::File::open(&path)?);
                        media_relay::record::hash_reader(vault.reader(&envelope, file, true)?)
                    })
                }
            };
            let (bytes, sha256) = match hashed {
                Ok(hashed) => hashed,
                Err(e) => return warn!(call, error = %e, "the partial recording cannot be read: not indexed"),
            };
            row.file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            row.ended_ms = modified_ms.max(row.started_ms);
            row.duration_ms = row.ended_ms - row.started_ms;
            (row.bytes, row.sha256) = (bytes as i64, sha256);
            info!(call, bytes = row.bytes, "a partial recording was indexed (its relay died mid-call)");
            records.append(crate::records::Record::Recording(row, sealing.map(|s| s.trim().to_owned())));
        });
    }

    /// A recording's index row with the call's side filled in (who, where, what).
    fn recording_row(&self, call: u64, recorded: &MediaCall) -> store::RecordingRow {
        let dir = &self.shared.directory;
        let booth = dir.booth(recorded.view.booth);
        store::RecordingRow {
            call_id: crate::records::store_id(call),
            ticket_id: crate::records::store_id(recorded.view.ticket.0),
            booth: booth.id.clone(),
            clerk: recorded.clerks.iter().map(|c| dir.clerk(*c).id.as_str()).collect::<Vec<_>>().join(","),
            booth_region: dir.region(booth.region).id.clone(),
            service: dir.service(recorded.view.service).code.clone(),
            parties: String::new(),
            file: String::new(),
            started_ms: recorded.opened_ms,
            ended_ms: recorded.opened_ms,
            duration_ms: 0,
            bytes: 0,
            sha256: String::new(),
        }
    }

    /// The live calls whose booth is within `scope`, for the supervisors' list.
    pub(super) fn live_calls(&self, scope: routing::RegionIdx) -> Vec<protocol::rest::LiveCall> {
        let dir = self.shared.directory.clone();
        self.desk
            .engine()
            .live_calls()
            .into_iter()
            .filter(|c| dir.is_within(dir.booth(c.booth).region, scope))
            .map(|c| {
                let (booth, clerk, service) = (dir.booth(c.booth), dir.clerk(c.clerk), dir.service(c.service));
                protocol::rest::LiveCall {
                    call: c.call.0,
                    ticket: c.ticket.0,
                    service: service.code.clone(),
                    service_name: self.shared.directory.service(c.service).name.clone(),
                    booth: booth.id.clone(),
                    booth_name: booth.name.clone(),
                    booth_region: dir.region(booth.region).id.clone(),
                    clerk: clerk.id.clone(),
                    clerk_name: clerk.name.clone(),
                    media: self.shared.media.mode,
                    recording: self.shared.media.recorded(),
                }
            })
            .collect()
    }
}

/// The call's recording file written last in `dir` (`call-<id>.webm` or a later part
/// `call-<id>.<n>.webm`), with its last write (Unix ms).
fn newest_part(dir: &std::path::Path, call: u64) -> Option<(std::path::PathBuf, i64)> {
    let (whole, prefix) = (format!("call-{call}.webm"), format!("call-{call}."));
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == whole || (name.starts_with(&prefix) && name.ends_with(".webm"))
        })
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            let ms = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64;
            Some((e.path(), ms))
        })
        .max_by_key(|(_, ms)| *ms)
}
