//! Layer tars: compression detection, a guard against hostile tar headers, and
//! extraction into a layer directory usable as an overlay lower dir.
//!
//! OCI whiteouts become overlay ones: `.wh.NAME` a character device 0/0 named `NAME`,
//! `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory. Modes, owners,
//! xattrs, symlinks, hardlinks and device nodes are kept. Anything that would write
//! outside the layer directory (`..`, absolute paths, writing through a symlink, a
//! hardlink to outside) is refused with an error naming the entry.
//!
//! Unpacking into the store also writes the layer's tar-split ([`unpack_tar`]), which
//! [`TarSplitReader`] turns back into the exact tar stream.
//!
//! By concern: `compression` (gzip/zstd detection and readers), `hashing` (digest and
//! diff id computing readers, chain ids), `guard` (the hostile-header guard on the tar
//! stream), `tar_split` (recording and replaying the bytes that rebuild a layer
//! byte-exact) and `unpack` (writing entries into the layer directory).

mod compression;
mod guard;
mod hashing;
mod tar_split;
mod unpack;

pub use compression::{decompress, Compression};
pub use guard::TarGuard;
pub use hashing::{chain_ids, ChunkPool, HashPipe, HashingReader, PendingDigest};
pub use tar_split::{has_tar_split, TarSplitReader};
pub use unpack::{clean_archive_path, new_layer_dir, unpack_layer_into, unpack_tar, LayerStats};

/// Buffer size for copying file contents.
const COPY_BUF: usize = 256 * 1024;
/// The unpacked layer's directory of files, inside the layer directory.
pub const DIFF: &str = "diff";
