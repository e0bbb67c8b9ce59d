//! Service calls: messages between the realm and services outside the machine (the key
//! broker, a blob store), carried by the untrusted host.
//!
//! The realm gives up some of its pages for a shared buffer: it sets their RIPAS to `EMPTY`
//! ([`share`]) and from then on reaches them only at their unprotected alias, where the host
//! maps its own memory. A call ([`ServiceChannel::call`]) writes the request into the
//! buffer, makes an `RSI_HOST_CALL` with the immediate [`SERVICE`] (registers in
//! [`cca_abi::hostcall`]), and copies the answer out of the buffer into private memory once,
//! after checking its length, before the caller parses it. The host sees and may change
//! everything in the buffer: whatever travels through it must be protected end to end (the
//! key broker's messages are).
//!
//! Memory access goes through a [`Window`]: [`AliasWindow`] is the shared buffer at its
//! alias; tests put something else behind it.

use core::fmt;

use cca_abi::GRANULE_SIZE;
use cca_abi::hostcall::{SERVICE, service, status};
use cca_abi::rsi::{Ripas, RipasChangeDestroyed, RsiHostCall};

use crate::broker::{NONCE_SIZE, RESPONSE_SIZE, Transport};
use crate::rsi::{self, RsiError};
use crate::{Conduit, Ipa, Realm};

/// The memory of a shared buffer, as the realm reaches it.
pub trait Window {
    /// The unprotected IPA of the buffer, as the host sees it.
    fn ipa(&self) -> u64;
    /// Size of the buffer in bytes.
    fn size(&self) -> usize;
    /// Copies `data` into the buffer at `offset`; `offset + data.len()` is within
    /// [`Window::size`].
    fn write(&mut self, offset: usize, data: &[u8]);
    /// Copies the buffer at `offset` into `buf`; `offset + buf.len()` is within
    /// [`Window::size`].
    fn read(&self, offset: usize, buf: &mut [u8]);
}

/// Page-aligned storage to give up for a shared buffer (a `static`, see [`share`]).
#[repr(C, align(4096))]
pub struct SharedPages<const N: usize>([[u8; GRANULE_SIZE]; N]);

impl<const N: usize> SharedPages<N> {
    /// `N` zeroed pages.
    #[must_use]
    pub const fn new() -> Self {
        Self([[0; GRANULE_SIZE]; N])
    }
}

impl<const N: usize> Default for SharedPages<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A shared buffer at the unprotected alias of pages the realm gave up.
///
/// The alias is reached at the address equal to its IPA, so the realm must run with the MMU
/// off or an identity map of the unprotected half (as the `rt` runtime does, with Normal
/// non-cacheable memory there). Every access is a volatile byte access: the memory is the
/// host's, and a realm with the MMU off sees it as Device memory, where wider or unaligned
/// accesses could fault.
#[derive(Debug)]
pub struct AliasWindow {
    base: u64,
    size: usize,
}

/// Gives `pages` up to the host: sets their RIPAS to `EMPTY` and returns the window at
/// their unprotected alias. The protected pages are never touched again (the `'static`
/// borrow keeps everyone else off them); their contents are lost.
///
/// # Errors
///
/// [`RsiError`] if the RMM refuses or the host rejects the RIPAS change.
pub fn share<C: Conduit, const N: usize>(
    realm: &mut Realm<C>,
    pages: &'static mut SharedPages<N>,
) -> Result<AliasWindow, RsiError> {
    let base = Ipa::of_mut(pages);
    let size = N * GRANULE_SIZE;
    let top = Ipa(base.0 + size as u64);
    // Under the runtime's identity map, `set_ripas` writes the pages' dirty lines back, drops
    // them from the caches and unmaps the protected pages before the RMM takes them; the
    // window reaches them through the alias, which the map holds as Normal non-cacheable
    // memory, unless the IPA space is too wide for the map (over 48 bits).
    #[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
    if !crate::rt::mmu::alias_mapped() {
        return Err(RsiError::BadArgument(rsi::BadArgument::Range));
    }
    realm.set_ripas(base, top, Ripas::Empty, RipasChangeDestroyed::NoChange)?;
    let mut window = AliasWindow {
        base: realm.unprotected_alias(base).0,
        size,
    };
    // Touch every page, so that a host that maps shared memory on the realm's faults (as
    // rmi-shim's builder does) has mapped all of it before the first call names it.
    for page in 0..N {
        window.write(page * GRANULE_SIZE, &[0]);
    }
    Ok(window)
}

#[allow(
    unsafe_code,
    reason = "the shared buffer is host memory at an address no Rust object owns"
)]
impl Window for AliasWindow {
    fn ipa(&self) -> u64 {
        self.base
    }

    fn size(&self) -> usize {
        self.size
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= self.size, "shared buffer overflow");
        let base = self.base as usize as *mut u8;
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: `share` made `base..base + size` the unprotected alias of pages this
            // window alone owns (a `'static` borrow); the host maps memory there (or the
            // access exits to it). The bound was checked above.
            unsafe { base.add(offset + i).write_volatile(b) };
        }
    }

    fn read(&self, offset: usize, buf: &mut [u8]) {
        assert!(offset + buf.len() <= self.size, "shared buffer overflow");
        let base = self.base as usize as *const u8;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: as for `write`.
            *b = unsafe { base.add(offset + i).read_volatile() };
        }
    }
}

/// A service's reason for refusing, as the host passed it on (untrusted text).
#[derive(Clone, Copy, Eq, PartialEq)]
pub struct Reason {
    bytes: [u8; 96],
    len: u8,
}

impl Reason {
    fn new(text: &[u8]) -> Self {
        let mut bytes = [0; 96];
        let len = text.len().min(bytes.len());
        bytes[..len].copy_from_slice(&text[..len]);
        Self {
            bytes,
            len: len as u8,
        }
    }

