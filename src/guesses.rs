//! Wrong admin tokens, counted per client address, so that guessing the token is slow and
//! shows in the log (docs/fixture.md, "The admin API").
//!
//! Five wrong tokens from an address cost nothing (a person mistyping). After that each one
//! shuts the address out, twice as long as the time before, from one second up to five
//! minutes: its admin calls and console sign-ins are answered 429 with `Retry-After`, their
//! tokens unread, until then. A right token resets its own address and is never slowed from
//! another. An address is forgotten 15 minutes after its last wrong token; IPv6 addresses
//! count by their /64, which one client usually holds whole. Kept in memory, per process:
//! nothing sleeps, so a guesser holds no thread longer than it takes to answer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::log::Throttle;

/// Wrong tokens an address may send before it is shut out.
const FREE_TRIES: u32 = 5;
/// The first time an address is shut out; each wrong token after doubles it.
const FIRST_SHUT_OUT: Duration = Duration::from_secs(1);
const LONGEST_SHUT_OUT: Duration = Duration::from_secs(300);
/// An address with no wrong token for this long starts again from nothing.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most; past it the longest quiet one is forgotten.
const MOST_ADDRESSES: usize = 10_000;

/// What is known of the wrong tokens of each address.
#[derive(Default)]
pub struct Guesses {
    addresses: Mutex<HashMap<Option<IpAddr>, Record>>,
    /// At most one log line a second says an address was shut out.
    log: Mutex<Throttle>,
}

struct Record {
    wrong: u32,
    last_wrong: Instant,
    shut_until: Option<Instant>,
}

impl Guesses {
    /// `Err(how long)` while `address` is shut out.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let addresses = self.lock();
        match addresses.get(&key(address)).and_then(|r| r.shut_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a wrong token from `address`, and shuts it out past the free tries.
    pub fn wrong(&self, address: Option<IpAddr>) {
        let now = Instant::now();
        let shut_for = {
            let mut addresses = self.lock();
            make_room(&mut addresses, now);
            let record = addresses.entry(key(address)).or_insert(Record {
                wrong: 0,
                last_wrong: now,
                shut_until: None,
            });
            if now.duration_since(record.last_wrong) >= FORGET_AFTER {
                record.wrong = 0;
            }
            record.wrong += 1;
            record.last_wrong = now;
            let shut_for = shut_out_for(record.wrong);
            record.shut_until = shut_for.map(|d| now + d);
            shut_for.map(|d| (d, record.wrong))
        };
        if let Some((shut_for, wrong)) = shut_for {
            self.report(address, wrong, shut_for);
        }
    }

    /// A right token from `address`: it starts again from nothing.
    pub fn right(&self, address: Option<IpAddr>) {
        let mut addresses = self.lock();
        if !addresses.is_empty() {
            addresses.remove(&key(address));
        }
    }

    fn report(&self, address: Option<IpAddr>, wrong: u32, shut_for: Duration) {
        let Some(unreported) = self.log.lock().unwrap_or_else(|e| e.into_inner()).due() else {
            return;
        };
        let address = address.map_or("a local socket".to_string(), |a| a.to_string());
        let others = match unreported - 1 {
            0 => String::new(),
            n => format!(" ({n} more addresses shut out since the last such line)"),
        };
        crate::log::line(format!(
            "admin: {wrong} wrong admin tokens from {address}: its admin calls and console \
             sign-ins are refused (429) for {} s{others}",
            shut_for.as_secs()
        ));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Option<IpAddr>, Record>> {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `Retry-After` for `wait`: whole seconds, rounded up.
pub fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// How long the `wrong`th wrong token shuts its address out, if at all.
fn shut_out_for(wrong: u32) -> Option<Duration> {
    let past_free = wrong.checked_sub(FREE_TRIES + 1)?;
    let doubled = FIRST_SHUT_OUT.saturating_mul(2u32.saturating_pow(past_free.min(16)));
    Some(doubled.min(LONGEST_SHUT_OUT))
}

/// Addresses are counted whole, but IPv6 ones by their /64.
fn key(address: Option<IpAddr>) -> Option<IpAddr> {
    match address? {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(IpAddr::V4(v4)),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Some(IpAddr::V6(prefix.into()))
            }
        },
        v4 => Some(v4),
    }
}

/// Keeps the table under `MOST_ADDRESSES`: forgets quiet addresses, then the quietest.
fn make_room(addresses: &mut HashMap<Option<IpAddr>, Record>, now: Instant) {
    if addresses.len() < MOST_ADDRESSES {
        return;
    }
    addresses.retain(|_, r| now.duration_since(r.last_wrong) < FORGET_AFTER);
    while addresses.len() >= MOST_ADDRESSES {
        let quietest = addresses
            .iter()
            .min_by_key(|(_, r)| r.last_wrong)
            .map(|(k, _)| *k);
        match quietest {
            Some(k) => addresses.remove(&k),
            None => break,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shut_out_doubles_after_the_free_tries_up_to_five_minutes() {
        let times: Vec<_> = (1..=20).map(shut_out_for).collect();
        assert_eq!(times[..5], [None; 5]);
        assert_eq!(times[5], Some(Duration::from_secs(1)));
        assert_eq!(times[6], Some(Duration::from_secs(2)));
        assert_eq!(times[9], Some(Duration::from_secs(16)));
        assert_eq!(times[19], Some(LONGEST_SHUT_OUT));
    }

    #[test]
    fn an_address_is_shut_out_after_its_free_tries_and_others_are_not() {
        let guesses = Guesses::default();
        let guesser: IpAddr = "192.0.2.7".parse().unwrap();
        let admin: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..FREE_TRIES {
            guesses.wrong(Some(guesser));
            assert!(guesses.check(Some(guesser)).is_ok());
        }
        guesses.wrong(Some(guesser));
        assert!(guesses.check(Some(guesser)).is_err());
        assert!(guesses.check(Some(admin)).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key(Some(a)), key(Some(b)));
        assert_ne!(key(Some(a)), key(Some(c)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(key(Some(mapped)), Some("192.0.2.7".parse().unwrap()));
    }
}
