//! The network forms: `wharf network create [--subnet] [--gateway] [--ip-range]
//! [--internal] NAME` and `wharf network connect [--ip] [--alias]... NETWORK CONTAINER`.

use wharf_engine::api::{flags, NetworkConnect, NetworkCreate};
use wharf_engine::EngineError;

use super::{container_error, words};
use crate::form::{quote, FieldDef, Spec};
use crate::run_form::valid_name;

fn msg(e: EngineError) -> String {
    e.message
}

// ----- network create -----

/// Field numbers of the create form.
pub const NAME: usize = 0;
pub const SUBNET: usize = 1;
pub const GATEWAY: usize = 2;
pub const IP_RANGE: usize = 3;
pub const INTERNAL: usize = 4;

const CREATE_FIELDS: &[FieldDef] = &[
    FieldDef::text("name", "required, e.g. lab"),
    FieldDef::text("subnet", "chosen free when empty; e.g. 10.30.0.0/16"),
    FieldDef::text("gateway", "the subnet's first address when empty"),
    FieldDef::text(
        "ip range",
        "optional: addresses for containers, e.g. 10.30.1.0/24",
    ),
    FieldDef::choice("internal", &["no", "yes"]),
];

/// The network create form; `networks` are the (name, subnet) pairs there are.
#[derive(Debug, Clone, Default)]
pub struct CreateSpec {
    pub networks: Vec<(String, String)>,
}

impl CreateSpec {
    /// The engine's request for these values (checked first: see [`Spec::error`]).
    pub fn request(&self, v: &[String]) -> NetworkCreate {
        let opt = |i: usize| Some(v[i].trim().to_string()).filter(|s| !s.is_empty());
        NetworkCreate {
            name: v[NAME].trim().to_string(),
            subnet: opt(SUBNET),
            gateway: opt(GATEWAY),
            ip_range: opt(IP_RANGE),
            internal: v[INTERNAL] == "yes",
            ..Default::default()
        }
    }
}

impl Spec for CreateSpec {
    fn title(&self) -> String {
        "new bridge network".into()
    }

    fn fields(&self) -> &'static [FieldDef] {
        CREATE_FIELDS
    }

    fn error(&self, v: &[String], i: usize) -> Option<String> {
        let t = |i: usize| v[i].trim();
        let subnet = || flags::subnet(t(SUBNET)).ok();
        match i {
            NAME if !valid_name(t(NAME)) => Some(
                "a network name may contain only [a-zA-Z0-9_.-] and starts with a letter or digit"
                    .into(),
            ),
            NAME if self.networks.iter().any(|(n, _)| n == t(NAME)) => Some(format!(
                "a network named {} exists: pick another name",
                t(NAME)
            )),
            SUBNET if !t(SUBNET).is_empty() => match flags::subnet(t(SUBNET)) {
                Err(e) => Some(e.message),
                Ok(s) => self.networks.iter().find_map(|(n, other)| {
                    let o = flags::subnet(other).ok()?;
                    (o.contains(&s.network()) || s.contains(&o.network()))
                        .then(|| format!("{s} overlaps network {n} ({o}): pick another subnet"))
                }),
            },
            GATEWAY if !t(GATEWAY).is_empty() => match flags::gateway(t(GATEWAY)) {
                Err(e) => Some(e.message),
                Ok(g) => flags::check_network(subnet(), Some(g), None).err().map(msg),
            },
            IP_RANGE if !t(IP_RANGE).is_empty() => match flags::ip_range(t(IP_RANGE)) {
                Err(e) => Some(e.message),
                Ok(r) => flags::check_network(subnet(), None, Some(r)).err().map(msg),
            },
            _ => None,
        }
    }

    fn command_line(&self, v: &[String]) -> String {
        let mut out = vec!["wharf".to_string(), "network".into(), "create".into()];
        for (i, flag) in [
            (SUBNET, "--subnet"),
            (GATEWAY, "--gateway"),
            (IP_RANGE, "--ip-range"),
        ] {
            let t = v[i].trim();
            if !t.is_empty() {
                out.push(format!("{flag} {}", quote(t)));
            }
        }
        if v[INTERNAL] == "yes" {
            out.push("--internal".into());
        }
        let name = v[NAME].trim();
        out.push(if name.is_empty() {
            "NAME".into()
        } else {
            quote(name)
        });
        out.join(" ")
    }

    fn verb(&self) -> &'static str {
        "create"
    }
}

// ----- network connect -----

/// Field numbers of the connect form.
pub const CONTAINER: usize = 0;
pub const IP: usize = 1;
pub const ALIASES: usize = 2;

const CONNECT_FIELDS: &[FieldDef] = &[
    FieldDef::text("container", "its name"),
    FieldDef::text("ip", "optional: an address of the subnet, e.g. 10.30.0.9"),
    FieldDef::text(
        "aliases",
        "optional: more names for it on this network, e.g. db cache",
    ),
];

/// The connect form for a network: its name, its subnet (empty for `host`/`none`),
/// whether it is user-defined (only those take `--ip` and aliases), the containers.
#[derive(Debug, Clone, Default)]
pub struct ConnectSpec {
    pub network: String,
    pub subnet: String,
    pub user_defined: bool,
    pub containers: Vec<String>,
}

impl ConnectSpec {
    /// The container and the engine's options for these values (checked first).
    pub fn request(&self, v: &[String]) -> (String, NetworkConnect) {
        let ip = Some(v[IP].trim().to_string()).filter(|s| !s.is_empty());
        let aliases = words(&v[ALIASES]).unwrap_or_default();
        (
            v[CONTAINER].trim().to_string(),
            NetworkConnect { ip, aliases },
        )
    }
}

