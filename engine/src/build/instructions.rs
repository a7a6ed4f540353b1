//! Instructions with their meaning: each parsed [`Node`] becomes an [`Instr`], checked
//! (flags by name, argument counts, forms), and the Dockerfile becomes global ARGs and
//! stages. Variables are not expanded here: that happens when a step runs, with the
//! state of its stage (see [`super::exec`]).

use super::parser::{self, json_array, name_vals, Dockerfile, Heredoc, Node};
use crate::error::{EngineError, Result};

/// A command as written: exec form (`["a", "b"]`) or shell form (`a b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdLine {
    Exec(Vec<String>),
    Shell(String),
}

/// A COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// Sources as written (globs, `<<EOF` heredoc names), not expanded.
    pub srcs: Vec<String>,
    pub dest: String,
    /// `--from=stage|image|index` (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    /// `--link`: accepted; the layer is the same either way here.
    pub link: bool,
    pub heredocs: Vec<Heredoc>,
}

/// HEALTHCHECK's options and test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    /// `["CMD-SHELL", "..."]` or `["CMD", ...]`.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub retries: i64,
}

/// One instruction and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instr {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run {
        cmd: CmdLine,
        network: Option<String>,
    },
    Cmd(CmdLine),
    Entrypoint(CmdLine),
    Label(Vec<(String, String)>),
    Maintainer(String),
    Expose(Vec<String>),
    Env(Vec<(String, String)>),
    Add(CopySpec),
    Copy(CopySpec),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Arg(Vec<(String, Option<String>)>),
    /// The trigger's text (`RUN echo hi`), checked.
    Onbuild(String),
    Stopsignal(String),
    /// `None`: `HEALTHCHECK NONE`.
    Healthcheck(Option<HealthSpec>),
    Shell(Vec<String>),
}

/// An instruction and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub node: Node,
    pub instr: Instr,
}

/// A stage: `FROM ... [AS name]` and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Its position (0-based), usable in `--from=N`.
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The FROM instruction.
    pub from: Instruction,
    pub instrs: Vec<Instruction>,
}

/// A Dockerfile as stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub escape: char,
    /// ARGs before the first FROM (usable in FROM lines only, or re-declared in a stage).
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<String>,
}

fn flag_map(node: &Node, allowed: &[&str]) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    for f in &node.flags {
        let (k, v) = match f.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (f.to_string(), None),
        };
        if !allowed.contains(&k.as_str()) {
            let hint = match (node.cmd.as_str(), k.as_str()) {
                ("RUN", "mount") => ": RUN --mount (BuildKit cache, secret and ssh mounts) is not supported by wharf's builder; copy what the step needs with COPY".to_string(),
                ("RUN", "security") => ": RUN --security=insecure is not supported; RUN steps run with the hardening of wharf run".to_string(),
                ("ADD", "checksum") | ("ADD", "keep-git-dir") => ": it is for remote sources, and wharf builds offline".to_string(),
                _ if allowed.is_empty() => format!(": {} takes no flags", node.cmd),
                _ => format!(": {} takes {}", node.cmd, allowed.iter().map(|a| format!("--{a}")).collect::<Vec<_>>().join(", ")),
            };
            return Err(node.err(format!("unknown flag: --{k}{hint}")));
        }
        if out.iter().any(|(o, _)| *o == k) {
            return Err(node.err(format!("--{k} given twice")));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn flag_value(
    flags: &[(String, Option<String>)],
    node: &Node,
    name: &str,
) -> Result<Option<String>> {
    match flags.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, Some(v))) => Ok(Some(v.clone())),
        Some((_, None)) => Err(node.err(format!("--{name} needs a value: --{name}=VALUE"))),
    }
}

fn flag_bool(flags: &[(String, Option<String>)], node: &Node, name: &str) -> Result<bool> {
    match flags.iter().find(|(k, _)| k == name) {
        None => Ok(false),
        Some((_, None)) => Ok(true),
        Some((_, Some(v))) => match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(node.err(format!("--{name}={v}: give true or false"))),
        },
    }
}

fn cmd_line(node: &Node) -> Result<CmdLine> {
    if let Some(v) = json_array(&node.rest) {
        return Ok(CmdLine::Exec(v));
    }
    Ok(CmdLine::Shell(node.rest.clone()))
}

