//! Hostile ZIP layouts: archives whose local headers, data descriptors or
//! end record disagree with the central directory, whose entries overlap,
//! or that carry bytes outside any entry. Each is built byte by byte and
//! must be refused by the real `coex cxz verify`/`inspect` with a message
//! naming the entry (or the archive) and the fix, never a Rust type.

mod cxz_common;

use std::io::Write;

use cxz_common::*;
use zip::CompressionMethod;

const FIX: &str = "repack the library with `coex cxz pack`";

fn stored(extra: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(&good_plus(extra), CompressionMethod::Stored)
}

fn rejected(bytes: &[u8], expected: &str) {
    let stderr = assert_rejected(bytes, expected);
    assert!(stderr.contains(FIX), "{stderr}");
    assert!(!stderr.contains("::"), "a Rust path in: {stderr}");
}

fn u32_le(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Offset of the end record (no comment: the last 22 bytes).
fn eocd(bytes: &[u8]) -> usize {
    bytes.len() - 22
}

#[test]
fn plain_and_streamed_archives_still_load() {
    let (dir, path) = archive_in_tempdir(&stored(&[("README", b"hi")]));
    let out = coex(dir.path())
        .args(["cxz", "verify"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (dir, path) = archive_in_tempdir(&streamed(&good_plus(&[])));
    let out = coex(dir.path())
        .args(["cxz", "verify"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn local_name_differs_from_central() {
    let mut bytes = stored(&[("README", b"hi")]);
    let (local, _) = headers_of(&bytes, b"README");
    bytes[local + 30..local + 36].copy_from_slice(b"READMX");
    rejected(
        &bytes,
        "entry 'README': its local header names it 'READMX' but the central directory says 'README'",
    );
}

#[test]
fn local_size_differs_from_central() {
    let mut bytes = stored(&[("README", b"hi")]);
    let (local, _) = headers_of(&bytes, b"README");
    u32_le(&mut bytes, local + 22, 5);
    rejected(
        &bytes,
        "entry 'README': its local header says size 5 but the central directory says 2",
    );
}

#[test]
fn local_crc_differs_from_central() {
    let mut bytes = stored(&[("README", b"hi")]);
    let (local, _) = headers_of(&bytes, b"README");
    bytes[local + 14] ^= 0xFF;
    rejected(&bytes, "entry 'README': its local header says CRC-32 ");
}

#[test]
fn local_compression_differs_from_central() {
    let mut bytes = stored(&[("README", b"hi")]);
    let (local, _) = headers_of(&bytes, b"README");
    bytes[local + 8] = 8;
    rejected(
        &bytes,
        "entry 'README': its local header says compression method 8 but the central directory says 0",
    );
}

#[test]
fn central_offset_points_nowhere() {
    let mut bytes = stored(&[("README", b"hi")]);
    let (_, central) = headers_of(&bytes, b"README");
    u32_le(&mut bytes, central + 42, 3);
    rejected(
        &bytes,
        "entry 'README': the central directory points at offset 3",
    );
}

#[test]
fn overlapping_entries() {
    // B's local header and data, copied verbatim into A's data: B's central
    // record is then pointed at that copy, so A and B share bytes.
    let b_alone = zip_with(&[("B".into(), b"bee".to_vec())], CompressionMethod::Stored);
    let (b_local, b_central) = headers_of(&b_alone, b"B");
    let b_entry = b_alone[b_local..b_central].to_vec();
    let mut bytes = stored(&[("A", &b_entry), ("B", b"bee")]);
    let (a_local, _) = headers_of(&bytes, b"A");
    let central = (0..bytes.len() - 47)
        .find(|&p| &bytes[p..p + 4] == b"PK\x01\x02" && &bytes[p + 46..p + 47] == b"B")
        .expect("central header of B");
    let extra = u16::from_le_bytes([bytes[a_local + 28], bytes[a_local + 29]]) as usize;
    let a_data = a_local + 30 + 1 + extra;
    assert_eq!(&bytes[a_data..a_data + 4], b"PK\x03\x04");
    u32_le(&mut bytes, central + 42, a_data as u32);
    rejected(&bytes, "entry 'B': overlaps entry 'A'");
}

#[test]
fn data_after_the_end_record() {
    let mut bytes = stored(&[]);
    bytes.extend_from_slice(b"trailing bytes");
    rejected(
        &bytes,
        "archive: 14 bytes of data follow the ZIP end record",
    );
}

#[test]
fn two_concatenated_archives() {
    let mut bytes = stored(&[]);
    bytes.extend(stored(&[("EVIL", b"x")]));
    rejected(&bytes, "or a second archive was appended to it");
}

#[test]
fn bytes_before_the_archive() {
    let mut bytes = b"#!/bin/sh\nexit 0\n".to_vec();
    bytes.extend(stored(&[]));
    rejected(&bytes, "bytes were added before or inside the archive");
}

#[test]
fn fake_end_record_in_the_comment() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in library_with(GOOD_MANIFEST) {
        w.start_file(name.as_str(), opts(CompressionMethod::Stored))
            .unwrap();
        w.write_all(&data).unwrap();
    }
    // An end record for an empty archive, as the whole comment.
    let mut fake = b"PK\x05\x06".to_vec();
    fake.extend([0u8; 18]);
    w.set_raw_comment(fake.into_boxed_slice()).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    rejected(
        &bytes,
        "archive: the ZIP comment holds a second end-of-central-directory record",
    );
}

#[test]
fn end_record_counts_more_entries_than_listed() {
    let mut bytes = stored(&[]);
    let at = eocd(&bytes);
    bytes[at + 8] += 1;
    bytes[at + 10] += 1;
    rejected(
        &bytes,
        "archive: the end record counts 4 entries but the central directory lists 3",
    );
}

/// An archive written as a stream: every entry's sizes and CRC follow its
/// data in a data descriptor.
fn streamed(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new_stream(Vec::new());
    for (name, data) in files {
        w.start_file(name.as_str(), opts(CompressionMethod::Stored))
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn lying_data_descriptor() {
    let mut bytes = streamed(&good_plus(&[("README", b"hello")]));
    let (local, central) = headers_of(&bytes, b"README");
    let data = local + 30 + 6;
    assert_eq!(&bytes[data..data + 5], b"hello");
    let descriptor = data + 5;
    assert_eq!(&bytes[descriptor..descriptor + 4], b"PK\x07\x08");
    assert!(descriptor < central);
    bytes[descriptor + 4] ^= 0xFF;
    rejected(&bytes, "entry 'README': its data descriptor says CRC-32 ");
}
