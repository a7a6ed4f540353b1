//! Address management: choosing subnets that collide with nothing on the host, and
//! handing out container addresses (lowest free first, so an address comes back
//! after its container is removed, as with Docker).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{EngineError, Result};

/// Parse a CIDR as given to `--subnet` / `--ip-range`; host bits must be zero.
pub fn parse_cidr(flag: &str, s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = s.parse().map_err(|_| {
        EngineError::invalid(format!(
            "{flag} {s:?} is not an IPv4 CIDR: write it like 172.20.0.0/16"
        ))
    })?;
    if net.trunc() != net {
        return Err(EngineError::invalid(format!(
            "{flag} {s:?} has host bits set: use {} instead",
            net.trunc()
        )));
    }
    if net.prefix_len() > 30 {
        return Err(EngineError::invalid(format!(
            "{flag} {s:?} is too small for containers: use a prefix of /30 or shorter"
        )));
    }
    Ok(net)
}

/// Parse an address given to `--gateway` / `--ip`.
pub fn parse_ip(flag: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse().map_err(|_| {
        EngineError::invalid(format!(
            "{flag} {s:?} is not an IPv4 address: write it like 172.20.0.10"
        ))
    })
}

/// The private ranges wharf picks subnets from when none is given, in order:
/// 172.17-31.0.0/16, then 192.168.0.0/16 in /20 pieces (Docker's default pools).
pub fn candidate_subnets() -> impl Iterator<Item = Ipv4Net> {
    let sixteens =
        (17u8..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid prefix"));
    let twenties = (0u8..16)
        .map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20).expect("valid prefix"));
    sixteens.chain(twenties)
}

/// Do two networks share any address?
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first candidate subnet that overlaps none of `taken` (host routes and other
/// networks' subnets). Default routes (prefix 0) must be filtered out by the caller.
pub fn choose_subnet(taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    candidate_subnets()
        .find(|c| !taken.iter().any(|t| overlaps(c, t)))
        .ok_or_else(|| {
            EngineError::conflict(
                "no free private subnet is left for a new network: remove unused networks \
             (wharf network prune) or give one with --subnet",
            )
        })
}

/// The gateway of `subnet` when none is given: its first host address.
pub fn default_gateway(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// Is `ip` usable by a container in `subnet` (not the network or broadcast address)?
fn is_host_addr(subnet: &Ipv4Net, ip: Ipv4Addr) -> bool {
    subnet.contains(&ip) && ip != subnet.network() && ip != subnet.broadcast()
}

/// The lowest free address of `range` (or of the whole subnet), never the gateway.
pub fn allocate(
    subnet: &Ipv4Net,
    range: Option<&Ipv4Net>,
    gateway: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let pool = range.unwrap_or(subnet);
    let (lo, hi) = (u32::from(pool.network()), u32::from(pool.broadcast()));
    (lo..=hi)
        .map(Ipv4Addr::from)
        .find(|ip| is_host_addr(subnet, *ip) && *ip != gateway && !used.contains(ip))
}

/// Check a requested `--ip` against the network: inside the subnet, not the gateway, free.
pub fn check_static(
    network: &str,
    subnet: &Ipv4Net,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
) -> Result<()> {
    if !is_host_addr(subnet, ip) {
        return Err(EngineError::invalid(format!(
            "address {ip} is not a usable address of network {network:?} ({subnet}): pick one inside the subnet"
        )));
    }
    if ip == gateway {
        return Err(EngineError::conflict(format!(
            "address {ip} is the gateway of network {network:?}: pick another address"
        )));
    }
    if used.contains(&ip) {
        return Err(EngineError::conflict(format!(
            "address {ip} is already in use on network {network:?}: pick another address or leave --ip out"
        )));
    }
    Ok(())
}

/// A locally administered MAC derived from the address (Docker's 02:42:ac:11:00:02 scheme).
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `02:42:ac:11:00:02`
pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn subnet_avoids_routes_and_networks() {
        assert_eq!(choose_subnet(&[]).unwrap(), net("172.17.0.0/16"));
        // A host route inside 172.17/16 and a network on 172.18/16 push the choice on.
        let taken = [
            net("172.17.5.0/24"),
            net("172.18.0.0/16"),
            net("192.0.2.0/24"),
        ];
        assert_eq!(choose_subnet(&taken).unwrap(), net("172.19.0.0/16"));
        // A wide route covering all of 172.16/12 sends it to 192.168.
        assert_eq!(
            choose_subnet(&[net("172.16.0.0/12")]).unwrap(),
            net("192.168.0.0/20")
        );
        let all: Vec<Ipv4Net> = vec![net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert!(choose_subnet(&all).is_err());
    }

    #[test]
    fn lowest_free_address_and_reuse() {
        let s = net("10.1.0.0/24");
        let gw = default_gateway(&s);
        assert_eq!(gw, Ipv4Addr::new(10, 1, 0, 1));
        let mut used = BTreeSet::new();
        let a = allocate(&s, None, gw, &used).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 1, 0, 2));
        used.insert(a);
        let b = allocate(&s, None, gw, &used).unwrap();
        assert_eq!(b, Ipv4Addr::new(10, 1, 0, 3));
        used.remove(&a);
        assert_eq!(
            allocate(&s, None, gw, &used).unwrap(),
            a,
            "freed address is handed out again"
        );
    }

    #[test]
    fn ip_range_and_exhaustion() {
        let s = net("10.2.0.0/24");
        let r = net("10.2.0.128/30");
        let gw = Ipv4Addr::new(10, 2, 0, 129);
        let mut used = BTreeSet::new();
        let mut got = vec![];
        while let Some(ip) = allocate(&s, Some(&r), gw, &used) {
            used.insert(ip);
            got.push(ip);
        }
        assert_eq!(
            got,
            vec![
                Ipv4Addr::new(10, 2, 0, 128),
                Ipv4Addr::new(10, 2, 0, 130),
                Ipv4Addr::new(10, 2, 0, 131)
            ]
        );
        // A /30 subnet has two host addresses: the gateway and one container.
        let tiny = net("10.3.0.0/30");
        let gw = default_gateway(&tiny);
        assert_eq!(
            allocate(&tiny, None, gw, &BTreeSet::new()),
            Some(Ipv4Addr::new(10, 3, 0, 2))
        );
    }

    #[test]
    fn static_checks_and_parsing() {
        let s = net("10.4.0.0/16");
        let gw = default_gateway(&s);
        let used: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(10, 4, 0, 9)].into();
        assert!(check_static("n", &s, gw, Ipv4Addr::new(10, 4, 0, 10), &used).is_ok());
        assert!(check_static("n", &s, gw, Ipv4Addr::new(10, 4, 0, 9), &used).is_err());
        assert!(check_static("n", &s, gw, gw, &used).is_err());
        assert!(check_static("n", &s, gw, Ipv4Addr::new(10, 5, 0, 2), &used).is_err());
        assert!(check_static("n", &s, gw, Ipv4Addr::new(10, 4, 255, 255), &used).is_err());
        assert!(parse_cidr("--subnet", "10.4.0.1/16").is_err());
        assert!(parse_cidr("--subnet", "nonsense").is_err());
        assert_eq!(parse_cidr("--subnet", "10.4.0.0/16").unwrap(), s);
        assert_eq!(
            mac_string(&mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
    }
}
