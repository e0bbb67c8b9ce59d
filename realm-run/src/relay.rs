//! The far end of realms' service calls: bare-metal hosts (the EL2 harness, rmi-host) relay
//! them over QEMU's serial port (`cca_abi::hostcall::relay`), and [`Services`] answers them.

use cca_abi::hostcall::{relay, status};

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
