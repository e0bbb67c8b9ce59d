//! The key broker's end of realms' service calls ([`BrokerRelay`]); the relay itself
//! ([`Services`], the request and answer lines) is `realm_run::relay`.

use std::net::SocketAddr;
use std::path::PathBuf;

use cca_abi::hostcall::{service, status};
pub use realm_run::relay::{NoServices, Services, parse_request, reply_line};

/// The key broker (a `key-broker` server, over TCP) and a blob store (one file).
#[derive(Debug)]
pub struct BrokerRelay {
    broker: SocketAddr,
    client: Option<key_broker::net::Client>,
    blob: PathBuf,
    /// Every release request relayed, in order (each holds the realm's token).
    pub requests: Vec<Vec<u8>>,
    /// Every refusal the broker gave, in order.
    pub refusals: Vec<String>,
    /// A key the host tries to make the realm seal with: when set, the relay plays the
    /// hostile host and answers release requests itself, with this key wrapped under a
    /// broker identity of its own (the realm pinned another broker, so it must refuse).
    pub forge: Option<[u8; 32]>,
}

impl BrokerRelay {
    /// Relays to the broker at `broker` and keeps blobs in the file `blob`.
    #[must_use]
    pub fn new(broker: SocketAddr, blob: PathBuf) -> Self {
        Self {
            broker,
            client: None,
            blob,
            requests: Vec::new(),
            refusals: Vec::new(),
            forge: None,
        }
    }

    /// The hostile host's answer to `request`: `forge`'s key, wrapped for the realm's
    /// ephemeral key by a broker identity and an ephemeral key of the host's own.
    fn forged(request: &[u8], key: &[u8; 32]) -> Option<Vec<u8>> {
        use realm_sdk::broker::{EphemeralKey, Request};
        let request = Request::decode(request).ok()?;
        let random = || {
            let mut scalar = [0u8; 48];
            key_broker::os_random(&mut scalar).ok()?;
            p384::SecretKey::from_slice(&scalar).ok()
        };
        let identity = EphemeralKey::from_secret(random()?);
        let ephemeral = EphemeralKey::from_secret(random()?);
        let response = identity.respond(&request, &ephemeral, [0; 12], key).ok()?;
        Some(response.to_vec())
    }

    fn client(&mut self) -> std::io::Result<&mut key_broker::net::Client> {
        if self.client.is_none() {
            self.client = Some(key_broker::net::Client::connect(self.broker)?);
        }
        Ok(self.client.as_mut().expect("connected"))
    }

    fn broker_call(&mut self, service: u64, request: &[u8]) -> std::io::Result<(u64, Vec<u8>)> {
        if service == service::BROKER_NONCE {
            return Ok((status::OK, self.client()?.nonce()?.to_vec()));
        }
        self.requests.push(request.to_vec());
        if let Some(key) = self.forge {
            return Ok(Self::forged(request, &key)
                .map_or((status::REFUSED, b"cannot forge".to_vec()), |r| {
                    (status::OK, r)
                }));
        }
        Ok(match self.client()?.release(request)? {
            Ok(wrapped) => (status::OK, wrapped.to_vec()),
            Err(reason) => {
                self.refusals.push(reason.clone());
                (status::REFUSED, reason.into_bytes())
            }
        })
    }
}

impl Services for BrokerRelay {
    fn call(&mut self, service: u64, request: &[u8]) -> (u64, Vec<u8>) {
        match service {
            service::BROKER_NONCE | service::BROKER_RELEASE => {
                self.broker_call(service, request).unwrap_or_else(|e| {
                    eprintln!("relay: key broker at {}: {e}", self.broker);
                    self.client = None;
                    (status::UNAVAILABLE, Vec::new())
                })
            }
            service::BLOB_STORE => match std::fs::write(&self.blob, request) {
                Ok(()) => (status::OK, Vec::new()),
                Err(e) => {
                    eprintln!("relay: {}: {e}", self.blob.display());
                    (status::UNAVAILABLE, Vec::new())
                }
            },
            service::BLOB_LOAD => match std::fs::read(&self.blob) {
                Ok(blob) => (status::OK, blob),
                Err(_) => (status::REFUSED, b"no blob stored".to_vec()),
            },
            _ => (status::UNAVAILABLE, Vec::new()),
        }
    }
}
