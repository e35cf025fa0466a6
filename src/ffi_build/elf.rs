//! Checks on a linked unit image that only the ELF file can answer.
//!
//! Every FFI instance is a separate `dlopen` of the image, so an image whose
//! TLS uses the initial-exec model (`DF_STATIC_TLS`) would exhaust glibc's
//! static TLS block after a handful of instances. The build refuses such an
//! image up front instead of letting the program fail at run time.

const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_FLAGS: u64 = 30;
const DF_STATIC_TLS: u64 = 0x10;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// `Some(true)` when the image is a 64-bit little-endian ELF file whose
/// dynamic section has `DF_STATIC_TLS` set in `DT_FLAGS`; `None` when the
/// bytes are not such an ELF file (or are truncated).
pub fn has_static_tls(image: &[u8]) -> Option<bool> {
    if image.get(0..4)? != b"\x7fELF" || *image.get(4)? != 2 || *image.get(5)? != 1 {
        return None;
    }
    let phoff = usize::try_from(u64_at(image, 0x20)?).ok()?;
    let phentsize = usize::from(u16_at(image, 0x36)?);
    let phnum = usize::from(u16_at(image, 0x38)?);
    if phentsize < 56 {
        return None;
    }
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(image, ph)? != PT_DYNAMIC {
            continue;
        }
        let off = usize::try_from(u64_at(image, ph.checked_add(8)?)?).ok()?;
        let size = usize::try_from(u64_at(image, ph.checked_add(32)?)?).ok()?;
        let mut at = off;
        while at.checked_add(16)? <= off.checked_add(size)? {
            let tag = u64_at(image, at)?;
            if tag == DT_NULL {
                break;
            }
            if tag == DT_FLAGS && u64_at(image, at.checked_add(8)?)? & DF_STATIC_TLS != 0 {
                return Some(true);
            }
            at += 16;
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf_is_none() {
        assert_eq!(has_static_tls(b"hello"), None);
        assert_eq!(has_static_tls(b"\x7fELF\x02\x01"), None);
    }

    #[test]
    fn truncated_headers_are_none_not_panics() {
        let mut b = b"\x7fELF\x02\x01\x01".to_vec();
        b.resize(64, 0);
        b[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        b[0x36] = 56;
        b[0x38] = 1;
        assert_eq!(has_static_tls(&b), None);
    }
}
