//! Raw structural checks of a `.cxz`'s ZIP bytes, before the ZIP reader
//! sees them: the end record must be the file's last bytes, the central
//! directory must sit right before it, and every entry's local header
//! (and data descriptor) must agree with its central-directory record,
//! with the entries laid end to end from offset 0 without overlaps or gaps.
//!
//! A ZIP can be read in two ways (central directory, or local headers in
//! order); an archive where they disagree means different things to
//! different tools, so a `.cxz` must be unambiguous.

use std::io::{Read, Seek, SeekFrom};

use crate::cxz::Problem;

const EOCD_SIG: &[u8] = b"PK\x05\x06";
const CENTRAL_SIG: &[u8] = b"PK\x01\x02";
const LOCAL_SIG: &[u8] = b"PK\x03\x04";
const DESCRIPTOR_SIG: &[u8] = b"PK\x07\x08";
const EOCD_LEN: usize = 22;
/// How to fix any of these problems (said once per message).
const FIX: &str = "repack the library with `coex cxz pack` or an ordinary zip tool";

/// Why the layout is refused: `NotZip` when no end record exists at all,
/// otherwise the problems found.
pub(super) enum LayoutError {
    NotZip(String),
    Invalid(Vec<Problem>),
}

/// One central-directory record, as far as the checks need it.
struct Central {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

impl Central {
    fn label(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

fn u16_at(b: &[u8], p: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(p..p + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], p: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(p..p + 4)?.try_into().ok()?))
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: u64) -> Option<Vec<u8>> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut out = Vec::new();
    r.by_ref().take(len).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Checks the whole layout of the `len` bytes behind `r`.
pub(super) fn check_layout<R: Read + Seek>(r: &mut R, len: u64) -> Result<(), LayoutError> {
    let tail_start = len.saturating_sub((EOCD_LEN + 65_535) as u64);
    let tail = read_at(r, tail_start, len - tail_start)
        .ok_or_else(|| LayoutError::NotZip("\n\nIt cannot be read.".to_string()))?;
    let eocd = find_end_record(&tail)?;
    let eocd_abs = tail_start + eocd as u64;
    let count = u16_at(&tail, eocd + 10).unwrap_or(0);
    let cd_size = u32_at(&tail, eocd + 12).unwrap_or(0);
    let cd_offset = u32_at(&tail, eocd + 16).unwrap_or(0);
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Err(invalid(format!(
            "uses ZIP64 records, which a .cxz (at most 256 MiB) never needs; {FIX}"
        )));
    }
    if u64::from(cd_offset) + u64::from(cd_size) != eocd_abs {
        return Err(invalid(format!(
            "its central directory ({cd_size} bytes at offset {cd_offset}) does not end where \
             the end record starts (offset {eocd_abs}): bytes were added before or inside the \
             archive, or a second archive was appended to it; {FIX}"
        )));
    }
    let cd = read_at(r, u64::from(cd_offset), u64::from(cd_size)).unwrap_or_default();
    let centrals = parse_central(&cd, count).map_err(|m| invalid(format!("{m}; {FIX}")))?;
    let problems = check_entries(r, &centrals, u64::from(cd_offset));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LayoutError::Invalid(problems))
    }
}

/// Finds the end record in the file's tail: the one whose comment reaches
/// exactly the end of the file. Any other end-record signature after it
/// (a fake record in the comment) or bytes after its comment are refused.
fn find_end_record(tail: &[u8]) -> Result<usize, LayoutError> {
    let Some(last) = tail.len().checked_sub(EOCD_LEN) else {
        return Err(LayoutError::NotZip(
            "\n\nIt is too short to hold a ZIP end record.".to_string(),
        ));
    };
    let candidates: Vec<usize> = (0..=last)
        .rev()
        .filter(|&p| tail.get(p..p + 4) == Some(EOCD_SIG))
        .collect();
    let reaches_end =
        |p: usize| p + EOCD_LEN + usize::from(u16_at(tail, p + 20).unwrap_or(0)) == tail.len();
    let reaching: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&p| reaches_end(p))
        .collect();
    match (reaching.as_slice(), candidates.first()) {
        (_, None) => Err(LayoutError::NotZip(
            "\n\nNo ZIP end-of-central-directory record was found.".to_string(),
        )),
        ([real], Some(&last)) if *real == last => Ok(last),
        ([], Some(&last)) => {
            let comment = usize::from(u16_at(tail, last + 20).unwrap_or(0));
            Err(invalid(
                match tail.len().checked_sub(last + EOCD_LEN + comment) {
                    Some(after) => {
                        format!("{after} bytes of data follow the ZIP end record; {FIX}")
                    }
                    None => {
                        format!("the ZIP end record's comment runs past the end of the file; {FIX}")
                    }
                },
            ))
        }
        _ => Err(invalid(format!(
            "the ZIP comment holds a second end-of-central-directory record (a fake end \
             record, or a second archive hidden in the comment); {FIX}"
        ))),
    }
}

fn invalid(message: String) -> LayoutError {
    LayoutError::Invalid(vec![Problem::archive(message)])
}

