//! Which devices a container may use: Docker's default list, as `devices.allow` lines
//! for cgroup v1 and as an eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`) for cgroup v2,
//! which has no devices controller files.
//!
//! The program is a dozen instructions per rule, so it is assembled here rather than
//! compiled from C: no BPF toolchain, no ELF loader, and the same rules drive both
//! hierarchies. It is loaded with `bpf(BPF_PROG_LOAD)` and attached to the container's
//! cgroup with `bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)`; the cgroup keeps it alive, and
//! it goes away with the cgroup.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::{EngineError, Result};

/// Devices a default container may use (Docker's list), as `devices.allow` lines:
/// mknod of anything (using a node is what is checked), the null/zero/full/random/urandom
/// devices, tty/console/ptmx, the pty slaves and /dev/net/tun.
pub const ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`: the low 16 bits of `access_type`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `BPF_DEVCG_ACC_MKNOD` / `_READ` / `_WRITE`: the high 16 bits of `access_type`.
const ACC_MKNOD: u32 = 1;
const ACC_READ: u32 = 2;
const ACC_WRITE: u32 = 4;

/// One `devices.allow` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `DEV_CHAR`, `DEV_BLOCK`, or `None` for `a` (any).
    kind: Option<i32>,
    major: Option<u32>,
    minor: Option<u32>,
    /// `ACC_*` bits.
    access: u32,
}

impl Rule {
    /// Parse `c 1:3 rwm`, `b *:* m`, `a`.
    pub fn parse(s: &str) -> Result<Rule> {
        let bad = || {
            EngineError::invalid(format!(
                "invalid device rule {s:?}: use TYPE MAJOR:MINOR ACCESS, like \"c 1:3 rwm\""
            ))
        };
        let mut it = s.split_whitespace();
        let kind = match it.next() {
            Some("a") => {
                return Ok(Rule {
                    kind: None,
                    major: None,
                    minor: None,
                    access: ACC_MKNOD | ACC_READ | ACC_WRITE,
                })
            }
            Some("c") => Some(DEV_CHAR),
            Some("b") => Some(DEV_BLOCK),
            _ => return Err(bad()),
        };
        let (maj, min) = it.next().and_then(|n| n.split_once(':')).ok_or_else(bad)?;
        let num = |x: &str| -> Result<Option<u32>> {
            if x == "*" {
                Ok(None)
            } else {
                x.parse().map(Some).map_err(|_| bad())
            }
        };
        let mut access = 0;
        for c in it.next().ok_or_else(bad)?.chars() {
            access |= match c {
                'm' => ACC_MKNOD,
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => return Err(bad()),
            };
        }
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(Rule {
            kind,
            major: num(maj)?,
            minor: num(min)?,
            access,
        })
    }
}

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// Destination register (low nibble of the register byte).
    pub dst: u8,
    /// Source register (high nibble).
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

/// Opcodes used by the program.
pub mod op {
    /// `dst = *(u32 *)(src + off)`
    pub const LDX_W: u8 = 0x61;
    /// `dst &= imm` (32-bit)
    pub const AND32_K: u8 = 0x54;
    /// `dst >>= imm` (32-bit)
    pub const RSH32_K: u8 = 0x74;
    /// `dst = src` (32-bit)
    pub const MOV32_X: u8 = 0xbc;
    /// `dst = imm` (64-bit)
    pub const MOV64_K: u8 = 0xb7;
    /// `if dst != imm goto +off`
    pub const JNE_K: u8 = 0x55;
    /// `return r0`
    pub const EXIT: u8 = 0x95;
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// The program for `rules`: 1 (allow) when any rule matches the access, else 0.
/// Registers: r2 type, r3 access, r4 major, r5 minor (from `struct bpf_cgroup_dev_ctx`).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(op::LDX_W, 2, 1, 0, 0),
        insn(op::AND32_K, 2, 0, 0, 0xffff),
        insn(op::LDX_W, 3, 1, 0, 0),
        insn(op::RSH32_K, 3, 0, 0, 16),
        insn(op::LDX_W, 4, 1, 4, 0),
        insn(op::LDX_W, 5, 1, 8, 0),
    ];
    for r in rules {
        // Each test jumps to the next rule when it fails; the offsets are set once the
        // rule's length is known (`off` holds -1 as "to the end of this rule" until then).
        let mut b: Vec<Insn> = Vec::new();
        if let Some(k) = r.kind {
            b.push(insn(op::JNE_K, 2, 0, -1, k));
        }
        // Allowed when the access asks nothing outside the rule's bits.
        b.push(insn(op::MOV32_X, 1, 3, 0, 0));
        b.push(insn(op::AND32_K, 1, 0, 0, !(r.access as i32)));
        b.push(insn(op::JNE_K, 1, 0, -1, 0));
        if let Some(m) = r.major {
            b.push(insn(op::JNE_K, 4, 0, -1, m as i32));
        }
        if let Some(m) = r.minor {
            b.push(insn(op::JNE_K, 5, 0, -1, m as i32));
        }
        b.push(insn(op::MOV64_K, 0, 0, 0, 1));
        b.push(insn(op::EXIT, 0, 0, 0, 0));
        let n = b.len();
        for (i, x) in b.iter_mut().enumerate() {
            if x.code == op::JNE_K && x.off == -1 {
                x.off = (n - i - 1) as i16;
            }
        }
        p.extend(b);
    }
    p.push(insn(op::MOV64_K, 0, 0, 0, 0));
    p.push(insn(op::EXIT, 0, 0, 0, 0));
    p
}

/// The program's bytes as the kernel takes them (`struct bpf_insn`, little endian).
fn encode(p: &[Insn]) -> Vec<u64> {
    p.iter()
        .map(|i| {
            let mut b = [0u8; 8];
            b[0] = i.code;
            b[1] = (i.dst & 0x0f) | (i.src << 4);
            b[2..4].copy_from_slice(&i.off.to_le_bytes());
            b[4..8].copy_from_slice(&i.imm.to_le_bytes());
            u64::from_le_bytes(b)
        })
        .collect()
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The part of `union bpf_attr` that `BPF_PROG_LOAD` reads; the rest stays zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _rest: [u64; 8],
}

/// The part of `union bpf_attr` that `BPF_PROG_ATTACH` reads.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: u32,
    _rest: [u64; 8],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: `attr` is a live, zero-padded `union bpf_attr` prefix of the given size;
    // every pointer it holds points into buffers that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Attach Docker's default device rules to the cgroup v2 directory `dir`.
pub fn attach_default(dir: &Path) -> Result<()> {
    let rules = ALLOWED
        .iter()
        .map(|r| Rule::parse(r))
        .collect::<Result<Vec<_>>>()?;
    attach(dir, &rules)
}

/// Load the program for `rules` and attach it to the cgroup v2 directory `dir`.
pub fn attach(dir: &Path, rules: &[Rule]) -> Result<()> {
    let insns = encode(&program(rules));
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 16 * 1024];
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"wharf_devcg\0");
    let mut load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    let fd = bpf(BPF_PROG_LOAD, &mut load).map_err(|e| {
        let verifier =
            String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)])
                .trim()
                .to_string();
        EngineError::unavailable(format!(
            "cannot load the device filter for cgroup {}: {e}{}; cgroup v2 needs the kernel's \
             BPF support (CONFIG_CGROUP_BPF) to keep containers off the host's devices",
            dir.display(),
            if verifier.is_empty() {
                String::new()
            } else {
                format!(" (verifier: {verifier})")
            }
        ))
    })?;
    // SAFETY: the kernel just returned this new descriptor to us.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = std::fs::File::open(dir)
        .map_err(|e| EngineError::io(format!("opening cgroup {}", dir.display()), e))?;
    let mut at = ProgAttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut at).map_err(|e| {
        EngineError::unavailable(format!(
            "cannot attach the device filter to cgroup {}: {e}",
            dir.display()
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `p` the way the kernel would for one access (only the opcodes `program` emits).
    fn run(p: &[Insn], kind: i32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [((access << 16) | kind as u32), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                op::LDX_W => {
                    assert_eq!(s, 1, "loads only from the context");
                    r[d] = u64::from(ctx[i.off as usize / 4]);
                }
                op::AND32_K => r[d] = u64::from((r[d] as u32) & (i.imm as u32)),
                op::RSH32_K => r[d] = u64::from((r[d] as u32) >> i.imm),
                op::MOV32_X => r[d] = u64::from(r[s] as u32),
                op::MOV64_K => r[d] = i.imm as i64 as u64,
                op::JNE_K => {
                    if r[d] != i.imm as i64 as u64 {
                        pc += i.off as usize;
                    }
                }
                op::EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn default_program() -> Vec<Insn> {
        let rules: Vec<Rule> = ALLOWED.iter().map(|r| Rule::parse(r).unwrap()).collect();
        program(&rules)
    }

    #[test]
    fn the_default_rules_allow_dockers_devices_only() {
        let p = default_program();
        let rw = ACC_READ | ACC_WRITE;
        // /dev/null, zero, full, random, urandom, tty, console, ptmx, a pty, tun.
        for (maj, min) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
            (136, 4),
            (10, 200),
        ] {
            assert_eq!(run(&p, DEV_CHAR, rw, maj, min), 1, "c {maj}:{min} rw");
        }
        // The host's disks, memory, a virtual console, the same numbers as a block device.
        for (kind, maj, min) in [
            (DEV_BLOCK, 8, 0),
            (DEV_BLOCK, 254, 0),
            (DEV_CHAR, 1, 1),
            (DEV_CHAR, 4, 1),
            (DEV_BLOCK, 1, 3),
            (DEV_CHAR, 240, 0),
        ] {
            assert_eq!(run(&p, kind, ACC_READ, maj, min), 0, "{kind} {maj}:{min} r");
            assert_eq!(
                run(&p, kind, ACC_WRITE, maj, min),
                0,
                "{kind} {maj}:{min} w"
            );
            // Creating the node is allowed (as with Docker); opening it is not.
            assert_eq!(
                run(&p, kind, ACC_MKNOD, maj, min),
                1,
                "{kind} {maj}:{min} m"
            );
        }
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 201), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_MKNOD, 1, 3), 1);
    }

    #[test]
    fn rules_parse_and_refuse_nonsense() {
        assert_eq!(
            Rule::parse("c 136:* rw").unwrap(),
            Rule {
                kind: Some(DEV_CHAR),
                major: Some(136),
                minor: None,
                access: ACC_READ | ACC_WRITE
            }
        );
        assert_eq!(Rule::parse("a").unwrap().kind, None);
        for bad in [
            "",
            "x 1:3 r",
            "c 1 r",
            "c 1:3 q",
            "c a:3 r",
            "c 1:3 r extra",
            "c 1:3",
        ] {
            let e = Rule::parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid device rule"), "{bad}: {e}");
        }
        // "a" allows everything.
        let p = program(&[Rule::parse("a").unwrap()]);
        assert_eq!(
            run(&p, DEV_BLOCK, ACC_READ | ACC_WRITE | ACC_MKNOD, 8, 0),
            1
        );
        // No rules: nothing.
        assert_eq!(run(&program(&[]), DEV_CHAR, ACC_READ, 1, 3), 0);
    }

    /// The real kernel: a cgroup in this host's cgroup2 hierarchy (the unified one on a
    /// hybrid host) with the default program attached; a shell moved into it may open
    /// /dev/null's numbers but not an unassigned char device, which without the program
    /// fails differently (ENXIO: no driver) than with it (EPERM: refused by the filter).
    #[test]
    fn the_kernel_enforces_the_program_on_a_real_cgroup() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let Some(base) = mounts
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[2] == "cgroup2")
            .map(|f| std::path::PathBuf::from(f[1]))
        else {
            eprintln!("skipped: no cgroup2 hierarchy mounted");
            return;
        };
        struct Dir(std::path::PathBuf);
        impl Drop for Dir {
            fn drop(&mut self) {
                // Processes leave with their exit; then the directory can go.
                for _ in 0..100 {
                    if std::fs::remove_dir(&self.0).is_ok() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        let cg = Dir(base.join(format!("wharf-devtest-{}", std::process::id())));
        std::fs::create_dir(&cg.0).unwrap();
        let nodes = tempfile::tempdir().unwrap();
        let null = nodes.path().join("null");
        let other = nodes.path().join("c240");
        nix::sys::stat::mknod(
            &null,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        nix::sys::stat::mknod(
            &other,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(240, 0),
        )
        .unwrap();
        let try_open = |path: &Path| -> String {
            let script = format!(
                "echo $$ > {}/cgroup.procs && exec 3< {} && echo opened",
                cg.0.display(),
                path.display()
            );
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        // Without the program: the kernel has no driver for 240:0.
        let before = try_open(&other);
        assert!(
            !before.contains("opened") && !before.contains("not permitted"),
            "{before}"
        );
        attach_default(&cg.0).unwrap();
        assert!(try_open(&null).contains("opened"), "{}", try_open(&null));
        let after = try_open(&other);
        assert!(after.contains("not permitted"), "{after}");
    }

    #[test]
    fn encoding_matches_struct_bpf_insn() {
        let e = encode(&[insn(op::LDX_W, 4, 1, 4, 0), insn(op::JNE_K, 2, 0, 3, -2)]);
        assert_eq!(e[0].to_le_bytes(), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
        assert_eq!(
            e[1].to_le_bytes(),
            [0x55, 0x02, 3, 0, 0xfe, 0xff, 0xff, 0xff]
        );
    }
}