/// RUN with heredocs: the shell script they make. `RUN <<EOF` alone runs the heredoc as
/// the script; otherwise the shell reads the heredocs itself.
fn run_script(node: &Node) -> String {
    let rest = node.rest.trim();
    if node.heredocs.len() == 1 {
        let h = &node.heredocs[0];
        let alone = [
            format!("<<{}", h.name),
            format!("<<-{}", h.name),
            format!("<<\"{}\"", h.name),
            format!("<<'{}'", h.name),
            format!("<<-\"{}\"", h.name),
            format!("<<-'{}'", h.name),
        ];
        if alone.iter().any(|a| a == rest) {
            if h.content.starts_with("#!") {
                // A script with its own interpreter: written to a file and run, as
                // BuildKit does.
                let mut delim = "WHARF_HEREDOC_END".to_string();
                while h.content.lines().any(|l| l == delim) {
                    delim.push('_');
                }
                return format!(
                    "f=/tmp/.wharf-heredoc-$$; cat > \"$f\" <<'{delim}'\n{}{delim}\nchmod 700 \"$f\"; \"$f\"; r=$?; rm -f \"$f\"; exit $r\n",
                    h.content
                );
            }
            return h.content.clone();
        }
    }
    let mut s = rest.to_string();
    s.push('\n');
    for h in &node.heredocs {
        s.push_str(&h.content);
        s.push_str(&h.name);
        s.push('\n');
    }
    s
}

fn copy_spec(node: &Node, escape: char, is_add: bool) -> Result<CopySpec> {
    let allowed: &[&str] = if is_add {
        &["chown", "chmod", "link"]
    } else {
        &["from", "chown", "chmod", "link"]
    };
    let flags = flag_map(node, allowed)?;
    let args = match json_array(&node.rest) {
        Some(v) => v,
        None => parser::words(&node.rest, escape),
    };
    if args.len() < 2 {
        return Err(node.err(format!(
            "{} requires at least two arguments, but only {} were provided: {} SOURCE... DEST",
            node.cmd,
            args.len(),
            node.cmd
        )));
    }
    let (srcs, dest) = args.split_at(args.len() - 1);
    Ok(CopySpec {
        srcs: srcs.to_vec(),
        dest: dest[0].clone(),
        from: flag_value(&flags, node, "from")?,
        chown: flag_value(&flags, node, "chown")?,
        chmod: flag_value(&flags, node, "chmod")?,
        link: flag_bool(&flags, node, "link")?,
        heredocs: node.heredocs.clone(),
    })
}