/// Parses `count` central-directory records filling exactly `cd`.
fn parse_central(cd: &[u8], count: u16) -> Result<Vec<Central>, String> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < cd.len() {
        if cd.get(pos..pos + 4) != Some(CENTRAL_SIG) || pos + 46 > cd.len() {
            return Err(format!(
                "the central directory is damaged at byte {pos} (record #{} is not a \
                 central-directory header)",
                out.len()
            ));
        }
        let f16 = |o| u16_at(cd, pos + o).unwrap_or(0);
        let f32 = |o| u32_at(cd, pos + o).unwrap_or(0);
        let name_len = usize::from(f16(28));
        let end = pos + 46 + name_len + usize::from(f16(30)) + usize::from(f16(32));
        let Some(name) = cd
            .get(pos + 46..pos + 46 + name_len)
            .filter(|_| end <= cd.len())
        else {
            return Err(format!(
                "central-directory record #{} runs past the end of the central directory",
                out.len()
            ));
        };
        out.push(Central {
            name: name.to_vec(),
            flags: f16(8),
            method: f16(10),
            crc: f32(16),
            compressed: f32(20),
            size: f32(24),
            offset: f32(42),
        });
        pos = end;
    }
    if out.len() != usize::from(count) {
        return Err(format!(
            "the end record counts {count} entries but the central directory lists {}",
            out.len()
        ));
    }
    Ok(out)
}

/// Cross-checks every entry's local header against its central record and
/// the entries' byte ranges against each other.
fn check_entries<R: Read + Seek>(r: &mut R, centrals: &[Central], cd_start: u64) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    for (i, c) in centrals.iter().enumerate() {
        match check_local(r, c, cd_start) {
            Ok(end) => spans.push((u64::from(c.offset), end, i)),
            Err(m) => problems.push(Problem::entry(&c.label(), format!("{m}; {FIX}"))),
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    spans.sort_unstable();
    let mut expected = 0u64;
    let mut previous: Option<usize> = None;
    for &(start, end, i) in &spans {
        let name = centrals[i].label();
        if start < expected {
            let other = previous.map(|p| centrals[p].label()).unwrap_or_default();
            problems.push(Problem::entry(
                &name,
                format!("overlaps entry '{other}' (their bytes are shared); {FIX}"),
            ));
        } else if start > expected {
            problems.push(Problem::entry(
                &name,
                format!(
                    "is preceded by {} bytes that belong to no entry (hidden data, or a \
                     second archive); {FIX}",
                    start - expected
                ),
            ));
        }
        expected = expected.max(end);
        previous = Some(i);
    }
    if problems.is_empty() && expected != cd_start {
        problems.push(Problem::archive(format!(
            "{} bytes between the last entry and the central directory belong to no \
             entry; {FIX}",
            cd_start.saturating_sub(expected)
        )));
    }
    problems
}

/// Checks one entry's local header (and data descriptor) against its
/// central record; returns where the entry's bytes end.
fn check_local<R: Read + Seek>(r: &mut R, c: &Central, cd_start: u64) -> Result<u64, String> {
    let at = u64::from(c.offset);
    let head = read_at(r, at, 30).unwrap_or_default();
    if at + 30 > cd_start || head.get(0..4) != Some(LOCAL_SIG) {
        return Err(format!(
            "the central directory points at offset {at}, where there is no local header"
        ));
    }
    let f16 = |o| u16_at(&head, o).unwrap_or(0);
    let f32 = |o| u32_at(&head, o).unwrap_or(0);
    let (name_len, extra_len) = (u64::from(f16(26)), u64::from(f16(28)));
    let name = read_at(r, at + 30, name_len).unwrap_or_default();
    if name != c.name {
        return Err(format!(
            "its local header names it '{}' but the central directory says '{}'",
            String::from_utf8_lossy(&name).escape_debug(),
            c.label().escape_debug()
        ));
    }
    let mismatch = |what: &str, local: u64, central: u64| {
        format!("its local header says {what} {local} but the central directory says {central}")
    };
    if f16(8) != c.method {
        return Err(mismatch(
            "compression method",
            f16(8).into(),
            c.method.into(),
        ));
    }
    if f16(6) & 0x0008 != c.flags & 0x0008 {
        return Err(
            "its local header and the central directory disagree on whether a data \
                    descriptor follows the data"
                .to_string(),
        );
    }
    let data_end = at + 30 + name_len + extra_len + u64::from(c.compressed);
    let descriptor = c.flags & 0x0008 != 0;
    for (what, local, central) in [
        ("CRC-32", f32(14), c.crc),
        ("compressed size", f32(18), c.compressed),
        ("size", f32(22), c.size),
    ] {
        if local != central && !(descriptor && local == 0) {
            return Err(mismatch(what, local.into(), central.into()));
        }
    }
    if data_end > cd_start {
        return Err("its data runs into the central directory".to_string());
    }
    if !descriptor {
        return Ok(data_end);
    }
    check_descriptor(r, c, data_end, cd_start)
}

/// Checks the data descriptor after an entry's data; returns its end.
fn check_descriptor<R: Read + Seek>(
    r: &mut R,
    c: &Central,
    at: u64,
    cd_start: u64,
) -> Result<u64, String> {
    let bytes = read_at(r, at, 16.min(cd_start.saturating_sub(at))).unwrap_or_default();
    let skip = if bytes.get(0..4) == Some(DESCRIPTOR_SIG) {
        4
    } else {
        0
    };
    let field = |i: usize| u32_at(&bytes, skip + 4 * i);
    let (Some(crc), Some(compressed), Some(size)) = (field(0), field(1), field(2)) else {
        return Err("its data descriptor is missing or cut short".to_string());
    };
    if (crc, compressed, size) != (c.crc, c.compressed, c.size) {
        return Err(format!(
            "its data descriptor says CRC-32 {crc:08x}, {compressed} bytes compressed, {size} \
             bytes, but the central directory says {:08x}, {}, {}",
            c.crc, c.compressed, c.size
        ));
    }
    Ok(at + skip as u64 + 12)
}
