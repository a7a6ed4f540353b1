//! `/etc/hosts` and `/etc/resolv.conf` for containers.
//!
//! Name resolution between containers of one user network works through the hosts
//! file (no resolver process: wharf is daemonless). Each container's file lives at
//! `containers/<id>/hosts`, is bind-mounted by the runtime, and is rewritten in place
//! (same inode, so the bind mount sees it) whenever a peer starts, stops, connects or
//! disconnects.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

use crate::error::{EngineError, IoContext, Result};

/// The lines every hosts file starts with (Docker's).
const HOSTS_HEADER: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

/// One line of a hosts file: an address and the names it answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub ip: String,
    pub names: Vec<String>,
}

/// Parse `--add-host name:ip` (Docker also accepts `name=ip`), with the flag grammar's
/// rules ([`crate::api::flags::add_host`]).
pub fn parse_extra_host(s: &str) -> Result<HostEntry> {
    let canonical = crate::api::flags::add_host(s)?;
    // The canonical form is NAME:IP and a host name has no colon.
    let (name, ip) = canonical.split_once(':').ok_or_else(|| {
        EngineError::new(
            crate::error::ErrorKind::Internal,
            format!("--add-host {s:?} did not come out as NAME:IP"),
        )
    })?;
    Ok(HostEntry {
        ip: ip.to_string(),
        names: vec![name.to_string()],
    })
}

/// A hosts file: the standard header, the extra hosts, the container itself, then its
/// peers on shared user networks.
pub fn render_hosts(own: &[HostEntry], extra: &[HostEntry], peers: &[HostEntry]) -> String {
    let mut s = String::from(HOSTS_HEADER);
    for e in extra.iter().chain(own).chain(peers) {
        s.push_str(&format!("{}\t{}\n", e.ip, e.names.join(" ")));
    }
    s
}

/// A resolv.conf from the host's: `dns` replaces its nameservers when given;
/// loopback nameservers (unreachable from a container) are dropped, and when none
/// is left the public defaults are used, as Docker does.
pub fn render_resolv(host_resolv: &str, dns: &[String], host_network: bool) -> String {
    let mut other = Vec::new();
    let mut servers = Vec::new();
    for line in host_resolv.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            let loopback = ns
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false);
            if host_network || !loopback {
                servers.push(ns.to_string());
            }
        } else if t.starts_with("search") || t.starts_with("options") || t.starts_with("domain") {
            other.push(t.to_string());
        }
    }
    if !dns.is_empty() {
        servers = dns.to_vec();
    }
    if servers.is_empty() {
        servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    let mut s = String::new();
    for ns in servers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    for o in other {
        s.push_str(&o);
        s.push('\n');
    }
    s
}

/// Check `--dns` addresses (the flag grammar's rule, [`crate::api::flags::dns`]).
pub fn check_dns(dns: &[String]) -> Result<()> {
    for d in dns {
        crate::api::flags::dns(d)?;
    }
    Ok(())
}

/// Replace the content of `path` in place (truncate and write, same inode) so a bind
/// mount of the file shows the new content. Creates the file when missing.
pub fn write_in_place(path: &Path, content: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .ctx(|| format!("opening {}", path.display()))?;
    f.write_all(content.as_bytes())
        .ctx(|| format!("writing {}", path.display()))
}

/// `ip` as a hosts line for `names`.
pub fn entry(ip: Ipv4Addr, names: Vec<String>) -> HostEntry {
    HostEntry {
        ip: ip.to_string(),
        names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_layout() {
        let own = vec![entry(Ipv4Addr::new(172, 18, 0, 2), vec!["abc123".into()])];
        let extra = vec![parse_extra_host("db.local:10.0.0.5").unwrap()];
        let peers = vec![entry(
            Ipv4Addr::new(172, 18, 0, 3),
            vec!["web".into(), "www".into()],
        )];
        let h = render_hosts(&own, &extra, &peers);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.0.0.5\tdb.local\n172.18.0.2\tabc123\n172.18.0.3\tweb www\n"));
        assert!(parse_extra_host("nocolon").is_err());
        assert!(parse_extra_host("x:notanip").is_err());
        assert_eq!(parse_extra_host("h=::1").unwrap().ip, "::1");
    }

    #[test]
    fn resolv_rules() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch lab.example\noptions edns0\n";
        let r = render_resolv(host, &[], false);
        assert_eq!(
            r,
            "nameserver 10.0.0.1\nsearch lab.example\noptions edns0\n"
        );
        let r = render_resolv("nameserver 127.0.0.53\n", &[], false);
        assert!(r.starts_with("nameserver 8.8.8.8\n"));
        let r = render_resolv(host, &["1.1.1.1".into()], false);
        assert!(r.starts_with("nameserver 1.1.1.1\nsearch"));
        assert!(render_resolv(host, &[], true).contains("127.0.0.53"));
        assert!(check_dns(&["x".into()]).is_err());
    }
}
