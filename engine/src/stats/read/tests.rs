//! Tests of the reader, its kept files and its parsers.

use super::kept::digest;
use super::parse::{token, NS_PER_TICK};
use super::*;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// A recorded cgroup v2 directory (values as a v2 kernel writes them).
pub(in crate::stats) fn v2_fixture(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 1200\n").unwrap();
    fs::write(dir.join("memory.current"), "10485760\n").unwrap();
    fs::write(dir.join("memory.max"), "max\n").unwrap();
    fs::write(
        dir.join("memory.stat"),
        "anon 4194304\nfile 6291456\ninactive_file 2097152\nactive_file 4194304\n",
    )
    .unwrap();
    fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    )
    .unwrap();
    fs::write(dir.join("io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=100 wbytes=0 rios=1 wios=0\n").unwrap();
    fs::write(dir.join("pids.current"), "3\n").unwrap();
    fs::write(dir.join("pids.max"), "max\n").unwrap();
}

#[test]
fn v2_fixture_reads_like_docker() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let paths = CgroupPaths::for_container(base, true, "abc");
    v2_fixture(&base.join("wharf/abc"));
    let mut r = Reader::new(paths, None);
    let mut s = Sample::default();
    r.sample(&mut s, false);
    assert_eq!(s.cpu.total_usage, 2_500_000_000);
    assert_eq!(s.cpu.usage_in_kernelmode, 500_000_000);
    assert_eq!(s.throttling.throttled_periods, 4);
    assert_eq!(s.throttling.throttled_time, 1_200_000);
    assert_eq!(s.mem_usage, 10 << 20);
    assert_eq!(s.mem_limit, 0, "max = no limit");
    assert_eq!(s.mem_stat.map().clone()["inactive_file"], 2 << 20);
    assert_eq!(s.mem_stat.len(), 4);
    assert_eq!(s.oom_kills, 1);
    assert_eq!(
        s.pids,
        PidsStats {
            current: 3,
            limit: None
        }
    );
    assert_eq!(s.mem_used(), 8 << 20);
    assert_eq!(s.block_io(), (4196, 8192));
    assert_eq!(
        s.io,
        vec![
            IoEntry {
                major: 8,
                minor: 0,
                write: false,
                value: 4096
            },
            IoEntry {
                major: 8,
                minor: 0,
                write: true,
                value: 8192
            },
            IoEntry {
                major: 253,
                minor: 1,
                write: false,
                value: 100
            },
            IoEntry {
                major: 253,
                minor: 1,
                write: true,
                value: 0
            },
        ]
    );
    // Nothing changed: the same sample (the unchanged files are not parsed again).
    let before = s.clone();
    r.sample(&mut s, false);
    assert_eq!(s, before);
    // Re-reading through the kept fds sees new values.
    let dir = base.join("wharf/abc");
    fs::write(dir.join("pids.current"), "7\n").unwrap();
    fs::write(dir.join("memory.events"), "oom_kill 2\n").unwrap();
    fs::write(
        dir.join("memory.stat"),
        "anon 1\nfile 2\ninactive_file 3\nactive_file 4\n",
    )
    .unwrap();
    r.sample(&mut s, false);
    assert_eq!(s.mem_stat.get("inactive_file"), Some(3));
    // Tasks and OOM kills are read again once the container has run.
    assert_eq!((s.pids.current, s.oom_kills), (3, 1));
    fs::write(dir.join("cpu.stat"), "usage_usec 2500001\n").unwrap();
    r.sample(&mut s, false);
    assert_eq!((s.pids.current, s.oom_kills), (7, 2));
    assert_eq!(s.throttling, Throttling::default());
    // Limits are read again on a refresh only.
    fs::write(dir.join("memory.max"), "67108864\n").unwrap();
    fs::write(dir.join("pids.max"), "20\n").unwrap();
    r.sample(&mut s, false);
    assert_eq!((s.mem_limit, s.pids.limit), (0, None));
    r.sample(&mut s, true);
    assert_eq!((s.mem_limit, s.pids.limit), (64 << 20, Some(20)));
    // A file that goes away reads as zero; it is tried again at a refresh.
    fs::remove_file(dir.join("io.stat")).unwrap();
    r.sample(&mut s, false);
    assert_eq!(s.block_io(), (4196, 8192), "the kept fd still reads");
    let mut r2 = Reader::new(CgroupPaths::for_container(base, true, "abc"), None);
    r2.sample(&mut s, false);
    assert!(s.io.is_empty());
    fs::write(dir.join("io.stat"), "8:0 rbytes=1 wbytes=2\n").unwrap();
    r2.sample(&mut s, false);
    assert!(s.io.is_empty(), "missing until a refresh");
    r2.sample(&mut s, true);
    assert_eq!(s.block_io(), (1, 2));
}