impl Spec for ConnectSpec {
    fn title(&self) -> String {
        format!("connect a container to {}", self.network)
    }

    fn fields(&self) -> &'static [FieldDef] {
        CONNECT_FIELDS
    }

    fn error(&self, v: &[String], i: usize) -> Option<String> {
        let t = v[i].trim();
        match i {
            CONTAINER => container_error(&self.containers, t),
            IP | ALIASES if !t.is_empty() && !self.user_defined => Some(format!(
                "{} works only on user-defined networks, not on {}: create one (n) and connect to it",
                if i == IP { "--ip" } else { "--alias" },
                self.network
            )),
            IP if !t.is_empty() => match flags::ip(t) {
                Err(e) => Some(e.message),
                Ok(a) => {
                    let s = flags::subnet(&self.subnet).ok()?;
                    (!s.contains(&a) || a == s.network() || a == s.broadcast())
                        .then(|| format!("{a} is not a usable address of {} ({s})", self.network))
                }
            },
            ALIASES => match words(t) {
                Err(e) => Some(e),
                Ok(w) => w.iter().find_map(|a| flags::network_alias(a).err().map(msg)),
            },
            _ => None,
        }
    }

    fn command_line(&self, v: &[String]) -> String {
        let mut out = vec!["wharf".to_string(), "network".into(), "connect".into()];
        let ip = v[IP].trim();
        if !ip.is_empty() {
            out.push(format!("--ip {}", quote(ip)));
        }
        for a in words(&v[ALIASES]).unwrap_or_default() {
            out.push(format!("--alias {}", quote(&a)));
        }
        out.push(quote(&self.network));
        let c = v[CONTAINER].trim();
        out.push(if c.is_empty() {
            "CONTAINER".into()
        } else {
            quote(c)
        });
        out.join(" ")
    }

    fn verb(&self) -> &'static str {
        "connect"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{draw, Form};
    use crate::testutil::render;
    use crate::Theme;

    fn nets() -> Vec<(String, String)> {
        vec![
            ("bridge".into(), "172.17.0.0/16".into()),
            ("lan".into(), "10.30.0.0/16".into()),
        ]
    }

    #[test]
    fn create_checks_addresses_against_each_other_and_other_networks() {
        let spec = CreateSpec { networks: nets() };
        let f = Form::new(Box::new(spec.clone()))
            .with(NAME, "lab")
            .with(SUBNET, "10.40.0.0/16")
            .with(GATEWAY, "10.40.0.254")
            .with(IP_RANGE, "10.40.1.0/24")
            .with(INTERNAL, "yes");
        assert_eq!(f.first_error(), None);
        let r = spec.request(&f.values);
        assert_eq!(r.subnet.as_deref(), Some("10.40.0.0/16"));
        assert!(r.internal);
        assert_eq!(
            f.command_line(),
            "wharf network create --subnet 10.40.0.0/16 --gateway 10.40.0.254 --ip-range 10.40.1.0/24 --internal lab"
        );
        insta::assert_snapshot!(render(100, 13, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
        let f = f
            .with(NAME, "lan")
            .with(SUBNET, "10.30.5.0/24")
            .with(GATEWAY, "10.41.0.1")
            .with(IP_RANGE, "10.40.0.1/24");
        assert!(f.error(NAME).unwrap().contains("exists"));
        assert!(f.error(SUBNET).unwrap().contains("overlaps network lan"));
        assert!(f.error(GATEWAY).unwrap().contains("not a usable address"));
        assert!(f.error(IP_RANGE).unwrap().contains("host bits"));
        let f = f
            .with(SUBNET, "")
            .with(IP_RANGE, "")
            .with(GATEWAY, "10.0.0.1");
        assert!(f.error(GATEWAY).unwrap().contains("need --subnet"));
        let mut f = f.with(SUBNET, "10.30.5.0/24");
        f.focus = SUBNET;
        insta::assert_snapshot!(render(80, 13, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn connect_takes_an_address_of_the_subnet_and_aliases() {
        let spec = ConnectSpec {
            network: "lan".into(),
            subnet: "10.30.0.0/16".into(),
            user_defined: true,
            containers: vec!["srv".into(), "db".into()],
        };
        let f = Form::new(Box::new(spec.clone()))
            .with(CONTAINER, "srv")
            .with(IP, "10.30.0.9")
            .with(ALIASES, "web www.lab");
        assert_eq!(f.first_error(), None);
        let (c, o) = spec.request(&f.values);
        assert_eq!(c, "srv");
        assert_eq!(o.ip.as_deref(), Some("10.30.0.9"));
        assert_eq!(o.aliases, vec!["web", "www.lab"]);
        assert_eq!(
            f.command_line(),
            "wharf network connect --ip 10.30.0.9 --alias web --alias www.lab lan srv"
        );
        insta::assert_snapshot!(render(100, 11, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
        let f = f.with(IP, "10.31.0.9").with(ALIASES, "bad_alias!");
        assert!(f.error(IP).unwrap().contains("not a usable address"));
        assert!(f.error(ALIASES).unwrap().contains("--alias"));
        let builtin = ConnectSpec {
            network: "bridge".into(),
            user_defined: false,
            ..spec
        };
        let f = Form::new(Box::new(builtin)).with(IP, "172.17.0.9");
        assert!(f.error(IP).unwrap().contains("user-defined"));
    }
}
