//! The hardening probe: what a default container sees from inside, compared with
//! Docker's defaults (/work/shared/notes/docker-defaults.md), and the options that
//! change it.

mod containers_support;

use containers_support::Wharf;

const PROBE: &str = r#"grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
echo ---dev; ls /dev
echo ---mounts; cat /proc/self/mounts
echo ---kcore; cat /proc/kcore 2>&1 | head -c 0; [ -s /proc/kcore ] && echo visible || echo hidden
echo ---keys; wc -c < /proc/keys
echo ---sysrq; (echo x > /proc/sysrq-trigger) 2>&1 | grep -q . && echo refused
echo ---sysctl; (echo 1 > /proc/sys/kernel/panic) 2>&1 | grep -q . && echo refused
echo ---mount; mount -t tmpfs none /mnt 2>&1
echo ---unshare; unshare -n true 2>&1
echo ---pid1; cat /proc/1/cmdline | tr '\0' ' '; echo
echo ---end"#;

fn section<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let start = format!("---{name}");
    out.lines()
        .skip_while(|l| *l != start)
        .skip(1)
        .take_while(|l| !l.starts_with("---"))
        .collect()
}

#[test]
fn default_container_matches_dockers_hardening() {
    let w = Wharf::new();
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        PROBE,
    ]);
    let status: Vec<&str> = out.lines().take_while(|l| !l.starts_with("---")).collect();
    assert_eq!(
        status,
        vec![
            "CapInh:\t0000000000000000",
            "CapPrm:\t00000000a80425fb",
            "CapEff:\t00000000a80425fb",
            "CapBnd:\t00000000a80425fb",
            "CapAmb:\t0000000000000000",
            "NoNewPrivs:\t0",
            "Seccomp:\t2",
            "Seccomp_filters:\t1",
        ],
        "{out}"
    );
    assert_eq!(
        section(&out, "dev"),
        vec![
            "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
            "stdout", "tty", "urandom", "zero"
        ]
    );
    let mounts = section(&out, "mounts");
    let find = |target: &str| -> Vec<String> {
        mounts
            .iter()
            .find(|l| l.split(' ').nth(1) == Some(target))
            .map(|l| l.split(' ').map(str::to_string).collect())
            .unwrap_or_else(|| panic!("no mount on {target} in:\n{}", mounts.join("\n")))
    };
    let opts = |target: &str| {
        find(target)[3]
            .split(',')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let has = |target: &str, want: &[&str]| {
        let o = opts(target);
        for w in want {
            assert!(o.iter().any(|x| x == w), "{target} lacks {w}: {o:?}");
        }
    };
    assert_eq!(find("/")[2], "overlay");
    assert_eq!(find("/proc")[2], "proc");
    has("/proc", &["rw", "nosuid", "nodev", "noexec"]);
    assert_eq!(find("/dev")[2], "tmpfs");
    has("/dev", &["rw", "nosuid", "size=65536k", "mode=755"]);
    has(
        "/dev/pts",
        &["nosuid", "noexec", "gid=5", "mode=620", "ptmxmode=666"],
    );
    has("/dev/shm", &["nosuid", "nodev", "noexec", "size=65536k"]);
    has("/dev/mqueue", &["nosuid", "nodev", "noexec"]);
    has("/sys", &["ro", "nosuid", "nodev", "noexec"]);
    for p in ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"] {
        has(p, &["ro", "nosuid", "nodev", "noexec"]);
    }
    for p in ["/proc/acpi", "/sys/firmware"] {
        assert_eq!(find(p)[2], "tmpfs");
        has(p, &["ro"]);
    }
    for p in ["/proc/keys", "/proc/timer_list"] {
        assert_eq!(find(p)[2], "tmpfs", "{p} is not masked by /dev/null");
    }
    for p in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
        find(p);
    }
    if std::path::Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists() {
        has(
            "/sys/fs/cgroup/memory",
            &["ro", "nosuid", "nodev", "noexec"],
        );
    }
    assert_eq!(section(&out, "kcore"), vec!["hidden"]);
    assert_eq!(section(&out, "keys"), vec!["0"]);
    assert_eq!(section(&out, "sysrq"), vec!["refused"]);
    assert_eq!(section(&out, "sysctl"), vec!["refused"]);
    assert!(
        section(&out, "mount")
            .join(" ")
            .contains("permission denied"),
        "{out}"
    );
    assert!(
        section(&out, "unshare")
            .join(" ")
            .contains("Operation not permitted"),
        "{out}"
    );
    // pid 1 is the command itself.
    assert!(section(&out, "pid1")[0].starts_with("sh -c"), "{out}");
}

#[test]
fn security_options_change_the_probe() {
    let w = Wharf::new();
    let status = |extra: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "wharf/demo",
            "sh",
            "-c",
            "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; ls /dev | wc -l",
        ]);
        w.ok(&args)
    };
    let nnp = status(&["--security-opt", "no-new-privileges"]);
    assert!(
        nnp.contains("NoNewPrivs:\t1") && nnp.contains("Seccomp:\t2"),
        "{nnp}"
    );
    let unconfined = status(&["--security-opt", "seccomp=unconfined"]);
    assert!(unconfined.contains("Seccomp:\t0"), "{unconfined}");
    let dropped = status(&["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"]);
    assert!(dropped.contains("CapEff:\t0000000000000400"), "{dropped}");
    let privileged = status(&["--privileged"]);
    assert!(privileged.contains("Seccomp:\t0"), "{privileged}");
    assert!(
        !privileged.contains("CapEff:\t00000000a80425fb"),
        "{privileged}"
    );
    let ndev: usize = privileged.lines().last().unwrap().trim().parse().unwrap();
    assert!(ndev > 14, "privileged containers see the host's devices");

    // CAP_SYS_ADMIN lifts the seccomp refusal of mount, as Docker's profile does.
    let o = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-add",
        "SYS_ADMIN",
        "wharf/demo",
        "sh",
        "-c",
        "mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted",
    ]);
    assert_eq!(o, "mounted\n");

    // A Docker-format profile refusing mkdir.
    let profile = w.root().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let sec = format!("seccomp={}", profile.display());
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &sec,
        "wharf/demo",
        "sh",
        "-c",
        "mkdir /x 2>&1; echo done",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Operation not permitted") && text.contains("done"),
        "{text}"
    );
}

#[test]
fn read_only_root_mounts_and_ulimits() {
    let w = Wharf::new();
    let host = w.root().join("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("hello"), "from host\n").unwrap();
    let bind = format!("{}:/data:ro", host.display());
    let out = w.ok(&[
        "run", "--rm", "--network", "none", "--read-only", "-v", &bind, "--tmpfs", "/scratch:size=1m", "--ulimit", "nofile=256:512",
        "wharf/demo", "sh", "-c",
        "touch /x 2>/dev/null || echo root-ro; cat /data/hello; touch /data/y 2>/dev/null || echo data-ro; touch /scratch/z && echo tmpfs-rw; ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(out, "root-ro\nfrom host\ndata-ro\ntmpfs-rw\n256\n512\n");
    // Named volumes keep data between containers.
    w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "keep:/v",
        "wharf/demo",
        "sh",
        "-c",
        "echo persisted > /v/f",
    ]);
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "keep:/v",
        "wharf/demo",
        "cat",
        "/v/f",
    ]);
    assert_eq!(out, "persisted\n");
    // --init: pid 1 is the init, the command its child, signals still reach it.
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--init",
        "wharf/demo",
        "sh",
        "-c",
        "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let mut lines = out.lines();
    assert_ne!(lines.next(), Some("1"), "{out}");
}