/// A restart makes the cgroup anew: the reader opens the new files and reads their
/// limits at once, not at the next refresh.
#[test]
fn a_restart_reads_the_new_cgroup() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let dir = base.join("wharf/abc");
    v2_fixture(&dir);
    fs::write(dir.join("memory.max"), "67108864\n").unwrap();
    let mut r = Reader::new(CgroupPaths::for_container(base, true, "abc"), Some(1));
    let mut s = Sample::default();
    r.sample(&mut s, false);
    assert_eq!(s.mem_limit, 64 << 20);
    fs::remove_dir_all(&dir).unwrap();
    v2_fixture(&dir);
    fs::write(dir.join("memory.max"), "33554432\n").unwrap();
    r.set_pid(Some(2));
    r.sample(&mut s, false);
    assert_eq!(
        s.mem_limit,
        32 << 20,
        "the new cgroup's limit, without a refresh"
    );
}

/// /proc/net/dev with loopback only is looked at again when the container ran or at
/// a refresh; with an interface, every time.
#[test]
fn net_counters_of_a_namespace_without_network() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    v2_fixture(&base.join("wharf/abc"));
    let mut r = Reader::new(CgroupPaths::for_container(base, true, "abc"), None);
    let dev = base.join("net_dev");
    let header = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n";
    let lo = "    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n";
    let eth = |rx: u64| format!("  eth0: {rx} 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n");
    fs::write(&dev, format!("{header}{lo}")).unwrap();
    r.net = Some(Kept::new(dev.clone()));
    let mut s = Sample::default();
    r.sample(&mut s, false);
    assert!(s.networks.is_empty());
    fs::write(&dev, format!("{header}{lo}{}", eth(5000))).unwrap();
    r.sample(&mut s, false);
    assert!(
        s.networks.is_empty(),
        "not looked at: the container did not run"
    );
    r.sample(&mut s, true);
    assert_eq!(s.net_io(), (5000, 7000), "a refresh looks");
    fs::write(&dev, format!("{header}{lo}{}", eth(6000))).unwrap();
    r.sample(&mut s, false);
    assert_eq!(s.net_io(), (6000, 7000), "with an interface, every time");
    // Back to loopback only; then an interface made by a process inside (it ran).
    fs::write(&dev, format!("{header}{lo}")).unwrap();
    r.sample(&mut s, false);
    assert!(s.networks.is_empty());
    fs::write(&dev, format!("{header}{lo}{}", eth(1))).unwrap();
    fs::write(base.join("wharf/abc/cpu.stat"), "usage_usec 2500001\n").unwrap();
    r.sample(&mut s, false);
    assert_eq!(s.net_io(), (1, 7000));
}