fn health(node: &Node) -> Result<Option<HealthSpec>> {
    let flags = flag_map(
        node,
        &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
    )?;
    let rest = node.rest.trim();
    let (kind, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if kind.eq_ignore_ascii_case("NONE") {
        if !cmd.trim().is_empty() {
            return Err(node.err("HEALTHCHECK NONE takes no arguments"));
        }
        if !flags.is_empty() {
            return Err(node.err("HEALTHCHECK NONE takes no options"));
        }
        return Ok(None);
    }
    if !kind.eq_ignore_ascii_case("CMD") || cmd.trim().is_empty() {
        return Err(node.err("write HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE"));
    }
    let test = match json_array(cmd) {
        Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
        None => vec!["CMD-SHELL".to_string(), cmd.trim().to_string()],
    };
    let dur = |name: &str| -> Result<i64> {
        match flag_value(&flags, node, name)? {
            None => Ok(0),
            Some(v) => {
                let d = crate::api::flags::duration(&format!("--{name}"), &v)
                    .map_err(|e| node.err(e.message))?;
                if d != 0 && d < 1_000_000 {
                    return Err(node.err(format!("Interval \"--{name}\" cannot be less than 1ms")));
                }
                Ok(d)
            }
        }
    };
    if flag_value(&flags, node, "start-interval")?.is_some() {
        return Err(
            node.err("--start-interval is not known to Docker 20.10's image format; leave it out")
        );
    }
    let retries = match flag_value(&flags, node, "retries")? {
        None => 0,
        Some(v) => {
            let n: i64 = v
                .parse()
                .map_err(|_| node.err(format!("--retries={v}: give a number")))?;
            if n < 1 {
                return Err(node.err(format!("--retries cannot be 0 or less (got {n})")));
            }
            n
        }
    };
    Ok(Some(HealthSpec {
        test,
        interval: dur("interval")?,
        timeout: dur("timeout")?,
        start_period: dur("start-period")?,
        retries,
    }))
}

/// Turn one node into an instruction.
pub fn instruction(node: &Node, escape: char) -> Result<Instr> {
    let none = |node: &Node| flag_map(node, &[]).map(|_| ());
    let need = |node: &Node| -> Result<()> {
        if node.rest.trim().is_empty() {
            return Err(node.err(format!("{} requires at least one argument", node.cmd)));
        }
        Ok(())
    };
    Ok(match node.cmd.as_str() {
        "FROM" => {
            let flags = flag_map(node, &["platform"])?;
            let ws = parser::words(&node.rest, escape);
            let name = match ws.len() {
                1 => None,
                3 if ws[1].eq_ignore_ascii_case("as") => {
                    let n = ws[2].to_ascii_lowercase();
                    if !n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        || !n
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    {
                        return Err(node.err(format!(
                            "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                            ws[2]
                        )));
                    }
                    Some(n)
                }
                _ => return Err(node.err("write FROM [--platform=PLATFORM] IMAGE [AS NAME]")),
            };
            Instr::From {
                image: ws[0].clone(),
                name,
                platform: flag_value(&flags, node, "platform")?,
            }
        }
        "RUN" => {
            let flags = flag_map(node, &["network"])?;
            need(node)?;
            let network = flag_value(&flags, node, "network")?;
            let cmd = if node.heredocs.is_empty() {
                cmd_line(node)?
            } else {
                CmdLine::Shell(run_script(node))
            };
            Instr::Run { cmd, network }
        }
        "CMD" => {
            none(node)?;
            need(node)?;
            Instr::Cmd(cmd_line(node)?)
        }
        "ENTRYPOINT" => {
            none(node)?;
            need(node)?;
            Instr::Entrypoint(cmd_line(node)?)
        }
        "LABEL" => {
            none(node)?;
            Instr::Label(name_vals(node, escape, true)?)
        }
        "MAINTAINER" => {
            none(node)?;
            need(node)?;
            Instr::Maintainer(node.rest.trim().to_string())
        }
        "EXPOSE" => {
            none(node)?;
            need(node)?;
            Instr::Expose(parser::words(&node.rest, escape))
        }
        "ENV" => {
            none(node)?;
            Instr::Env(name_vals(node, escape, true)?)
        }
        "ADD" => Instr::Add(copy_spec(node, escape, true)?),
        "COPY" => Instr::Copy(copy_spec(node, escape, false)?),
        "VOLUME" => {
            none(node)?;
            need(node)?;
            let v = match json_array(&node.rest) {
                Some(v) => v,
                None => parser::words(&node.rest, escape),
            };
            if v.iter().any(|s| s.trim().is_empty()) {
                return Err(node.err("VOLUME specified can not be an empty string"));
            }
            Instr::Volume(v)
        }
        "USER" => {
            none(node)?;
            need(node)?;
            let ws = parser::words(&node.rest, escape);
            if ws.len() != 1 {
                return Err(node.err("USER requires exactly one argument: USER user[:group]"));
            }
            Instr::User(ws[0].clone())
        }
        "WORKDIR" => {
            none(node)?;
            need(node)?;
            Instr::Workdir(node.rest.trim().to_string())
        }
        "ARG" => {
            none(node)?;
            need(node)?;
            let mut out = Vec::new();
            for w in parser::words(&node.rest, escape) {
                match w.split_once('=') {
                    Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
                    None => out.push((w, None)),
                }
            }
            for (k, _) in &out {
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(node.err(format!("invalid ARG name {k:?}")));
                }
            }
            Instr::Arg(out)
        }
        "ONBUILD" => {
            none(node)?;
            need(node)?;
            let sub = parser::parse(&node.rest).map_err(|e| node.err(e.message))?;
            let Some(inner) = sub.nodes.first() else {
                return Err(node.err("ONBUILD needs an instruction"));
            };
            match inner.cmd.as_str() {
                "ONBUILD" => {
                    return Err(node.err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"))
                }
                "FROM" | "MAINTAINER" => {
                    return Err(
                        node.err(format!("{} isn't allowed as an ONBUILD trigger", inner.cmd))
                    )
                }
                _ => {}
            }
            instruction(inner, escape)
                .map_err(|e| node.err(format!("the trigger: {}", e.message)))?;
            Instr::Onbuild(node.rest.trim().to_string())
        }
        "STOPSIGNAL" => {
            none(node)?;
            need(node)?;
            Instr::Stopsignal(node.rest.trim().to_string())
        }
        "HEALTHCHECK" => Instr::Healthcheck(health(node)?),
        "SHELL" => {
            none(node)?;
            match json_array(&node.rest) {
                Some(v) if !v.is_empty() => Instr::Shell(v),
                _ => return Err(node.err("SHELL requires the arguments to be in JSON form: SHELL [\"executable\", \"parameters\"]")),
            }
        }
        other => return Err(node.err(format!("unknown instruction: {other}"))),
    })
}

/// A parsed Dockerfile as global ARGs and stages.
pub fn plan(df: &Dockerfile) -> Result<Plan> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &df.nodes {
        let instr = instruction(node, df.escape)?;
        let i = Instruction {
            node: node.clone(),
            instr,
        };
        match (&i.instr, stages.last_mut()) {
            (Instr::From { name, .. }, _) => {
                if let Some(n) = name {
                    if stages.iter().any(|s| s.name.as_deref() == Some(n)) {
                        return Err(node.err(format!("duplicate stage name {n:?}")));
                    }
                }
                stages.push(Stage { index: stages.len(), name: name.clone(), from: i.clone(), instrs: vec![] });
            }
            (Instr::Arg(_), None) => meta_args.push(i),
            (_, None) => {
                return Err(node.err("no build stage in current context: the Dockerfile must begin with FROM (ARG and comments may come before it)"))
            }
            (_, Some(s)) => s.instrs.push(i),
        }
    }
    if stages.is_empty() {
        return Err(EngineError::invalid(
            "the Dockerfile has no FROM instruction: it must begin with FROM",
        ));
    }
    Ok(Plan {
        escape: df.escape,
        meta_args,
        stages,
        warnings: df.warnings.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Plan> {
        plan(&parser::parse(s)?)
    }

    #[test]
    fn every_instruction() {
        let pl = p(r#"ARG BASE=busybox
FROM --platform=linux/amd64 $BASE AS build
RUN echo a
RUN ["echo", "b"]
CMD ["sh"]
ENTRYPOINT echo hi
LABEL a=b "c d"=e
MAINTAINER me <me@example.com>
EXPOSE 80 53/udp
ENV A=1 B="2 3"
ENV C 4 5
ADD --chown=1:2 a.tar /x/
COPY --from=0 --chmod=644 a b /dir/
VOLUME ["/data"]
VOLUME /a /b
USER app:app
WORKDIR /srv
ARG X Y=2
ONBUILD RUN echo trigger
STOPSIGNAL SIGKILL
HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost
SHELL ["/bin/sh", "-ec"]
FROM build
HEALTHCHECK NONE
"#)
        .unwrap();
        assert_eq!(pl.meta_args.len(), 1);
        assert_eq!(pl.stages.len(), 2);
        let s = &pl.stages[0];
        assert_eq!(s.name.as_deref(), Some("build"));
        assert_eq!(
            s.from.instr,
            Instr::From {
                image: "$BASE".into(),
                name: Some("build".into()),
                platform: Some("linux/amd64".into())
            }
        );
        let k: Vec<&Instr> = s.instrs.iter().map(|i| &i.instr).collect();
        assert_eq!(
            *k[0],
            Instr::Run {
                cmd: CmdLine::Shell("echo a".into()),
                network: None
            }
        );
        assert_eq!(
            *k[1],
            Instr::Run {
                cmd: CmdLine::Exec(vec!["echo".into(), "b".into()]),
                network: None
            }
        );
        assert_eq!(*k[2], Instr::Cmd(CmdLine::Exec(vec!["sh".into()])));
        assert_eq!(
            *k[4],
            Instr::Label(vec![
                ("a".into(), "b".into()),
                ("\"c d\"".into(), "e".into())
            ])
        );
        assert_eq!(*k[6], Instr::Expose(vec!["80".into(), "53/udp".into()]));
        assert_eq!(*k[8], Instr::Env(vec![("C".into(), "4 5".into())]));
        match k[10] {
            Instr::Copy(c) => {
                assert_eq!(c.from.as_deref(), Some("0"));
                assert_eq!(c.chmod.as_deref(), Some("644"));
                assert_eq!(c.srcs, vec!["a", "b"]);
                assert_eq!(c.dest, "/dir/");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(*k[12], Instr::Volume(vec!["/a".into(), "/b".into()]));
        assert_eq!(
            *k[15],
            Instr::Arg(vec![("X".into(), None), ("Y".into(), Some("2".into()))])
        );
        assert_eq!(*k[16], Instr::Onbuild("RUN echo trigger".into()));
        match k[18] {
            Instr::Healthcheck(Some(h)) => {
                assert_eq!(h.test, vec!["CMD-SHELL", "wget -q localhost"]);
                assert_eq!(h.interval, 5_000_000_000);
                assert_eq!(h.retries, 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pl.stages[1].instrs[0].instr, Instr::Healthcheck(None));
    }

    #[test]
    fn errors_name_the_line_and_instruction() {
        let e = p("FROM x\nCOPY onlyone\n").unwrap_err();
        assert!(
            e.message.contains("line 2: COPY") && e.message.contains("at least two"),
            "{e}"
        );
        let e = p("RUN echo\n").unwrap_err();
        assert!(
            e.message.contains("line 1: RUN") && e.message.contains("FROM"),
            "{e}"
        );
        let e = p("FROM x\nRUN --mount=type=cache,target=/c echo\n").unwrap_err();
        assert!(
            e.message.contains("line 2: RUN") && e.message.contains("--mount"),
            "{e}"
        );
        let e = p("FROM x\nSHELL /bin/bash -c\n").unwrap_err();
        assert!(e.message.contains("JSON"), "{e}");
        let e = p("FROM x\nONBUILD ONBUILD RUN x\n").unwrap_err();
        assert!(e.message.contains("Chaining"), "{e}");
        let e = p("FROM x AS 1st\n").unwrap_err();
        assert!(e.message.contains("invalid name"), "{e}");
        let e = p("FROM x\nHEALTHCHECK --retries=0 CMD true\n").unwrap_err();
        assert!(e.message.contains("retries"), "{e}");
        let e = p("FROM x\nEXPOSE\n").unwrap_err();
        assert!(e.message.contains("line 2: EXPOSE"), "{e}");
        let e = p("FROM a AS x\nFROM b AS x\n").unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
        assert!(p("# just a comment\n").is_err());
    }

    #[test]
    fn run_heredoc_with_an_interpreter() {
        let pl = p("FROM x\nRUN <<EOF\n#!/bin/awk -f\nBEGIN { print 1 }\nEOF\n").unwrap();
        let Instr::Run {
            cmd: CmdLine::Shell(s),
            ..
        } = &pl.stages[0].instrs[0].instr
        else {
            panic!("{:?}", pl.stages[0].instrs[0].instr)
        };
        assert!(
            s.contains("#!/bin/awk -f\nBEGIN { print 1 }\nWHARF_HEREDOC_END\n"),
            "{s}"
        );
        assert!(s.contains("\"$f\"; r=$?"), "{s}");
    }

    #[test]
    fn run_heredocs() {
        let pl = p("FROM x\nRUN <<EOF\necho a\necho b\nEOF\nRUN cat <<A > /f\nline\nA\n").unwrap();
        assert_eq!(
            pl.stages[0].instrs[0].instr,
            Instr::Run {
                cmd: CmdLine::Shell("echo a\necho b\n".into()),
                network: None
            }
        );
        assert_eq!(
            pl.stages[0].instrs[1].instr,
            Instr::Run {
                cmd: CmdLine::Shell("cat <<A > /f\nline\nA\n".into()),
                network: None
            }
        );
    }
}
