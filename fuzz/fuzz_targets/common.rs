//! Helpers shared by the fuzz targets (each target includes this file with `mod common;`).
#![allow(dead_code)]

use wharf_engine::{EngineError, ErrorKind};

/// The input as text, or `None` when it is not UTF-8 (what every text front end gets:
/// the CLI's arguments, JSON strings and files read as strings are UTF-8).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// An error must be of one of `kinds`: a user's bad value is `InvalidArgument`, never an
/// internal error (and never a panic, which the fuzzer catches by itself).
#[track_caller]
pub fn expect_kind(what: &str, input: &str, e: &EngineError, kinds: &[ErrorKind]) {
    assert!(
        kinds.contains(&e.kind),
        "{what} {input:?}: error of kind {:?} (expected one of {kinds:?}): {}",
        e.kind,
        e.message
    );
    assert!(
        !e.message.is_empty(),
        "{what} {input:?}: an error without a message"
    );
}

/// `Ok` or an `InvalidArgument` error.
#[track_caller]
pub fn ok_or_invalid<T>(what: &str, input: &str, r: &Result<T, EngineError>) {
    if let Err(e) = r {
        expect_kind(what, input, e, &[ErrorKind::InvalidArgument]);
    }
}

/// A value that parsed must pass the engine's check of the same value.
#[track_caller]
pub fn passes(what: &str, input: &str, r: Result<(), EngineError>) {
    if let Err(e) = r {
        panic!(
            "{what} {input:?} parsed but the engine refuses it: {}",
            e.message
        );
    }
}

/// Split the input into a selector byte and the rest.
pub fn split_selector(data: &[u8]) -> Option<(u8, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((first, rest))
}

/// Size of a tar header's `size` field: octal text, or GNU base-256.
fn tar_size(h: &[u8]) -> u64 {
    let f = &h[124..136];
    if f[0] & 0x80 != 0 {
        return f[1..].iter().fold(0u64, |n, b| {
            n.saturating_mul(256).saturating_add(u64::from(*b))
        });
    }
    let mut n: u64 = 0;
    for &b in f {
        match b {
            b'0'..=b'7' => n = n.saturating_mul(8).saturating_add(u64::from(b - b'0')),
            b' ' if n == 0 => {}
            _ => break,
        }
    }
    n
}

/// Give every header of a plain tar stream (and of tars stored in it, such as a
/// `docker save` archive's `layer.tar`) a correct checksum, so the fuzzer's mutations
/// reach past the header check instead of being refused there. Gzip and zstd input is
/// left alone.
pub fn fix_tar_checksums(data: &mut [u8]) {
    if data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return;
    }
    fix_tar(data, 0);
}

fn fix_tar(data: &mut [u8], depth: usize) {
    let mut off = 0usize;
    while off.saturating_add(512) <= data.len() {
        let h = &mut data[off..off + 512];
        if h.iter().all(|b| *b == 0) {
            off += 512;
            continue;
        }
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(&text.as_bytes()[text.len() - 8..]);
        let size = tar_size(h);
        let start = off + 512;
        let end = start
            .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
            .min(data.len());
        let body = &mut data[start..end];
        if depth < 2 && body.len() >= 512 && &body[257..262] == b"ustar" {
            fix_tar(body, depth + 1);
        }
        let padded = usize::try_from(size.div_ceil(512).saturating_mul(512)).unwrap_or(usize::MAX);
        off = start.saturating_add(padded);
    }
}