/// A recorded cgroup v1 layout (one directory per controller).
fn v1_fixture(base: &Path, id: &str, quota: &str) {
    let dir = |c: &str| {
        let d = base.join(c).join("wharf").join(id);
        fs::create_dir_all(&d).unwrap();
        d
    };
    fs::write(dir("cpuacct").join("cpuacct.usage"), "1234567890\n").unwrap();
    fs::write(dir("cpuacct").join("cpuacct.stat"), "user 80\nsystem 20\n").unwrap();
    fs::write(
        dir("cpu").join("cpu.stat"),
        "nr_periods 7\nnr_throttled 2\nthrottled_time 3000\nnr_bursts 0\nburst_time 0\n",
    )
    .unwrap();
    fs::write(dir("cpu").join("cpu.cfs_quota_us"), format!("{quota}\n")).unwrap();
    fs::write(dir("memory").join("memory.usage_in_bytes"), "20971520\n").unwrap();
    fs::write(
        dir("memory").join("memory.limit_in_bytes"),
        "9223372036854771712\n",
    )
    .unwrap();
    fs::write(dir("memory").join("memory.stat"), V1_MEMORY_STAT).unwrap();
    fs::write(
        dir("memory").join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    )
    .unwrap();
    fs::write(
        dir("blkio").join("blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 4096\n8:0 Write 12288\n8:0 Sync 16384\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 16384\nTotal 16384\n",
    )
    .unwrap();
    fs::write(dir("pids").join("pids.current"), "2\n").unwrap();
    fs::write(dir("pids").join("pids.max"), "50\n").unwrap();
}

/// memory.stat of a v1 container cgroup, as this host's 6.x kernel writes it.
const V1_MEMORY_STAT: &str = "cache 1216512\nrss 0\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\nwriteback 0\nswap 0\npgpgin 297\npgpgout 0\npgfault 0\npgmajfault 0\ninactive_anon 0\nactive_anon 0\ninactive_file 1216512\nactive_file 0\nunevictable 0\nhierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 1216512\ntotal_rss 0\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_dirty 0\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 297\ntotal_pgpgout 0\ntotal_pgfault 0\ntotal_pgmajfault 0\ntotal_inactive_anon 0\ntotal_active_anon 0\ntotal_inactive_file 1216000\ntotal_active_file 0\ntotal_unevictable 0\n";

#[test]
fn v1_fixture_reads_like_docker() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    v1_fixture(base, "abc", "-1");
    let mut r = Reader::new(CgroupPaths::for_container(base, false, "abc"), None);
    let mut s = Sample::default();
    r.sample(&mut s, false);
    assert_eq!(
        s.cpu,
        CpuUsage {
            total_usage: 1_234_567_890,
            usage_in_kernelmode: 200_000_000,
            usage_in_usermode: 800_000_000,
        }
    );
    assert_eq!(
        s.throttling,
        Throttling {
            periods: 7,
            throttled_periods: 2,
            throttled_time: 3000
        }
    );
    assert_eq!(s.mem_usage, 20 << 20);
    assert_eq!(s.mem_limit, 9223372036854771712);
    assert_eq!(s.mem_stat.len(), 36);
    // The hierarchical figure wins, as in the docker CLI.
    assert_eq!(s.mem_used(), (20 << 20) - 1_216_000);
    assert_eq!(s.oom_kills, 2);
    assert_eq!(s.block_io(), (4096, 12288));
    assert_eq!(s.io.len(), 2);
    assert_eq!(
        s.pids,
        PidsStats {
            current: 2,
            limit: Some(50)
        }
    );
    // CPU times and tasks are read again once the container has run.
    let acct = base.join("cpuacct/wharf/abc");
    fs::write(acct.join("cpuacct.stat"), "user 90\nsystem 20\n").unwrap();
    fs::write(base.join("pids/wharf/abc/pids.current"), "4\n").unwrap();
    fs::write(
        base.join("blkio/wharf/abc/blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 8192\n8:0 Write 12288\nTotal 20480\n",
    )
    .unwrap();
    r.sample(&mut s, false);
    assert_eq!((s.cpu.usage_in_usermode, s.pids.current), (800_000_000, 2));
    assert_eq!(s.block_io(), (4096, 12288));
    fs::write(acct.join("cpuacct.usage"), "1234567891\n").unwrap();
    r.sample(&mut s, false);
    assert_eq!((s.cpu.usage_in_usermode, s.pids.current), (900_000_000, 4));
    assert_eq!(s.block_io(), (8192, 12288));
    // Without a quota the throttling counters are read at refreshes only.
    let cpu = base.join("cpu/wharf/abc");
    fs::write(
        cpu.join("cpu.stat"),
        "nr_periods 9\nnr_throttled 3\nthrottled_time 4000\n",
    )
    .unwrap();
    r.sample(&mut s, false);
    assert_eq!(s.throttling.periods, 7);
    // `wharf update --cpus` sets one (and its event makes the next round a refresh).
    fs::write(cpu.join("cpu.cfs_quota_us"), "50000\n").unwrap();
    r.sample(&mut s, true);
    assert_eq!(s.throttling.periods, 9);
    fs::write(
        cpu.join("cpu.stat"),
        "nr_periods 10\nnr_throttled 3\nthrottled_time 4000\n",
    )
    .unwrap();
    r.sample(&mut s, false);
    assert_eq!(s.throttling.periods, 10);
}

#[test]
fn memory_stat_list_follows_key_changes() {
    let mut l = KvList::default();
    l.update(b"b 2\na 1\ninactive_file 5\n");
    assert_eq!(l.inactive_file(), 5);
    assert_eq!(
        **l.map(),
        BTreeMap::from([
            ("a".into(), 1),
            ("b".into(), 2),
            ("inactive_file".into(), 5)
        ])
    );
    // Same keys: values only.
    l.update(b"b 20\na 10\ninactive_file 50\n");
    assert_eq!(
        (l.get("a"), l.get("b"), l.inactive_file()),
        (Some(10), Some(20), 50)
    );
    // A key added, one dropped, a line that is not a number skipped.
    l.update(b"b 3\nc 4\nbad x\ntotal_inactive_file 7\ninactive_file 6\n");
    assert_eq!(l.len(), 4);
    assert_eq!(l.get("a"), None);
    assert_eq!(l.inactive_file(), 7, "total_inactive_file first");
    assert_eq!(
        l.map().keys().map(|k| &**k).collect::<Vec<_>>(),
        ["b", "c", "inactive_file", "total_inactive_file"]
    );
    // Fewer lines.
    l.update(b"b 3\n");
    assert_eq!((l.len(), l.inactive_file()), (1, 0));
    l.update(b"");
    assert!(l.is_empty());
}

/// A sequence of memory.stat versions applied to one list gives, each time, what
/// parsing that text alone into a map gives (the fast path and the slow one agree).
#[test]
fn memory_stat_updates_match_a_fresh_parse() {
    let texts: [&[u8]; 14] = [
        V1_MEMORY_STAT.as_bytes(),
        b"cache 1\nrss 2\n",
        b"cache 3\nrss 4",
        b"cache 5\nrss 6\n\n",
        b"cache 7\nrss 8 \n",
        b"cache 9\nrss 10\nextra 11\n",
        b"a 1\na 2\nb 3\n",
        b"a 5\na 6\nb 7\n",
        b"a 18446744073709551615\nb 1\n",
        b"a 9999999999999999999\nb 1\n",
        b"a 99999999999999999999\nb 1\n",
        b"a x\nb 1\n",
        b"a\nb 1\n",
        b"",
    ];
    let mut l = KvList::default();
    for _ in 0..2 {
        for t in texts {
            l.update(t);
            let fresh: BTreeMap<Cow<'static, str>, u64> = kv_lines(t)
                .map(|(k, v)| (Cow::Owned(String::from_utf8_lossy(k).into_owned()), v))
                .collect();
            assert_eq!(**l.map(), fresh, "{}", String::from_utf8_lossy(t));
            let inactive = fresh
                .get("total_inactive_file")
                .or(fresh.get("inactive_file"))
                .copied()
                .unwrap_or(0);
            assert_eq!(l.inactive_file(), inactive);
        }
    }
    l.update(b"a 1\na 2\nb 3\n");
    l.update(b"a 5\na 6\nb 7\n");
    assert_eq!(
        (l.get("a"), l.len()),
        (Some(6), 2),
        "the last line of a key wins"
    );
}

#[test]
fn digest_sees_every_one_counter_change() {
    let base = V1_MEMORY_STAT.as_bytes();
    let d0 = digest(base);
    // Every single-byte change (one digit moving, one letter) changes the digest.
    let mut t = base.to_vec();
    for i in 0..t.len() {
        let keep = t[i];
        for b in [b'0', b'1', b'9', b' ', b'a'] {
            if b != keep {
                t[i] = b;
                assert_ne!(digest(&t), d0, "byte {i} set to {b}");
            }
        }
        t[i] = keep;
    }
    // Longer or shorter (a counter gaining a digit), or a trailing zero byte.
    assert_ne!(digest(&base[..base.len() - 1]), d0);
    let mut longer = base.to_vec();
    longer.push(0);
    assert_ne!(digest(&longer), d0);
    assert_eq!(digest(base), d0);
}

#[test]
fn kv_lines_as_split_whitespace() {
    let text = b"a 1\n\n  b\t2 extra\nc\nd x\ne 3x\n f 18446744073709551616\ng 4";
    let got: Vec<(&[u8], u64)> = kv_lines(text).collect();
    assert_eq!(got, [(&b"a"[..], 1), (&b"b"[..], 2), (&b"g"[..], 4)]);
    // The same as parsing each line's first two tokens.
    let by_tokens: Vec<(&[u8], u64)> = text
        .split(|b| *b == b'\n')
        .filter_map(|l| {
            let (k, rest) = token(l)?;
            let (v, _) = token(rest)?;
            Some((k, parse_u64(v)?))
        })
        .collect();
    assert_eq!(got, by_tokens);
    assert_eq!(kv_lines(b"").count(), 0);
    assert_eq!(kv_lines(b"\n\n").count(), 0);
}

#[test]
fn small_parsers() {
    assert_eq!(num(b"12345\n"), Some(12345));
    assert_eq!(num(b"max\n"), None);
    assert_eq!(num(b""), None);
    assert_eq!(num(b"1 2\n"), None);
    assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64(b"18446744073709551616"), None);
    assert_eq!(parse_u64(b"-1"), None);
    assert_eq!(
        kv_get(
            b"low 0\nhigh 0\nmax 0\noom 0\noom_kill 4\noom_group_kill 0\n",
            b"oom_kill"
        ),
        Some(4)
    );
    let (c, t) = parse_cpu_stat_v2(b"usage_usec 10\nuser_usec 6\nsystem_usec 4\ncore_sched.force_idle_usec 0\nnr_periods 5\nnr_throttled 1\nthrottled_usec 2\nnr_bursts 0\nburst_usec 0\n");
    assert_eq!(
        (c.total_usage, c.usage_in_usermode, c.usage_in_kernelmode),
        (10_000, 6_000, 4_000)
    );
    assert_eq!(
        (t.periods, t.throttled_periods, t.throttled_time),
        (5, 1, 2_000)
    );
    let mut io = vec![];
    parse_blkio_v1(b"Total 0\n", &mut io);
    assert!(io.is_empty());
}

