//! The fixture controls that decide answers, the clock offset and the fault rules, live in
//! each server's memory. On PostgreSQL several instances answer for one database, so there
//! they are also kept in the table `clientele_state`: every request first takes them from it
//! (one small read), every change made through the admin API or the console is written back,
//! and a rule that counts its uses (`times`) is used up in a write, so that of two instances
//! only one takes its last use. SQLite has one server per file: nothing is shared or read.

use std::sync::Mutex;

use crate::clock::Clock;
use crate::db;
use crate::faults::{Fault, Faults};
use crate::store::Store;

/// The clock offset and faults text this server last read or wrote: unchanged rules are not
/// parsed again, and an admin request that changed neither writes nothing.
#[derive(Default)]
pub struct Shared {
    seen: Mutex<(i64, String)>,
}

/// A server's fixture controls and the store they are shared through (`App::controls`).
pub struct Controls<'a> {
    pub store: &'a Store,
    pub clock: &'a Clock,
    pub faults: &'a Faults,
    pub shared: &'a Shared,
}

const CLOCK: &str = "clock_offset_ms";
const FAULTS: &str = "faults";

impl Controls<'_> {
    fn shared(&self) -> bool {
        self.store.shared_by_instances()
    }

    /// Takes the shared clock offset and fault rules into this server (before a request).
    pub fn pull(&self) -> db::Result<()> {
        if !self.shared() {
            return Ok(());
        }
        let (clock, faults) = self.store.read(read)?;
        self.apply(clock, faults);
        Ok(())
    }

    /// Writes this server's clock offset and fault rules for the others (after a change).
    pub fn push(&self) -> db::Result<()> {
        if !self.shared() {
            return Ok(());
        }
        let now = (self.clock.offset_ms(), self.faults.snapshot());
        if *self.seen() == now {
            return Ok(());
        }
        self.store.write(|tx| write(tx, now.0, &now.1))?;
        *self.seen() = now;
        Ok(())
    }

    /// The fault for a request, if a rule matches. On PostgreSQL a counted rule is used up
    /// inside a write (which every instance takes in turn).
    pub fn take_fault(&self, flavour: &str, method: &str, path: &str) -> Option<Fault> {
        if !self.shared() || !self.faults.has_counted() {
            return self.faults.take(Some(flavour), method, path);
        }
        let counted = self.store.write(|tx| {
            let (clock, faults) = read(tx)?;
            self.apply(clock, faults);
            let fault = self.faults.take(Some(flavour), method, path);
            if fault.is_some() {
                let now = (self.clock.offset_ms(), self.faults.snapshot());
                write(tx, now.0, &now.1)?;
                *self.seen() = now;
            }
            Ok::<_, db::Error>(fault)
        });
        counted.unwrap_or_else(|e| {
            crate::log::line(format!("faults: sharing a counted rule failed: {e}"));
            self.faults.take(Some(flavour), method, path)
        })
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, (i64, String)> {
        self.shared.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn apply(&self, clock: Option<String>, faults: Option<String>) {
        let offset = clock.and_then(|v| v.parse().ok()).unwrap_or(0);
        self.clock.set_offset(offset);
        let faults = faults.unwrap_or_default();
        let mut seen = self.seen();
        if seen.1 != faults {
            self.faults.restore(&faults);
        }
        *seen = (offset, faults);
    }
}

fn read(c: &db::Connection) -> db::Result<(Option<String>, Option<String>)> {
    let (mut clock, mut faults) = (None, None);
    let mut stmt = c.prepare_cached("SELECT key, value FROM clientele_state")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (key, value): (String, String) = (row.get(0)?, row.get(1)?);
        match key.as_str() {
            CLOCK => clock = Some(value),
            FAULTS => faults = Some(value),
            _ => {}
        }
    }
    Ok((clock, faults))
}

fn write(tx: &db::Transaction, offset_ms: i64, faults: &str) -> db::Result<()> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO clientele_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?;
    upsert.execute([CLOCK, &offset_ms.to_string()])?;
    upsert.execute([FAULTS, faults])?;
    Ok(())
}
