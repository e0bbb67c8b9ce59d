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