#[test]
fn net_dev_and_proc_stat() {
    let text = b"Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n";
    let mut n = vec![];
    parse_net_dev(text, &mut n);
    let m = net_map(&n);
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m["eth0"].rx_bytes, m["eth0"].tx_bytes, m["eth0"].tx_dropped),
        (5000, 7000, 4)
    );
    // In place: a second interface, then the first one gone.
    let two = b"h1\nh2\n  eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n  eth1: 3 0 0 0 0 0 0 0 4 0 0 0 0 0 0 0\n";
    parse_net_dev(two, &mut n);
    assert_eq!(n.len(), 2);
    assert_eq!(n[1].0, "eth1");
    let one = b"h1\nh2\n  eth1: 5 0 0 0 0 0 0 0 6 0 0 0 0 0 0 0\n";
    parse_net_dev(one, &mut n);
    assert_eq!(n.len(), 1);
    assert_eq!((n[0].0.as_str(), n[0].1.rx_bytes), ("eth1", 5));
    let (total, cpus) = system_cpu(b"cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0 0 0\nintr 1\n");
    assert_eq!((total, cpus), (100 * NS_PER_TICK, 2));
    let (total, idle, cpus) = system_cpu_idle(b"cpu  10 0 10 70 10 0 0 0 0 0\ncpu0 1 1 1 1 1\n");
    assert_eq!(
        (total, idle, cpus),
        (100 * NS_PER_TICK, 80 * NS_PER_TICK, 1)
    );
}