    /// The reason's bytes (at most 96; longer reasons are cut).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printable ASCII as is, anything else escaped: the text comes from the host.
        for &b in self.as_bytes() {
            if b == b' ' || b.is_ascii_graphic() {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reason(\"{self}\")")
    }
}

/// Why a service call failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ServiceError {
    /// The host call itself failed.
    Rsi(RsiError),
    /// The request does not fit the shared buffer.
    RequestTooLong,
    /// The service refused, for this reason.
    Refused(Reason),
    /// The host cannot reach the service.
    Unavailable,
    /// The host says the buffer is not shared memory it can reach.
    BadBuffer,
    /// The host's answer is longer than the buffer, or than the caller's.
    AnswerTooLong,
    /// The host's answer has an unexpected length for this service.
    BadAnswer,
    /// The host answered with a status this protocol does not have.
    UnknownStatus(u64),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsi(e) => write!(f, "host call: {e}"),
            Self::RequestTooLong => f.write_str("request does not fit the shared buffer"),
            Self::Refused(r) => write!(f, "refused: {r}"),
            Self::Unavailable => f.write_str("the host cannot reach the service"),
            Self::BadBuffer => f.write_str("the host cannot reach the shared buffer"),
            Self::AnswerTooLong => f.write_str("the host's answer is too long"),
            Self::BadAnswer => f.write_str("the host's answer has the wrong length"),
            Self::UnknownStatus(s) => write!(f, "unknown service status {s}"),
        }
    }
}

impl core::error::Error for ServiceError {}

/// Service calls through a shared buffer.
#[derive(Debug)]
pub struct ServiceChannel<W: Window> {
    window: W,
}

impl<W: Window> ServiceChannel<W> {
    /// A channel over `window`.
    pub fn new(window: W) -> Self {
        Self { window }
    }

    /// Sends `request` to `service` and copies the answer into `answer`.
    ///
    /// # Errors
    ///
    /// [`ServiceError`]: the service's refusal, the host's failure, or an answer that does
    /// not fit.
    pub fn call<'a>(
        &mut self,
        conduit: &mut (impl Conduit + ?Sized),
        service: u64,
        request: &[u8],
        answer: &'a mut [u8],
    ) -> Result<&'a [u8], ServiceError> {
        let size = self.window.size();
        if request.len() > size {
            return Err(ServiceError::RequestTooLong);
        }
        self.window.write(0, request);
        let mut call = RsiHostCall::new(SERVICE);
        call.gprs[..4].copy_from_slice(&[
            service,
            self.window.ipa(),
            request.len() as u64,
            size as u64,
        ]);
        rsi::host_call(conduit, &mut call).map_err(ServiceError::Rsi)?;
        let [code, len] = [call.gprs[0], call.gprs[1]];
        // One check of the host's length against both buffers, then one copy.
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= size)
            .ok_or(ServiceError::AnswerTooLong)?;
        match code {
            status::OK => {
                let out = answer.get_mut(..len).ok_or(ServiceError::AnswerTooLong)?;
                self.window.read(0, out);
                Ok(out)
            }
            status::REFUSED => {
                let mut text = [0u8; 96];
                let n = len.min(text.len());
                self.window.read(0, &mut text[..n]);
                Err(ServiceError::Refused(Reason::new(&text[..n])))
            }
            status::UNAVAILABLE => Err(ServiceError::Unavailable),
            status::BAD_BUFFER => Err(ServiceError::BadBuffer),
            other => Err(ServiceError::UnknownStatus(other)),
        }
    }

    /// Asks the host's blob store to keep `blob` for the next realm of this name.
    ///
    /// # Errors
    ///
    /// As [`ServiceChannel::call`].
    pub fn store_blob(
        &mut self,
        conduit: &mut (impl Conduit + ?Sized),
        blob: &[u8],
    ) -> Result<(), ServiceError> {
        self.call(conduit, service::BLOB_STORE, blob, &mut [])
            .map(drop)
    }

    /// The blob the host's store keeps, copied into `out`; `Ok(None)` if it has none.
    ///
    /// # Errors
    ///
    /// As [`ServiceChannel::call`].
    pub fn load_blob<'a>(
        &mut self,
        conduit: &mut (impl Conduit + ?Sized),
        out: &'a mut [u8],
    ) -> Result<Option<&'a [u8]>, ServiceError> {
        // Two steps so the borrow of `out` ends on the refusal path.
        let result = self
            .call(conduit, service::BLOB_LOAD, &[], out)
            .map(<[u8]>::len);
        match result {
            Ok(len) => Ok(Some(&out[..len])),
            Err(ServiceError::Refused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The key broker, reached through the host.
impl<W: Window> Transport for ServiceChannel<W> {
    type Error = ServiceError;

    fn nonce(&mut self, conduit: &mut dyn Conduit) -> Result<[u8; NONCE_SIZE], ServiceError> {
        let mut nonce = [0u8; NONCE_SIZE];
        let got = self
            .call(conduit, service::BROKER_NONCE, &[], &mut nonce)?
            .len();
        if got != NONCE_SIZE {
            return Err(ServiceError::BadAnswer);
        }
        Ok(nonce)
    }

    fn release(
        &mut self,
        conduit: &mut dyn Conduit,
        request: &[u8],
        response: &mut [u8; RESPONSE_SIZE],
    ) -> Result<(), ServiceError> {
        let got = self
            .call(conduit, service::BROKER_RELEASE, request, response)?
            .len();
        if got != RESPONSE_SIZE {
            return Err(ServiceError::BadAnswer);
        }
        Ok(())
    }
}
