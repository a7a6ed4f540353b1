//! A real crash, as the disk sees it. The state root is on a file system of its own (a
//! loop device over a file); right after a load, a copy of that file is exactly what
//! the disk holds at that instant: the page cache's unwritten files are missing, as
//! after the machine went down. The copy is checked by `e2fsck` (as at boot), mounted,
//! and the engine opened on it as after a reboot (the pending records' boot id changed:
//! the boot id is the one thing a copy cannot change by itself). Whatever the disk
//! held, the store must be as before the load or as after it.
//!
//! Runs on ext4 with a journal (what most hosts have) and without (this machine's root
//! file system). Needs root, `mkfs.ext4`, `e2fsck` and loop devices.

mod images_util;

use std::path::{Path, PathBuf};
use std::process::Command;

use images_util::*;
use wharf_engine::api::{ImageApi, SaveFormat};
use wharf_engine::{EngineOptions, LocalEngine};

/// A file system in a file, mounted on a loop device; unmounted on drop.
struct LoopFs {
    image: PathBuf,
    mnt: PathBuf,
    mounted: bool,
}

impl LoopFs {
    fn mount(image: &Path, mnt: &Path) -> LoopFs {
        std::fs::create_dir_all(mnt).unwrap();
        let ok = Command::new("mount")
            .arg("-o")
            .arg("loop")
            .arg(image)
            .arg(mnt)
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "mount -o loop {} failed (needs root and loop devices)",
            image.display()
        );
        LoopFs {
            image: image.to_path_buf(),
            mnt: mnt.to_path_buf(),
            mounted: true,
        }
    }

    fn unmount(&mut self) {
        if self.mounted {
            let ok = Command::new("umount")
                .arg(&self.mnt)
                .status()
                .unwrap()
                .success();
            assert!(ok, "umount {}", self.mnt.display());
            self.mounted = false;
        }
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.mnt).status();
        }
    }
}

fn layer(prefix: &str, files: usize, size: usize, seed: u8) -> Vec<u8> {
    let data: Vec<Vec<u8>> = (0..files)
        .map(|i| (0..size).map(|j| (j as u8) ^ (i as u8) ^ seed).collect())
        .collect();
    let names: Vec<String> = (0..files).map(|i| format!("{prefix}/f{i}")).collect();
    raw_tar(
        names
            .iter()
            .zip(&data)
            .map(|(n, d)| E::File(n, 0o644, d))
            .collect(),
    )
}

fn crash_after_load(mkfs: &[&str], flushed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    run(
        mkfs[0],
        &[&mkfs[1..], &["-q", "-F", img.to_str().unwrap()]].concat(),
    );
    let mut fs = LoopFs::mount(&img, &dir.path().join("mnt"));
    let state = fs.mnt.join("root");
    let e = LocalEngine::open(&state, EngineOptions::default()).unwrap();

    // Image a, flushed: on disk for sure.
    let base = layer("base", 4, 100_000, 1);
    let a_top = layer("a", 2, 50_000, 2);
    let a = docker_archive(
        &config_for(&[&base, &a_top], &["sh"]),
        &[base.clone(), a_top],
        &["app:1"],
    );
    e.image_load(&root(), &mut &a[..]).unwrap();
    e.image_store().make_durable().unwrap();
    let a_id = e.image_store().index().unwrap().refs["docker.io/library/app:1"].clone();

    // Image b takes app:1 over; the disk is copied at once, as the machine goes down.
    let b_top = layer("b", 40, 200_000, 3);
    let b = docker_archive(
        &config_for(&[&base, &b_top], &["sh"]),
        &[base.clone(), b_top],
        &["app:1", "app:2"],
    );
    e.image_load(&root(), &mut &b[..]).unwrap();
    let b_id = e.image_store().index().unwrap().refs["docker.io/library/app:1"].clone();
    if flushed {
        // What a container create does: after it, b must survive any crash.
        e.image_store().make_durable().unwrap();
    }
    let crashed = dir.path().join("crashed.img");
    std::fs::copy(&fs.image, &crashed).unwrap();
    drop(e);
    fs.unmount();

    // Boot: fsck, mount, a new boot id.
    let fsck = Command::new("e2fsck")
        .args(["-fy", crashed.to_str().unwrap()])
        .output()
        .unwrap();
    // 0: clean, 1: errors fixed; anything else is a failure of the copy itself.
    assert!(
        matches!(fsck.status.code(), Some(0) | Some(1)),
        "e2fsck: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let fs2 = LoopFs::mount(&crashed, &dir.path().join("mnt2"));
    let root2 = fs2.mnt.join("root");
    let unsynced = root2.join("unsynced");
    let records: Vec<PathBuf> = std::fs::read_dir(&unsynced)
        .unwrap()
        .map(|x| x.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(
        records.len(),
        usize::from(!flushed),
        "b's record was fsynced before anything else, and dropped only once b was flushed"
    );
    for r in &records {
        let mut v = json(&std::fs::read(r).unwrap());
        v["boot_id"] = "the-boot-before-the-crash".into();
        std::fs::write(r, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let e = LocalEngine::open(&root2, EngineOptions::default()).unwrap();
    let left: Vec<PathBuf> = std::fs::read_dir(&unsynced)
        .unwrap()
        .map(|x| x.unwrap().path())
        .collect();
    assert!(
        left.is_empty(),
        "the record was checked and dropped: {left:?} ({:?})",
        e.image_store().recover_unsynced().err()
    );
    let idx = e.image_store().index().unwrap();
    let now = idx.refs.get("docker.io/library/app:1").cloned();
    assert!(idx.images.contains_key(&a_id), "a was flushed: it stays");
    let save = |r: &str| {
        let mut out = Vec::new();
        e.image_save(&root(), &[r.to_string()], SaveFormat::Docker, &mut out)
            .map(|_| out.len())
    };
    save(&a_id).expect("a's layers rebuild their exact bytes");
    assert!(
        !flushed || now.as_deref() == Some(b_id.as_str()),
        "b was flushed before the crash: it must be kept"
    );
    if now.as_deref() == Some(b_id.as_str()) {
        // The disk had all of b: kept, every layer exact.
        save(&b_id).expect("b kept: its layers rebuild their exact bytes");
        assert!(idx.refs.contains_key("docker.io/library/app:2"));
        eprintln!(
            "crash test ({}): b had reached the disk and was kept",
            mkfs[0]
        );
    } else {
        // The state before the load: app:1 back on a, app:2 gone with b.
        assert_eq!(now.as_deref(), Some(a_id.as_str()), "app:1 names a again");
        assert!(!idx.images.contains_key(&b_id));
        assert!(!idx.refs.contains_key("docker.io/library/app:2"));
        let evs = events(&e);
        assert!(evs.iter().any(|(a, _)| a == "delete"), "{evs:?}");
        eprintln!(
            "crash test ({}): b had not reached the disk and was dropped",
            mkfs[0]
        );
    }
    for (tag, id) in &idx.refs {
        assert!(
            idx.images.contains_key(id),
            "tag {tag} names a missing image"
        );
    }
}

#[test]
fn crash_right_after_a_load_on_ext4_with_a_journal() {
    crash_after_load(&["mkfs.ext4"], false);
}

#[test]
fn crash_right_after_a_load_on_ext4_without_a_journal() {
    crash_after_load(&["mkfs.ext4", "-O", "^has_journal"], false);
}

#[test]
fn crash_after_a_flushed_load_keeps_it() {
    crash_after_load(&["mkfs.ext4", "-O", "^has_journal"], true);
}
