//! Published and exposed ports: `-p`, `--expose`.

use std::net::IpAddr;
use std::str::FromStr;

use super::{num, BadValue};
use crate::api::PortBinding;
use crate::error::EngineError;

/// The protocols Docker's grammar knows.
pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "sctp"];

const PUBLISH_HINT: &str = "write [ip:][hostPort:]containerPort[/tcp|udp|sctp], such as 8080:80, 127.0.0.1:8080:80/udp or [::1]:8080:80";

/// `-p [ip:][hostPort:]containerPort[/proto]` as Docker reads it (go-connections'
/// `ParsePortSpec`, and the CLI's long form `published=8080,target=80,protocol=udp`):
/// one [`PortBinding`] per port. Port ranges map one to one (`8000-8001:80-81`); a host
/// IPv6 address may be written in brackets (`[::1]:8080:80`); the protocol is
/// case-insensitive and `tcp` when left out. Container ports are 1-65535 (Docker:
/// "invalid containerPort: 0"); a host port of 0, or none, means an ephemeral port.
/// A host port range for a single container port (Docker picks one port from it) is
/// refused: wharf publishes each container port on one host port you name, or on an
/// ephemeral one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec(pub Vec<PortBinding>);

/// A port or range, `80` or `8000-8010`.
fn range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a = u16::try_from(num::uint(a)?).ok()?;
    let b = u16::try_from(num::uint(b)?).ok()?;
    (a <= b).then_some((a, b))
}

/// `80/udp` split into the port part and the protocol (lowercased, `tcp` by default).
fn split_proto(s: &str) -> (&str, String) {
    match s.split_once('/') {
        Some((p, "")) => (p, "tcp".into()),
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (s, "tcp".into()),
    }
}

fn check_proto(raw: &str, proto: &str) -> Result<(), BadValue> {
    if PROTOCOLS.contains(&proto) {
        Ok(())
    } else {
        Err(BadValue::new(
            raw,
            format!("the protocol {proto:?} is not tcp, udp or sctp; {PUBLISH_HINT}"),
        ))
    }
}

/// The long form `published=8080,target=80[,protocol=udp][,host_ip=...]` in the short one.
fn long_form(s: &str) -> Result<String, BadValue> {
    let (mut published, mut target, mut proto, mut ip) = ("", "", "tcp", "");
    for part in s.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(BadValue::new(
                s,
                format!(
                    "{part:?} is not name=value; write published=8080,target=80[,protocol=udp]"
                ),
            ));
        };
        match k {
            "published" => published = v,
            "target" => target = v,
            "protocol" => proto = v,
            "host_ip" => ip = v,
            "mode" if v == "host" || v == "ingress" => {}
            _ => {
                return Err(BadValue::new(
                    s,
                    format!(
                        "{k:?} is not a publish option; use published, target, protocol, host_ip"
                    ),
                ))
            }
        }
    }
    if target.is_empty() {
        return Err(BadValue::new(s, "target= (the container port) is missing"));
    }
    let ip = if ip.contains(':') {
        format!("[{ip}]:")
    } else if ip.is_empty() {
        String::new()
    } else {
        format!("{ip}:")
    };
    Ok(format!("{ip}{published}:{target}/{proto}"))
}

impl FromStr for PortSpec {
    type Err = BadValue;

