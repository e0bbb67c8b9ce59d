//! The broker's outstanding nonces: bounded in number, expiring, and charged to the
//! connection that asked for them.
//!
//! A nonce belongs to one connection ([`ConnectionId`], from [`NonceStore::open`]) and can
//! be spent only on it ([`NonceStore::take`]), once, before its time to live runs out. Each
//! connection holds at most [`NonceLimits::per_connection`] nonces: when it asks for one
//! more, its *oldest* is dropped, so a connection that floods the broker with nonce
//! requests only ever evicts its own nonces, never another connection's. (Refusing the
//! request instead would need a refusal for nonce requests, which the wire protocol does
//! not have, and would lock a client that lost track of its nonces out until they expire.)
//! At most [`NonceLimits::connections`] connections are open at once, so the store never
//! holds more than `connections × per_connection` nonces ([`NonceStore::capacity`]).
//! Closing a connection ([`NonceStore::close`]) drops its nonces.
//!
//! Time is passed in (`now`), so tests drive the clock.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use realm_sdk::broker::NONCE_SIZE;

/// A nonce as the broker hands it out.
pub type Nonce = [u8; NONCE_SIZE];

/// How many nonces the store keeps, and for how long.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct NonceLimits {
    /// Connections open at once ([`NonceStore::open`] refuses more). 0 counts as 1.
    pub connections: usize,
    /// Outstanding nonces per connection; a new one drops the connection's oldest. 0 counts
    /// as 1.
    pub per_connection: usize,
    /// How long a nonce can be spent after it was issued.
    pub ttl: Duration,
}

/// A connection's handle in a [`NonceStore`]: its nonces are charged to it, and can be spent
/// only through it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct ConnectionId(u64);

/// The outstanding nonces (see the module docs).
#[derive(Debug)]
pub struct NonceStore {
    limits: NonceLimits,
    /// Each open connection's nonces with the time each was issued, oldest first.
    open: HashMap<ConnectionId, VecDeque<(Nonce, Instant)>>,
    next: u64,
}

impl NonceStore {
    /// An empty store with `limits` (zero counts are taken as 1).
    #[must_use]
    pub fn new(limits: NonceLimits) -> Self {
        let limits = NonceLimits {
            connections: limits.connections.max(1),
            per_connection: limits.per_connection.max(1),
            ttl: limits.ttl,
        };
        Self {
            limits,
            open: HashMap::with_capacity(limits.connections),
            next: 0,
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> NonceLimits {
        self.limits
    }

    /// Opens a connection, or `None` if [`NonceLimits::connections`] are open already.
    pub fn open(&mut self) -> Option<ConnectionId> {
        if self.open.len() >= self.limits.connections {
            return None;
        }
        let id = ConnectionId(self.next);
        self.next += 1;
        self.open
            .insert(id, VecDeque::with_capacity(self.limits.per_connection));
        Some(id)
    }

    /// Closes connection `id`, dropping its nonces. Closing it again does nothing.
    pub fn close(&mut self, id: ConnectionId) {
        self.open.remove(&id);
    }

    /// Records `nonce`, issued at `now`, for connection `id`: first its expired nonces are
    /// dropped, then, if it holds [`NonceLimits::per_connection`] already, its oldest.
    /// Returns `false` (and records nothing) if `id` is not open.
    pub fn insert(&mut self, id: ConnectionId, nonce: Nonce, now: Instant) -> bool {
        let ttl = self.limits.ttl;
        let per_connection = self.limits.per_connection;
        let Some(nonces) = self.open.get_mut(&id) else {
            return false;
        };
        nonces.retain(|&(_, issued)| !expired(issued, now, ttl));
        while nonces.len() >= per_connection {
            nonces.pop_front();
        }
        nonces.push_back((nonce, now));
        true
    }

    /// Spends `nonce` on connection `id` at `now`: `true` if `id` was issued it, has not spent
    /// it, and it has not expired. The nonce is gone afterwards either way.
    pub fn take(&mut self, id: ConnectionId, nonce: &Nonce, now: Instant) -> bool {
        let ttl = self.limits.ttl;
        let Some(nonces) = self.open.get_mut(&id) else {
            return false;
        };
        let Some(at) = nonces.iter().position(|(n, _)| n == nonce) else {
            return false;
        };
        nonces
            .remove(at)
            .is_some_and(|(_, issued)| !expired(issued, now, ttl))
    }

    /// Drops every expired nonce (they are also dropped as their connection asks for more,
    /// so this only tightens [`NonceStore::len`]).
    pub fn purge(&mut self, now: Instant) {
        let ttl = self.limits.ttl;
        for nonces in self.open.values_mut() {
            nonces.retain(|&(_, issued)| !expired(issued, now, ttl));
        }
    }

    /// The nonces held (expired ones included until they are dropped).
    #[must_use]
    pub fn len(&self) -> usize {
        self.open.values().map(VecDeque::len).sum()
    }

    /// Whether no nonce is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.open.values().all(VecDeque::is_empty)
    }

    /// The connections open.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.open.len()
    }

