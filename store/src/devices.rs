//! Kiosk devices: a booth's kiosk is set up once with the booth's secret and from then on signs in
//! with a device token of its own, which a supervisor can revoke. Only the token's SHA-256 is
//! stored; the setting up and the revoking are chained in the audit log.

use serde::{Deserialize, Serialize};

use crate::backend::{Row, Value};
use crate::rows::placeholders;
use crate::{Result, Store};

/// A kiosk set up for a booth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRow {
    pub id: String,
    pub booth: String,
    pub created_ms: i64,
    /// The address it was set up from.
    pub created_from: String,
    pub last_login_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub revoked_by: Option<String>,
}

const COLUMNS: &str = "id, booth, created_ms, created_from, last_login_ms, revoked_ms, revoked_by";

fn device_from(r: &Row) -> Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.text("id")?,
        booth: r.text("booth")?,
        created_ms: r.int("created_ms")?,
        created_from: r.text("created_from")?,
        last_login_ms: r.opt_int("last_login_ms")?,
        revoked_ms: r.opt_int("revoked_ms")?,
        revoked_by: r.opt_text("revoked_by")?,
    })
}

impl Store {
    /// Records a device set up with `token_sha256` (hex), chained.
    pub fn put_device(&self, d: &DeviceRow, token_sha256: &str) -> Result<()> {
        let content = serde_json::to_string(&(&d.id, &d.booth, d.created_ms)).expect("serializes");
        self.transaction(Some("audit_chain"), |c| {
            let seq = self.chain(c, "device_setup", &d.id, &content)?;
            let params: Vec<Value> = vec![
                d.id.clone().into(),
                d.booth.clone().into(),
                token_sha256.into(),
                d.created_ms.into(),
                d.created_from.clone().into(),
                seq.into(),
            ];
            c.execute(
                &format!(
                    "INSERT INTO devices (id, booth, token_sha256, created_ms, created_from, audit_seq) VALUES ({})",
                    placeholders(params.len())
                ),
                &params,
            )?;
            Ok(())
        })
    }

    /// The device whose token hashes to `token_sha256`, revoked or not.
    pub fn device_by_token(&self, token_sha256: &str) -> Result<Option<DeviceRow>> {
        let rows = self
            .reader()
            .query(&format!("SELECT {COLUMNS} FROM devices WHERE token_sha256 = $1"), &[token_sha256.into()])?;
        rows.first().map(device_from).transpose()
    }

    /// A device by its id.
    pub fn device(&self, id: &str) -> Result<Option<DeviceRow>> {
        let rows = self.reader().query(&format!("SELECT {COLUMNS} FROM devices WHERE id = $1"), &[id.into()])?;
        rows.first().map(device_from).transpose()
    }

    /// The devices of `booths`, newest first.
    pub fn devices(&self, booths: &[String]) -> Result<Vec<DeviceRow>> {
        if booths.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM devices WHERE booth IN ({}) ORDER BY created_ms DESC, id",
            placeholders(booths.len())
        );
        let params: Vec<Value> = booths.iter().map(|b| Value::from(b.as_str())).collect();
        self.reader().query(&sql, &params)?.iter().map(device_from).collect()
    }

    /// Notes a sign-in with the device.
    pub fn device_signed_in(&self, id: &str, at_ms: i64) -> Result<()> {
        self.conn().execute("UPDATE devices SET last_login_ms = $2 WHERE id = $1", &[id.into(), at_ms.into()])?;
        Ok(())
    }

    /// Revokes a device (chained); `false` if it was revoked already or is unknown.
    pub fn revoke_device(&self, id: &str, by: &str, at_ms: i64) -> Result<bool> {
        let content = serde_json::to_string(&(id, by, at_ms)).expect("serializes");
        self.transaction(Some("audit_chain"), |c| {
            let n = c.execute(
                "UPDATE devices SET revoked_ms = $2, revoked_by = $3 WHERE id = $1 AND revoked_ms IS NULL",
                &[id.into(), at_ms.into(), by.into()],
            )?;
            if n > 0 {
                self.chain(c, "device_revoked", id, &content)?;
            }
            Ok(n > 0)
        })
    }
}