    fn from_str(raw: &str) -> Result<Self, BadValue> {
        let long;
        let s = if raw.contains('=') {
            long = long_form(raw)?;
            long.as_str()
        } else {
            raw
        };
        let bad = |why: String| BadValue::new(raw, format!("{why}; {PUBLISH_HINT}"));
        let parts: Vec<&str> = s.split(':').collect();
        let n = parts.len();
        let (ip, host, container) = match n {
            1 => (String::new(), "", parts[0]),
            2 => (String::new(), parts[0], parts[1]),
            _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
        };
        let (container, proto) = split_proto(container);
        let ip = match ip.strip_prefix('[') {
            Some(inner) => match inner.strip_suffix(']') {
                Some(v6) if v6.contains(':') => v6.to_string(),
                _ => return Err(bad(format!("{ip:?} is not a bracketed IPv6 address"))),
            },
            None => ip,
        };
        if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
            return Err(bad(format!("the host address {ip:?} is not an IP address")));
        }
        if container.is_empty() {
            return Err(bad("no container port is given".into()));
        }
        let (c0, c1) = range(container)
            .filter(|(a, _)| *a > 0)
            .ok_or_else(|| {
                bad(format!(
                    "invalid containerPort: {container} (a port from 1 to 65535, or a range such as 8000-8010)"
                ))
            })?;
        let (h0, h1) = if host.is_empty() {
            (0, 0)
        } else {
            range(host).ok_or_else(|| {
                bad(format!(
                    "invalid hostPort: {host} (a port from 0 to 65535, or a range such as 8000-8010)"
                ))
            })?
        };
        check_proto(raw, &proto)?;
        if !host.is_empty() && (c1 - c0) != (h1 - h0) {
            if c0 == c1 {
                return Err(BadValue::new(
                    raw,
                    format!("wharf does not pick a host port from a range ({host}); name one host port, such as {h0}:{c0}, or leave the host port out for an ephemeral one"),
                ));
            }
            return Err(bad(format!(
                "the container ports {container} and the host ports {host} are ranges of different lengths"
            )));
        }
        if h0 == 0 && h1 > 0 {
            return Err(bad(format!(
                "the host port range {host} starts at 0; a range starts at 1"
            )));
        }
        let out = (0..=(c1 - c0))
            .map(|i| PortBinding {
                host_ip: ip.clone(),
                host_port: if host.is_empty() { 0 } else { h0 + i },
                container_port: c0 + i,
                proto: proto.clone(),
            })
            .collect();
        Ok(PortSpec(out))
    }
}

/// `--expose PORT[/proto]` or `--expose START-END[/proto]` (Docker: no host part): one
/// [`PortBinding`] per port with an empty host address and host port 0, which `-P`
/// publishes on ephemeral host ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeSpec(pub Vec<PortBinding>);

impl FromStr for ExposeSpec {
    type Err = BadValue;

    fn from_str(raw: &str) -> Result<Self, BadValue> {
        const HINT: &str =
            "write PORT[/tcp|udp|sctp] or START-END[/proto], such as 80 or 8000-8010/udp";
        if raw.contains(':') {
            return Err(BadValue::new(
                raw,
                format!("--expose takes container ports only (publish with -p); {HINT}"),
            ));
        }
        let (port, proto) = split_proto(raw);
        if !PROTOCOLS.contains(&proto.as_str()) {
            return Err(BadValue::new(
                raw,
                format!("the protocol {proto:?} is not tcp, udp or sctp; {HINT}"),
            ));
        }
        let (a, b) = range(port).filter(|(a, _)| *a > 0).ok_or_else(|| {
            BadValue::new(
                raw,
                format!("it is not a port from 1 to 65535 or a range; {HINT}"),
            )
        })?;
        Ok(ExposeSpec(
            (a..=b)
                .map(|p| PortBinding {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port: p,
                    proto: proto.clone(),
                })
                .collect(),
        ))
    }
}

/// `-p`: the bindings of one value.
pub fn publish(v: &str) -> Result<Vec<PortBinding>, EngineError> {
    Ok(super::flag::<PortSpec>("-p", v)?.0)
}

/// `--expose`: the ports of one value.
pub fn expose(v: &str) -> Result<Vec<PortBinding>, EngineError> {
    Ok(super::flag::<ExposeSpec>("--expose", v)?.0)
}