    /// The most nonces the store can hold: connections × nonces per connection.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.limits
            .connections
            .saturating_mul(self.limits.per_connection)
    }
}

/// Whether a nonce issued at `issued` is past `ttl` at `now` (a clock that went backwards
/// counts as no time passed).
fn expired(issued: Instant, now: Instant, ttl: Duration) -> bool {
    now.saturating_duration_since(issued) >= ttl
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: NonceLimits = NonceLimits {
        connections: 3,
        per_connection: 4,
        ttl: Duration::from_secs(120),
    };

    fn nonce(i: u32) -> Nonce {
        let mut n = [0u8; NONCE_SIZE];
        n[..4].copy_from_slice(&i.to_le_bytes());
        n
    }

    /// A nonce is spent once, and only on the connection it was issued to.
    #[test]
    fn single_use_on_its_own_connection() {
        let mut s = NonceStore::new(LIMITS);
        let (a, b) = (s.open().unwrap(), s.open().unwrap());
        let t = Instant::now();
        assert!(s.insert(a, nonce(1), t));
        assert!(!s.take(b, &nonce(1), t), "another connection's nonce");
        assert!(s.take(a, &nonce(1), t));
        assert!(!s.take(a, &nonce(1), t), "spent twice");
        assert!(!s.take(a, &nonce(2), t), "never issued");
        assert!(s.is_empty());
    }

    /// A nonce can be spent until just before its TTL, not at or after it; expired nonces
    /// leave the store as their connection asks for more, or on a purge.
    #[test]
    fn expiry_with_an_injected_clock() {
        let mut s = NonceStore::new(LIMITS);
        let a = s.open().unwrap();
        let t = Instant::now();
        s.insert(a, nonce(1), t);
        s.insert(a, nonce(2), t);
        s.insert(a, nonce(3), t);
        assert!(s.take(a, &nonce(1), t + LIMITS.ttl - Duration::from_millis(1)));
        assert!(!s.take(a, &nonce(2), t + LIMITS.ttl));
        // Taking the expired nonce removed it; the third still sits there, expired.
        assert_eq!(s.len(), 1);
        s.insert(a, nonce(4), t + LIMITS.ttl);
        assert_eq!(s.len(), 1, "the expired nonce was dropped");
        s.purge(t + 2 * LIMITS.ttl);
        assert!(s.is_empty());
        // A clock going backwards does not expire anything.
        s.insert(a, nonce(5), t + LIMITS.ttl);
        assert!(s.take(a, &nonce(5), t));
    }

    /// A connection holds at most `per_connection` nonces: a new one drops its oldest, and
    /// never another connection's.
    #[test]
    fn per_connection_quota_drops_the_oldest_of_its_own() {
        let mut s = NonceStore::new(LIMITS);
        let (flooder, victim) = (s.open().unwrap(), s.open().unwrap());
        let t = Instant::now();
        s.insert(victim, nonce(1000), t);
        for i in 0..10_000 {
            s.insert(flooder, nonce(i), t);
        }
        assert_eq!(s.len(), LIMITS.per_connection + 1);
        assert!(!s.take(flooder, &nonce(9995), t), "dropped as the oldest");
        for i in 9996..10_000 {
            assert!(s.take(flooder, &nonce(i), t), "nonce {i}");
        }
        assert!(s.take(victim, &nonce(1000), t));
    }

    /// At most `connections` are open; the store never holds more than connections × quota
    /// nonces, and closing a connection drops its nonces and frees its place.
    #[test]
    fn connection_cap_and_global_cap() {
        let mut s = NonceStore::new(LIMITS);
        let ids: Vec<_> = (0..LIMITS.connections).map(|_| s.open().unwrap()).collect();
        assert_eq!(s.open(), None);
        let t = Instant::now();
        for (k, &id) in ids.iter().enumerate() {
            for i in 0..100 {
                s.insert(id, nonce(1000 * k as u32 + i), t);
            }
        }
        assert_eq!(s.len(), s.capacity());
        assert_eq!(s.capacity(), 12);
        s.close(ids[0]);
        assert_eq!(s.len(), 8);
        assert!(!s.insert(ids[0], nonce(1), t), "closed");
        assert!(!s.take(ids[0], &nonce(99), t), "closed");
        let again = s.open().unwrap();
        assert_ne!(again, ids[0], "ids are not reused");
        assert_eq!(s.connections(), 3);
    }

    /// Zero limits are taken as 1.
    #[test]
    fn zero_limits_count_as_one() {
        let mut s = NonceStore::new(NonceLimits {
            connections: 0,
            per_connection: 0,
            ttl: LIMITS.ttl,
        });
        let a = s.open().unwrap();
        assert_eq!(s.open(), None);
        let t = Instant::now();
        s.insert(a, nonce(1), t);
        s.insert(a, nonce(2), t);
        assert!(s.take(a, &nonce(2), t));
        assert_eq!(s.capacity(), 1);
    }
}
