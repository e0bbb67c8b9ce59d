//! The far end of realms' service calls: bare-metal hosts (the EL2 harness, rmi-host) relay
//! them over QEMU's serial port (`cca_abi::hostcall::relay`), and [`Services`] answers them.

use std::net::SocketAddr;
use std::path::PathBuf;

use cca_abi::hostcall::{relay, service, status};

/// Answers service calls.
pub trait Services: Send {
    /// The status and answer for a call of `service` with `request`.
    fn call(&mut self, service: u64, request: &[u8]) -> (u64, Vec<u8>);
}

/// No service: every call is answered [`status::UNAVAILABLE`].
pub struct NoServices;

impl Services for NoServices {
    fn call(&mut self, _: u64, _: &[u8]) -> (u64, Vec<u8>) {
        (status::UNAVAILABLE, Vec::new())
    }
}

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

/// If `line` (without its newline) is a service request, the service and the request.
/// `Some(Err(()))` for a request line that is malformed. After its prefix a request line has
/// the answer line's form (`<decimal> <hex>`), so the hosts' own decoder reads it.
pub fn parse_request(line: &str) -> Option<Result<(u64, Vec<u8>), ()>> {
    let rest = line.trim_end_matches('\r').strip_prefix(relay::REQUEST)?;
    let mut bytes = vec![0u8; rest.len() / 2];
    let mut decoder = relay::ReplyDecoder::new(&mut bytes);
    let mut end = None;
    for &b in rest.as_bytes().iter().chain(b"\n") {
        end = decoder.push(b).map_err(drop).transpose();
        if end.is_some() {
            break;
        }
    }
    Some(end.unwrap_or(Err(())).map(|(service, len)| {
        bytes.truncate(len);
        (service, bytes)
    }))
}

/// The answer line for `status` and `answer`, newline included.
#[must_use]
pub fn reply_line(status: u64, answer: &[u8]) -> String {
    use std::fmt::Write;
    let mut line = format!("{status} ");
    for b in answer {
        let _ = write!(line, "{b:02x}");
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_round_trip_with_the_hosts_encoder() {
        let mut line = Vec::new();
        relay::write_request(4, &[1, 0xfe], &mut |b: &[u8]| line.extend_from_slice(b));
        let line = String::from_utf8(line).unwrap();
        assert_eq!(parse_request(line.trim_end()), Some(Ok((4, vec![1, 0xfe]))));
        assert_eq!(parse_request("el2-harness: hello"), None);
        // What a realm prints passes through `relay::sanitize`: never a request.
        assert_eq!(parse_request("?@@service 4 00"), None);
        assert_eq!(parse_request("\x1e@@service 4 0"), Some(Err(())));
        assert_eq!(parse_request("\x1e@@service x 00"), Some(Err(())));
    }

    #[test]
    fn reply_lines_decode_with_the_hosts_decoder() {
        let line = reply_line(1, b"no");
        let mut out = [0u8; 8];
        let mut d = relay::ReplyDecoder::new(&mut out);
        let mut end = None;
        for b in line.bytes() {
            end = d.push(b).unwrap();
        }
        assert_eq!(end, Some((1, 2)));
        assert_eq!(&out[..2], b"no");
    }
}