/// The rules on one published port as it reaches the engine (`flag` names the field in
/// messages: `-p` or `--expose`): container port 1-65535, protocol tcp, udp or sctp,
/// the host address an IP address (or empty for all of them). Exposed ports have no
/// host side.
pub fn check_port(flag: &str, p: &PortBinding) -> Result<(), EngineError> {
    let shown = format!(
        "{}{}:{}/{}",
        if p.host_ip.is_empty() {
            String::new()
        } else {
            format!("{}:", p.host_ip)
        },
        p.host_port,
        p.container_port,
        p.proto
    );
    let refuse = |why: &str| EngineError::invalid(format!("invalid {flag} {shown}: {why}"));
    if p.container_port == 0 {
        return Err(refuse(
            "invalid containerPort: 0; the container port is from 1 to 65535",
        ));
    }
    if !PROTOCOLS.contains(&p.proto.as_str()) {
        return Err(refuse("the protocol must be tcp, udp or sctp (lowercase)"));
    }
    if !p.host_ip.is_empty() && p.host_ip.parse::<IpAddr>().is_err() {
        return Err(refuse(&format!(
            "the host address {:?} is not an IP address; give one such as 127.0.0.1, or none for all addresses",
            p.host_ip
        )));
    }
    if flag == "--expose" && (!p.host_ip.is_empty() || p.host_port != 0) {
        return Err(refuse(
            "an exposed port has no host side; publish it with -p instead",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(ip: &str, h: u16, c: u16, proto: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: h,
            container_port: c,
            proto: proto.into(),
        }
    }

    #[test]
    fn publish_as_docker_reads_it() {
        let table: &[(&str, Vec<PortBinding>)] = &[
            ("80", vec![pb("", 0, 80, "tcp")]),
            ("8080:80", vec![pb("", 8080, 80, "tcp")]),
            ("0:80", vec![pb("", 0, 80, "tcp")]),
            (":80", vec![pb("", 0, 80, "tcp")]),
            ("8080:80/udp", vec![pb("", 8080, 80, "udp")]),
            ("8080:80/UDP", vec![pb("", 8080, 80, "udp")]),
            ("8080:80/", vec![pb("", 8080, 80, "tcp")]),
            ("8080:80/sctp", vec![pb("", 8080, 80, "sctp")]),
            ("127.0.0.1:8080:80", vec![pb("127.0.0.1", 8080, 80, "tcp")]),
            ("127.0.0.1::80", vec![pb("127.0.0.1", 0, 80, "tcp")]),
            ("[::1]:8080:80", vec![pb("::1", 8080, 80, "tcp")]),
            ("::1:8080:80", vec![pb("::1", 8080, 80, "tcp")]),
            (
                "8000-8001:80-81",
                vec![pb("", 8000, 80, "tcp"), pb("", 8001, 81, "tcp")],
            ),
            (
                "80-81/udp",
                vec![pb("", 0, 80, "udp"), pb("", 0, 81, "udp")],
            ),
            (
                "published=8080,target=80,protocol=udp",
                vec![pb("", 8080, 80, "udp")],
            ),
            ("target=80", vec![pb("", 0, 80, "tcp")]),
        ];
        for (s, want) in table {
            assert_eq!(s.parse::<PortSpec>().map(|p| p.0), Ok(want.clone()), "{s}");
        }
        let refused = [
            "",
            "8080:0",
            "0",
            "8080:",
            "1.2.3.4.5:80:80",
            "8080:80/sctpx",
            "8080:80/icmp",
            "70000:80",
            "8080:70000",
            "a:b",
            "-1:80",
            "8080:-80",
            "8000-8010:80",
            "8000-8001:80-82",
            "81-80",
            "[1.2.3.4]:80:80",
            "[::1:8080:80",
            "localhost:8080:80",
            "0-2:80-82",
            "published=8080",
            "published=8080,target=80,bogus=1",
            " 80",
        ];
        for s in refused {
            assert!(s.parse::<PortSpec>().is_err(), "{s} was accepted");
        }
        let e = publish("8080:0").unwrap_err();
        assert!(e.message.contains("invalid containerPort: 0"), "{e}");
        assert!(e.message.starts_with("invalid -p \"8080:0\""), "{e}");
        let e = publish("8080:80/sctpx").unwrap_err();
        assert!(e.message.contains("\"sctpx\""), "{e}");
        assert!(publish("1.2.3.4.5:80:80")
            .unwrap_err()
            .message
            .contains("not an IP address"));
    }

    #[test]
    fn expose_as_docker_reads_it() {
        assert_eq!(expose("80").unwrap(), vec![pb("", 0, 80, "tcp")]);
        assert_eq!(
            expose("53-54/udp").unwrap(),
            vec![pb("", 0, 53, "udp"), pb("", 0, 54, "udp")]
        );
        for s in ["", "0", "80:80", "x", "80/bogus", "90-80"] {
            assert!(expose(s).is_err(), "{s}");
        }
    }

    #[test]
    fn port_rules() {
        assert!(check_port("-p", &pb("", 8080, 80, "tcp")).is_ok());
        assert!(check_port("-p", &pb("::1", 0, 80, "udp")).is_ok());
        assert!(check_port("-p", &pb("", 8080, 0, "tcp")).is_err());
        assert!(check_port("-p", &pb("", 8080, 80, "TCP")).is_err());
        assert!(check_port("-p", &pb("", 8080, 80, "")).is_err());
        assert!(check_port("-p", &pb("1.2.3.4.5", 8080, 80, "tcp")).is_err());
        assert!(check_port("--expose", &pb("", 0, 80, "tcp")).is_ok());
        assert!(check_port("--expose", &pb("", 8080, 80, "tcp")).is_err());
    }
}
