//! Network flags: `network create --subnet/--gateway/--ip-range`, `--ip` and
//! `--alias`/`--network-alias`. The address rules are the network part's own
//! ([`crate::network::ipam`]); these give front ends (the console's forms) the same
//! answers before a request is sent.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{misc::valid_hostname, BadValue};
use crate::error::EngineError;
use crate::network::ipam;

/// `--subnet`: an IPv4 CIDR without host bits, /30 or larger.
pub fn subnet(v: &str) -> Result<Ipv4Net, EngineError> {
    ipam::parse_cidr("--subnet", v)
}

/// `--ip-range`: an IPv4 CIDR without host bits (inside the subnet: [`check_network`]).
pub fn ip_range(v: &str) -> Result<Ipv4Net, EngineError> {
    ipam::parse_cidr("--ip-range", v)
}

/// `--gateway`: an IPv4 address (a usable one of the subnet: [`check_network`]).
pub fn gateway(v: &str) -> Result<Ipv4Addr, EngineError> {
    ipam::parse_ip("--gateway", v)
}

/// `--ip`: an IPv4 address.
pub fn ip(v: &str) -> Result<Ipv4Addr, EngineError> {
    ipam::parse_ip("--ip", v)
}

/// How `network create` relates its addresses: a gateway and an IP range need a subnet,
/// the gateway is a usable address of it, the range lies inside it.
pub fn check_network(
    subnet: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
    ip_range: Option<Ipv4Net>,
) -> Result<(), EngineError> {
    let Some(s) = subnet else {
        if gateway.is_some() || ip_range.is_some() {
            return Err(EngineError::invalid(
                "--gateway and --ip-range need --subnet",
            ));
        }
        return Ok(());
    };
    if let Some(g) = gateway {
        if !s.contains(&g) || g == s.network() || g == s.broadcast() {
            return Err(EngineError::invalid(format!(
                "--gateway {g} is not a usable address of subnet {s}"
            )));
        }
    }
    if let Some(r) = ip_range {
        if !s.contains(&r) {
            return Err(EngineError::invalid(format!(
                "--ip-range {r} is not inside subnet {s}"
            )));
        }
    }
    Ok(())
}

/// `--alias` / `--network-alias`: a host name (RFC 1123), the name other containers of
/// the network resolve.
pub fn network_alias(v: &str) -> Result<String, EngineError> {
    if valid_hostname(v) {
        Ok(v.to_string())
    } else {
        Err(BadValue::new(
            v,
            "an alias is a host name: letters, digits and -, in dot-separated parts that neither start nor end with -, such as db or cache.lab",
        )
        .for_flag("--alias"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_network_create_reads_them() {
        let s = subnet("10.5.0.0/16").unwrap();
        assert!(subnet("10.5.0.1/16")
            .unwrap_err()
            .message
            .contains("host bits"));
        assert!(subnet("nope").is_err());
        let g = gateway("10.5.0.254").unwrap();
        let r = ip_range("10.5.1.0/24").unwrap();
        assert!(check_network(Some(s), Some(g), Some(r)).is_ok());
        assert!(check_network(None, Some(g), None).is_err());
        assert!(check_network(Some(s), Some(gateway("10.6.0.1").unwrap()), None).is_err());
        assert!(check_network(Some(s), None, Some(ip_range("10.6.0.0/24").unwrap())).is_err());
        assert!(ip("10.5.0.300").is_err());
        assert_eq!(network_alias("cache.lab").unwrap(), "cache.lab");
        assert!(network_alias("bad alias").is_err());
        assert!(network_alias("a\n1.2.3.4 evil").is_err());
    }
}
