//! Clientele patch: the connections a server holds, under one budget that several servers
//! may share (Clientele's listeners share one: the process has one descriptor limit).
//!
//! Every connection holds a thread and a descriptor for as long as it is open, and the caps
//! bound them: `max` in all, `per_address` from one client IP address. Past `per_address` a
//! new socket is closed at once. When the connections held come near `max` (`shed_from`),
//! each new one closes a held connection that is waiting on its client (idle between
//! requests, still sending its request, or not reading its answer; never one whose request
//! is being handled): the one that has waited longest among those of the address holding
//! the most connections. A crowd that reconnects as soon as it is cut off so takes places
//! from itself rather than from others, and a newcomer is still served. Upstream had no cap.

use std::collections::HashMap;
use std::net::{IpAddr, Shutdown};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::connection::Connection;
use crate::util::Throttle;

/// The connections of one or more servers and their caps.
pub struct Connections {
    max: usize,
    per_address: usize,
    table: Mutex<Table>,
    epoch: Instant,
    report: Mutex<Report>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    held: HashMap<u64, Held>,
    per_address: HashMap<IpAddr, usize>,
}

struct Held {
    address: Option<IpAddr>,
    activity: Arc<Activity>,
    /// Shuts the socket down when the connection is shed (a handle, no descriptor of its own).
    socket: Connection,
    /// Shut down, its thread not yet gone.
    shed: bool,
}

/// Sockets shed and refused since the last log line (at most one a second).
#[derive(Default)]
struct Report {
    throttle: Throttle,
    shed: u64,
    refused: u64,
}

/// What a connection's thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a request (a new connection, or keep-alive between requests).
    Idle = 0,
    /// Reading a request's head or body.
    Reading = 1,
    /// A handler has the request.
    Handling = 2,
    /// Writing the answer.
    Writing = 3,
}

/// What a connection is doing and since when: written by its own thread, read by the accept
/// thread when it chooses a connection to shed.
pub(crate) struct Activity {
    phase: AtomicU8,
    /// Milliseconds after `epoch`.
    since: AtomicU64,
    epoch: Instant,
}

impl Activity {
    pub(crate) fn enter(&self, phase: Phase) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.since.store(now, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// True when closing it loses no work in hand: it waits on its client.
    fn waits_on_client(&self) -> bool {
        self.phase.load(Ordering::Relaxed) != Phase::Handling as u8
    }

    fn since(&self) -> u64 {
        self.since.load(Ordering::Relaxed)
    }
}

/// A connection's place, given back when dropped (its thread is done with it).
pub(crate) struct Place {
    connections: Arc<Connections>,
    id: u64,
    activity: Arc<Activity>,
}

impl Place {
    pub(crate) fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut table = self.connections.lock();
        if let Some(held) = table.held.remove(&self.id) {
            if let Some(address) = held.address {
                if let Some(count) = table.per_address.get_mut(&address) {
                    *count -= 1;
                    if *count == 0 {
                        table.per_address.remove(&address);
                    }
                }
            }
        }
    }
}

impl Connections {
    /// At most `max` connections in all, `per_address` from one client address.
    pub fn new(max: usize, per_address: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max: max.max(1),
            per_address: per_address.max(1),
            table: Mutex::default(),
            epoch: Instant::now(),
            report: Mutex::default(),
        })
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// From this many held connections on, each new one sheds one that waits on its client:
    /// an eighth of the budget is kept for newcomers.
    fn shed_from(&self) -> usize {
        self.max - (self.max / 8).max(1)
    }

    /// A place for a new connection from `address` on `socket`, or `None` when it must be
    /// closed at once.
    pub(crate) fn admit(
        self: &Arc<Self>,
        address: Option<IpAddr>,
        socket: &Connection,
    ) -> Option<Place> {
        let mut table = self.lock();
        let from_address = address.map_or(0, |a| table.per_address.get(&a).copied().unwrap_or(0));
        let mut shed = false;
        if from_address < self.per_address && table.held.len() >= self.shed_from() {
            shed = shed_one(&mut table);
        }
        if from_address >= self.per_address || table.held.len() >= self.max {
            let held = table.held.len();
            drop(table);
            self.report(shed, true, held);
            return None;
        }
        let place = self.insert(&mut table, address, socket);
        let held = table.held.len();
        drop(table);
        if shed {
            self.report(true, false, held);
        }
        Some(place)
    }

    fn insert(
        self: &Arc<Self>,
        table: &mut Table,
        address: Option<IpAddr>,
        socket: &Connection,
    ) -> Place {
        let activity = Arc::new(Activity {
            phase: AtomicU8::new(Phase::Idle as u8),
            since: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            epoch: self.epoch,
        });
        let id = table.next_id;
        table.next_id += 1;
        if let Some(address) = address {
            *table.per_address.entry(address).or_insert(0) += 1;
        }
        table.held.insert(
            id,
            Held {
                address,
                activity: activity.clone(),
                socket: socket.handle(),
                shed: false,
            },
        );
        Place {
            connections: self.clone(),
            id,
            activity,
        }
    }

    /// Logs, at most once a second, how many sockets were shed and refused since the last
    /// line: an operator sees the server is full, and by how much.
    fn report(&self, shed: bool, refused: bool, held: usize) {
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.shed += u64::from(shed);
        report.refused += u64::from(refused);
        if report.throttle.due().is_some() {
            log::warn!(
                "{held} of {} connections in use: {} waiting on their clients closed and {} new \
                 ones refused since the last report",
                self.max,
                report.shed,
                report.refused
            );
            report.shed = 0;
            report.refused = 0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shuts down the connection that has waited longest on its client among those of the
/// address holding the most connections; false when every connection is being handled.
fn shed_one(table: &mut Table) -> bool {
    let share = |address: &Option<IpAddr>| {
        address.map_or(0, |a| table.per_address.get(&a).copied().unwrap_or(0))
    };
    let victim = table
        .held
        .iter()
        .filter(|(_, held)| !held.shed && held.activity.waits_on_client())
        .max_by_key(|(id, held)| {
            (
                share(&held.address),
                std::cmp::Reverse(held.activity.since()),
                std::cmp::Reverse(**id),
            )
        })
        .map(|(id, _)| *id);
    let Some(held) = victim.and_then(|id| table.held.get_mut(&id)) else {
        return false;
    };
    held.shed = true;
    // Its thread, blocked in a read or a write, wakes up to a closed socket and ends, which
    // gives the place back.
    let _ = held.socket.shutdown(Shutdown::Both);
    true
}