/// The real files of this host's processes parse (this runs as any user).
#[test]
fn reads_this_hosts_proc_files() {
    let (total, cpus) = HostCpu::default().read();
    let online = std::thread::available_parallelism().map_or(0, |n| n.get()) as u32;
    assert!(total > 0 && cpus >= online, "{cpus} cpus, {online} usable");
    let me = std::process::id() as i32;
    let mut k = net_file(me);
    let mut buf = Vec::new();
    let text = k.read(&mut buf).expect("/proc/self/net/dev").to_vec();
    let mut n = vec![];
    parse_net_dev(&text, &mut n);
    // Every interface but loopback, counted from the text independently.
    let listed: Vec<String> = String::from_utf8_lossy(&text)
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .filter(|name| name != "lo")
        .collect();
    let parsed: Vec<String> = n.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(parsed, listed);
}

#[test]
fn a_file_larger_than_the_buffer_reads_whole() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big");
    let text: String = (0..3000).map(|i| format!("key{i} {i}\n")).collect();
    fs::write(&p, &text).unwrap();
    let mut k = Kept::new(p);
    let mut buf = Vec::new();
    assert_eq!(k.read(&mut buf).unwrap(), text.as_bytes());
    let mut l = KvList::default();
    l.update(text.as_bytes());
    assert_eq!((l.len(), l.get("key2999")), (3000, Some(2999)));
}

#[test]
fn cpu_percent_as_docker_cli() {
    let mut s = crate::api::ContainerStats::default();
    s.precpu_stats.cpu_usage.total_usage = 1_000_000_000;
    s.precpu_stats.system_cpu_usage = 100_000_000_000;
    s.cpu_stats.cpu_usage.total_usage = 1_500_000_000;
    s.cpu_stats.system_cpu_usage = 102_000_000_000;
    s.cpu_stats.online_cpus = 2;
    // 0.5 s of CPU out of 2 s of host CPU time on 2 CPUs: 50%.
    assert!((s.cpu_percent() - 50.0).abs() < 1e-9);
}
