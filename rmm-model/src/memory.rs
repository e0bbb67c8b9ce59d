//! How the model reaches realm memory.

/// An access to realm memory the backing store cannot serve: on an RMM this is a stage-2
/// fault the host has to resolve (a REC exit with a data abort).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Unmapped {
    /// The first address that could not be accessed.
    pub ipa: u64,
}

/// Realm memory, addressed by IPA. The model checks RIPAS and alignment before it calls
/// these; an implementation only has to know what is backed.
pub trait RealmMemory {
    /// Reads `buf.len()` bytes at `ipa`.
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), Unmapped>;
    /// Writes `data` at `ipa`.
    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), Unmapped>;
}

/// Realm memory held in a buffer: IPAs `[base, base + len)`.
#[derive(Clone, Debug)]
pub struct SimMemory {
    base: u64,
    bytes: alloc::vec::Vec<u8>,
}

impl SimMemory {
    /// `len` zero bytes at IPA `base`.
    #[must_use]
    pub fn new(base: u64, len: usize) -> Self {
        Self {
            base,
            bytes: alloc::vec![0; len],
        }
    }

    /// The bytes at `[ipa, ipa + len)`, if backed.
    #[must_use]
    pub fn get(&self, ipa: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(ipa.checked_sub(self.base)?).ok()?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    fn range(&mut self, ipa: u64, len: usize) -> Result<&mut [u8], Unmapped> {
        let fault = Unmapped { ipa };
        let start = usize::try_from(ipa.checked_sub(self.base).ok_or(fault)?).map_err(|_| fault)?;
        let end = start.checked_add(len).ok_or(fault)?;
        self.bytes.get_mut(start..end).ok_or(fault)
    }
}

impl RealmMemory for SimMemory {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        buf.copy_from_slice(self.range(ipa, buf.len())?);
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), Unmapped> {
        self.range(ipa, data.len())?.copy_from_slice(data);
        Ok(())
    }
}

/// Process memory seen as realm memory, IPA = address.
///
/// The model only reaches it after its own checks (alignment, protected range, RIPAS RAM),
/// and realm-sdk only passes addresses of live buffers it borrows exclusively for the call,
/// or, through its `unsafe` raw functions, addresses whose validity the caller promised:
/// the same contract under which a real RMM writes realm memory.
#[cfg(feature = "std")]
pub(crate) struct HostMemory;

#[cfg(feature = "std")]
#[allow(
    unsafe_code,
    reason = "in-process realm memory is the host process's memory"
)]
impl RealmMemory for HostMemory {
    fn read(&mut self, ipa: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let src = core::ptr::with_exposed_provenance::<u8>(ipa as usize);
        // SAFETY: `ipa` was exposed by realm-sdk from a live buffer of at least `buf.len()`
        // bytes that the realm code lends to this call (see the type's documentation).
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), Unmapped> {
        let dst = core::ptr::with_exposed_provenance_mut::<u8>(ipa as usize);
        // SAFETY: as for `read`; the buffer is borrowed mutably by the caller for the call.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }
}
