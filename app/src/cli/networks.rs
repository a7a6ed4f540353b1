//! `wharf network create|ls|inspect|rm|prune|connect|disconnect`, `wharf port`.

use clap::{Args, Subcommand};
use wharf_engine::api::{NetworkConnect, NetworkCreate, NetworkInfo, NetworkListOptions};
use wharf_engine::EngineError;

use super::Ctx;

/// Network commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCmd),
    /// List a container's published ports, or the host side of one of them.
    Port(PortArgs),
}

/// `wharf network ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCmd {
    /// Create a bridge network.
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show networks in detail (JSON), with their containers and addresses.
    Inspect(InspectArgs),
    /// Remove networks (refused while a container is connected).
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all user networks no container uses.
    Prune(PruneArgs),
    /// Connect a container to a network (live if it runs, at its next start if not).
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver: only `bridge`.
    #[arg(short, long)]
    pub driver: Option<String>,
    /// Subnet in CIDR form, e.g. 172.30.0.0/16 (chosen free when omitted).
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address (the subnet's first address when omitted).
    #[arg(long)]
    pub gateway: Option<String>,
    /// Give containers addresses from this CIDR inside the subnet.
    #[arg(long = "ip-range")]
    pub ip_range: Option<String>,
    /// No route out, no NAT, no published ports.
    #[arg(long)]
    pub internal: bool,
    /// Label key=value (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Filter: driver=, id=, label=, name=, scope=, type=custom|builtin, dangling=true.
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// `json`: one JSON object per line.
    #[arg(long)]
    pub format: Option<String>,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Full ids.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format with a Go template (`{{.IPAM.Config}}`, `{{json .Containers}}`) or `json`.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Verbose output (accepted: inspect always shows everything wharf knows).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// IPv4 address for the container on this network.
    #[arg(long)]
    pub ip: Option<String>,
    /// Extra name of the container on this network (repeatable).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Accepted for Docker compatibility.
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

fn fail(e: &EngineError) -> i32 {
    super::report(e);
    super::exit_code_for(e)
}

/// `wharf port CONTAINER PORT[/PROTO]`: one container port, by the flag grammar.
fn port_arg(p: &str) -> Result<(u16, String), EngineError> {
    match wharf_engine::api::flags::expose(p)?.as_slice() {
        [one] => Ok((one.container_port, one.proto.clone())),
        _ => Err(EngineError::invalid(format!(
            "invalid port {p:?}: give one container port, such as 80 or 53/udp"
        ))),
    }
}

/// `docker network ls --format json` fields.
fn ls_json(n: &NetworkInfo) -> serde_json::Value {
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_json::json!({
        "CreatedAt": n.created,
        "Driver": n.driver,
        "ID": wharf_engine::ids::short(&n.id),
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": labels.join(","),
        "Name": n.name,
        "Scope": n.scope,
    })
}

/// Run a network command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let api = ctx.api();
    let caller = &ctx.caller;
    match cmd {
        Cmd::Port(a) => {
            let ports = match api.container_ports(caller, &a.container) {
                Ok(p) => p,
                Err(e) => return fail(&e),
            };
            let want = match a.port.as_deref().map(port_arg).transpose() {
                Ok(w) => w,
                Err(e) => return fail(&e),
            };
            let mut found = false;
            for p in &ports {
                let ip = if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    p.host_ip.as_str()
                };
                match &want {
                    Some((port, proto)) if *port == p.container_port && *proto == p.proto => {
                        println!("{ip}:{}", p.host_port);
                        found = true;
                    }
                    Some(_) => {}
                    None => println!("{}/{} -> {ip}:{}", p.container_port, p.proto, p.host_port),
                }
            }
            if let (Some(_), false) = (&want, found) {
                eprintln!(
                    "wharf: no public port '{}' published for {}",
                    a.port.as_deref().unwrap_or_default(),
                    a.container
                );
                return 1;
            }
            0
        }
        Cmd::Network(NetworkCmd::Create(a)) => {
            let labels = match super::parse_labels(&a.labels) {
                Ok(l) => l,
                Err(e) => return fail(&e),
            };
            let spec = NetworkCreate {
                name: a.name,
                driver: a.driver,
                subnet: a.subnet,
                gateway: a.gateway,
                ip_range: a.ip_range,
                internal: a.internal,
                labels,
            };
            match api.network_create(caller, &spec) {
                Ok(id) => {
                    println!("{id}");
                    0
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Network(NetworkCmd::Ls(a)) => {
            let filters = match super::parse_filters(&a.filters) {
                Ok(f) => f,
                Err(m) => {
                    eprintln!("wharf: {m}, e.g. driver=bridge");
                    return 125;
                }
            };
            let nets = match api.network_list(caller, &NetworkListOptions { filters }) {
                Ok(n) => n,
                Err(e) => return fail(&e),
            };
            let id = |n: &NetworkInfo| {
                if a.no_trunc {
                    n.id.clone()
                } else {
                    wharf_engine::ids::short(&n.id).to_string()
                }
            };
            if a.quiet {
                for n in &nets {
                    println!("{}", id(n));
                }
            } else if let Some(f) = a.format.as_deref().filter(|f| f.trim() != "table") {
                let (table, tmpl) = match super::format::Format::parse("--format", Some(f)) {
                    Ok(super::format::Format::Template { table, tmpl }) => (table, tmpl),
                    Ok(super::format::Format::Default) => unreachable!("filtered above"),
                    Err(e) => return fail(&e),
                };
                let rows: Vec<serde_json::Value> = nets
                    .iter()
                    .map(|n| {
                        let mut v = ls_json(n);
                        v["ID"] = serde_json::Value::String(id(n));
                        v
                    })
                    .collect();
                let c = super::format::Context {
                    type_name: "*formatter.networkContext",
                    headers: &[
                        ("CreatedAt", "CREATED AT"),
                        ("Driver", "DRIVER"),
                        ("ID", "NETWORK ID"),
                        ("IPv6", "IPV6"),
                        ("Internal", "INTERNAL"),
                        ("Labels", "LABELS"),
                        ("Name", "NAME"),
                        ("Scope", "SCOPE"),
                    ],
                    methods: vec![(
                        "Label",
                        super::format::label_method as super::gotmpl::Method,
                    )],
                    strict: true,
                };
                return super::format::print(&tmpl, table, &c, &rows);
            } else {
                let rows: Vec<Vec<String>> = nets
                    .iter()
                    .map(|n| vec![id(n), n.name.clone(), n.driver.clone(), n.scope.clone()])
                    .collect();
                super::print_table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows);
            }
            0
        }
        Cmd::Network(NetworkCmd::Inspect(a)) => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &a.networks {
                match api.network_inspect(caller, n) {
                    Ok(info) => out.push(info),
                    Err(e) => code = fail(&e),
                }
            }
            let _ = a.verbose;
            if let Some(f) = &a.format {
                let objects: Vec<serde_json::Value> = out
                    .iter()
                    .map(|o| serde_json::to_value(o).unwrap_or_default())
                    .collect();
                let c = super::format::print_each("--format", f, &objects);
                return if c != 0 {
                    c
                } else if code != 0 {
                    1
                } else {
                    0
                };
            }
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            if code != 0 {
                1
            } else {
                0
            }
        }
        Cmd::Network(NetworkCmd::Rm(a)) => {
            let mut code = 0;
            for n in &a.networks {
                match api.network_remove(caller, n) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        super::report(&e);
                        code = 1;
                    }
                }
            }
            code
        }
        Cmd::Network(NetworkCmd::Prune(a)) => {
            if !a.force {
                use std::io::Write;
                print!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                let _ = super::out::stdout().flush();
                let mut line = String::new();
                let _ = super::out::read_line(&mut line);
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    return 0;
                }
            }
            match api.network_prune(caller) {
                Ok(r) => {
                    if !r.deleted.is_empty() {
                        println!("Deleted Networks:");
                        for n in &r.deleted {
                            println!("{n}");
                        }
                    }
                    0
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Network(NetworkCmd::Connect(a)) => {
            let opts = NetworkConnect {
                ip: a.ip,
                aliases: a.aliases,
            };
            match api.network_connect(caller, &a.network, &a.container, &opts) {
                Ok(()) => 0,
                Err(e) => fail(&e),
            }
        }
        Cmd::Network(NetworkCmd::Disconnect(a)) => {
            match api.network_disconnect(caller, &a.network, &a.container) {
                Ok(()) => 0,
                Err(e) => fail(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_json_row() {
        let l = super::super::parse_labels(&["a=b".into(), "flag".into()]).unwrap();
        assert_eq!(l["a"], "b");
        assert_eq!(l["flag"], "");
        assert!(super::super::parse_labels(&["=b".into()]).is_err());
        let n = NetworkInfo {
            name: "x".into(),
            id: "0123456789abcdef".into(),
            driver: "bridge".into(),
            ..Default::default()
        };
        let v = ls_json(&n);
        assert_eq!(v["ID"], "0123456789ab");
        assert_eq!(v["Internal"], "false");
    }
}
