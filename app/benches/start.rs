//! Container start latency: `wharf run --rm --network none wharf/demo true` against
//! `crun run` of an equivalent bundle (same busybox rootfs, crun's default spec:
//! pid/ipc/uts/mount/network namespaces, masked and read-only paths), in the same run,
//! interleaved, and against `docker run --rm` of the same image on dockerd 20.10 when
//! Debian's docker.io is there (its own network namespace and data root, see
//! `support/dockerd.rs`); then beside 300 running containers (`START_BESIDE`); then
//! 100 `wharf run`s started at once.
//!
//! `cargo bench -p wharf --bench start` (as root). Figures are printed; nothing is asserted.
//!
//! crun 1.x refuses hybrid cgroup hosts, so the bench first moves itself into a private
//! mount namespace and detaches the (controller-less) v2 hierarchy there: both runtimes
//! then see plain cgroup v1. The host's mounts are untouched.

#[path = "support/dockerd.rs"]
mod dockerd;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use dockerd::{env_usize, median, ms};

const ROUNDS: usize = 30;
const BURST: usize = 100;
/// The run every figure here times (wharf's and docker's command line alike).
const RUN: [&str; 6] = ["run", "--rm", "--network", "none", "wharf/demo", "true"];

fn private_mount_namespace() {
    // SAFETY: unshare/mount/umount2 with constant arguments; this process is single-threaded here.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            eprintln!("unshare(CLONE_NEWNS) failed: run the bench as root");
            std::process::exit(1);
        }
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        );
        if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
            libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH);
        }
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the start bench needs root");
        return;
    }
    private_mount_namespace();
    // WHARF_BIN: time another build (an older one, for a before/after on this machine).
    let wharf_bin =
        std::env::var("WHARF_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_wharf").into());
    let wharf = wharf_bin.as_str();
    let tmp = tempfile::Builder::new()
        .prefix("wb")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let root = tmp.path().join("root");
    // `wharf --root ROOT ARGS`, its output dropped.
    let on = |root: &Path, args: &[&str]| {
        Command::new(wharf)
            .arg("--root")
            .arg(root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("wharf")
    };
    let run = |args: &[&str]| on(&root, args);
    assert!(run(&["image", "demo"]).success());

    // crun bundle: the same busybox rootfs the demo image has.
    let crun = Command::new("crun")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let bundle = tmp.path().join("bundle");
    if crun {
        std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
        std::fs::copy("/bin/busybox", bundle.join("rootfs/bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin/true")).unwrap();
        assert!(Command::new("crun")
            .arg("spec")
            .current_dir(&bundle)
            .status()
            .unwrap()
            .success());
        let path = bundle.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(["/bin/true"]);
        std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    }

    // docker run of the same image on a dockerd of the bench's own.
    let docker = dockerd::Dockerd::start(&tmp.path().join("dockerd"));
    if let Some(d) = &docker {
        let archive = tmp.path().join("demo.tar");
        assert!(run(&["save", "-o", &archive.display().to_string(), "wharf/demo"]).success());
        d.load(&archive);
        for _ in 0..2 {
            let o = d.docker(&RUN);
            // A panic, not an exit: the dockerd is stopped as `docker` drops.
            assert!(
                o.status.success(),
                "docker run: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }

    // Warm up both (page cache, first cgroup creation).
    for _ in 0..3 {
        run(&RUN);
    }
    let mut w_times = Vec::new();
    let mut c_times = Vec::new();
    let mut d_times = Vec::new();
    // Interleaved, each in turn first.
    for i in 0..ROUNDS {
        for k in 0..3 {
            match (i + k) % 3 {
                0 => {
                    let t = Instant::now();
                    let ok = run(&RUN).success();
                    w_times.push(t.elapsed());
                    assert!(ok, "wharf run failed");
                }
                1 if crun => {
                    let t = Instant::now();
                    let st = Command::new("crun")
                        .args(["--cgroup-manager=cgroupfs", "run", "-b"])
                        .arg(&bundle)
                        .arg(format!("wharf-bench-{}-{i}", std::process::id()))
                        .stdin(Stdio::null())
                        .status()
                        .unwrap();
                    c_times.push(t.elapsed());
                    assert!(st.success(), "crun run failed");
                }
                2 => {
                    if let Some(d) = &docker {
                        let t = Instant::now();
                        let o = d.docker(&RUN);
                        d_times.push(t.elapsed());
                        assert!(
                            o.status.success(),
                            "docker run: {}",
                            String::from_utf8_lossy(&o.stderr)
                        );
                    }
                }
                _ => {}
            }
        }
    }
    let wm = median(w_times);
    println!(
        "wharf run --rm --network none wharf/demo true: median {:.1} ms over {ROUNDS} runs (load {})",
        ms(wm),
        dockerd::load()
    );
    if crun {
        let cm = median(c_times);
        println!(
            "crun run (equivalent bundle):                   median {:.1} ms over {ROUNDS} runs",
            ms(cm)
        );
        println!(
            "ratio wharf/crun: {:.2}x (goal: at most 1.5x)",
            wm.as_secs_f64() / cm.as_secs_f64()
        );
    } else {
        println!("crun is not installed: no comparison");
    }
    if docker.is_some() {
        let dm = median(d_times);
        println!(
            "docker run --rm on dockerd 20.10 (the docker CLI and the daemon): median {:.1} ms over {ROUNDS} runs; {:.1}x wharf's (goal: 20x)",
            ms(dm),
            dm.as_secs_f64() / wm.as_secs_f64()
        );
    }
    drop(docker);

    // Beside many running containers (`START_BESIDE`, default 300; 0 skips): what a
    // start costs on a busy root, against the same command on the quiet one above.
    let beside = env_usize("START_BESIDE", 300);
    if beside > 0 {
        let busy = tmp.path().join("busy");
        let on_busy = |args: &[&str]| on(&busy, args);
        // Removed however the bench ends (a panic included).
        struct Busy<'a>(&'a Path);
        impl Drop for Busy<'_> {
            fn drop(&mut self) {
                dockerd::remove_containers(self.0);
            }
        }
        let _busy = Busy(&busy);
        assert!(on_busy(&["image", "demo"]).success());
        for _ in 0..beside {
            let ok = on_busy(&[
                "run",
                "-d",
                "--network",
                "none",
                "wharf/demo",
                "sleep",
                "600",
            ])
            .success();
            assert!(ok, "wharf run -d failed");
        }
        let (mut quiet, mut loaded) = (Vec::new(), Vec::new());
        for i in 0..15 {
            // Each root in turn first.
            for busy_turn in [i % 2 == 0, i % 2 != 0] {
                let t = Instant::now();
                if busy_turn {
                    assert!(on_busy(&RUN).success());
                    loaded.push(t.elapsed());
                } else {
                    assert!(run(&RUN).success());
                    quiet.push(t.elapsed());
                }
            }
        }
        println!(
            "wharf run --rm beside {beside} running containers: median {:.1} ms, on an idle root {:.1} ms (interleaved, 15 each)",
            ms(median(loaded)),
            ms(median(quiet))
        );
    }

    // A burst: BURST containers started at once.
    let t = Instant::now();
    let children: Vec<_> = (0..BURST)
        .map(|_| {
            Command::new(wharf)
                .arg("--root")
                .arg(&root)
                .args(RUN)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawning wharf")
        })
        .collect();
    let mut ok = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        if o.status.success() {
            ok += 1;
        } else {
            eprint!("{}", String::from_utf8_lossy(&o.stderr));
        }
    }
    println!(
        "{BURST} containers started at once: {ok} succeeded in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let left = std::fs::read_dir(root.join("containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    println!("containers left after the burst (all --rm): {left}");
}
