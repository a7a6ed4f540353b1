//! The update form: `wharf update [-m] [--cpus] [--pids-limit] [--restart] CONTAINER`,
//! limits and restart policy changed live. An empty field keeps what the container has
//! (shown in the field, `64m, kept`).

use std::sync::{Arc, Mutex};

use wharf_engine::api::{flags, Resources, RestartPolicy};
use wharf_engine::EngineError;

use crate::form::{quote, FieldDef, Spec};

/// Field numbers.
pub const MEMORY: usize = 0;
pub const CPUS: usize = 1;
pub const PIDS: usize = 2;
pub const RESTART: usize = 3;

const FIELDS: &[FieldDef] = &[
    FieldDef::text("memory", "e.g. 256m, 1g"),
    FieldDef::text("cpus", "e.g. 0.5"),
    FieldDef::text("pids limit", "e.g. 100, -1 for none"),
    FieldDef::text("restart", "no, always, unless-stopped, on-failure:N"),
];

/// What a container has now, per field (`64m`, `0.5`, `100`, `always`); filled in when
/// the engine answers, which may be after the form opened.
pub type Now = Arc<Mutex<[Option<String>; 4]>>;

/// The update form for a container; `now` is shown in the fields left empty.
#[derive(Debug, Clone, Default)]
pub struct UpdateSpec {
    pub container: String,
    pub now: Now,
}

fn msg(e: EngineError) -> String {
    e.message
}

impl UpdateSpec {
    /// The new limits and restart policy (`None`: unchanged), or the first error.
    pub fn request(
        &self,
        v: &[String],
    ) -> Result<(Resources, Option<RestartPolicy>), (usize, String)> {
        let t = |i: usize| Some(v[i].trim()).filter(|s| !s.is_empty());
        let at = |i: usize| move |e: EngineError| (i, e.message);
        let r = Resources {
            memory: t(MEMORY)
                .map(flags::memory)
                .transpose()
                .map_err(at(MEMORY))?,
            nano_cpus: t(CPUS).map(flags::cpus).transpose().map_err(at(CPUS))?,
            pids_limit: t(PIDS)
                .map(flags::pids_limit)
                .transpose()
                .map_err(at(PIDS))?,
            ..Default::default()
        };
        let restart = t(RESTART)
            .map(flags::restart)
            .transpose()
            .map_err(at(RESTART))?;
        flags::check_resources(&r, true).map_err(at(MEMORY))?;
        if r == Resources::default() && restart.is_none() {
            return Err((
                MEMORY,
                "nothing to change: give a limit or a restart policy".into(),
            ));
        }
        Ok((r, restart))
    }
}

impl Spec for UpdateSpec {
    fn title(&self) -> String {
        format!("update {} (live)", self.container)
    }

    fn fields(&self) -> &'static [FieldDef] {
        FIELDS
    }

    fn error(&self, v: &[String], i: usize) -> Option<String> {
        let t = v[i].trim();
        let own = match i {
            _ if t.is_empty() => None,
            MEMORY => flags::memory(t).err().map(msg),
            CPUS => flags::cpus(t).err().map(msg),
            PIDS => flags::pids_limit(t).err().map(msg),
            RESTART => flags::restart(t).err().map(msg),
            _ => None,
        };
        // What only the whole request shows (nothing to change) goes on its field.
        own.or_else(|| match self.request(v) {
            Err((at, e)) if at == i && (0..4).all(|k| self.own_ok(v, k)) => Some(e),
            _ => None,
        })
    }

    fn placeholder(&self, i: usize) -> String {
        let now = self.now.lock().map(|n| n[i].clone()).unwrap_or(None);
        match now {
            Some(n) => format!("{n}, kept; {}", FIELDS[i].placeholder),
            None => format!("kept as it is; {}", FIELDS[i].placeholder),
        }
    }

    fn command_line(&self, v: &[String]) -> String {
        let mut out = vec!["wharf".to_string(), "update".into()];
        for (i, flag) in [
            (MEMORY, "-m"),
            (CPUS, "--cpus"),
            (PIDS, "--pids-limit"),
            (RESTART, "--restart"),
        ] {
            let t = v[i].trim();
            if !t.is_empty() {
                out.push(format!("{flag} {}", quote(t)));
            }
        }
        out.push(quote(&self.container));
        out.join(" ")
    }

    fn verb(&self) -> &'static str {
        "update"
    }
}

impl UpdateSpec {
    fn own_ok(&self, v: &[String], i: usize) -> bool {
        let t = v[i].trim();
        t.is_empty()
            || match i {
                MEMORY => flags::memory(t).is_ok(),
                CPUS => flags::cpus(t).is_ok(),
                PIDS => flags::pids_limit(t).is_ok(),
                _ => flags::restart(t).is_ok(),
            }
    }
}

/// What a container has now, from its inspect JSON, as the form shows it.
pub fn now_from_inspect(j: &serde_json::Value) -> [Option<String>; 4] {
    let hc = &j["HostConfig"];
    let pos = |k: &str| hc[k].as_i64().filter(|n| *n > 0);
    let restart = hc["RestartPolicy"]["Name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(
            |n| match hc["RestartPolicy"]["MaximumRetryCount"].as_i64() {
                Some(k) if n == "on-failure" && k > 0 => format!("{n}:{k}"),
                _ => n.to_string(),
            },
        );
    [
        Some(pos("Memory").map_or("no limit".into(), flags::human)),
        Some(pos("NanoCpus").map_or("no limit".into(), flags::cpus_text)),
        Some(pos("PidsLimit").map_or("no limit".into(), |n| n.to_string())),
        restart.or(Some("no".into())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{draw, Form};
    use crate::testutil::render;
    use crate::Theme;

    fn spec() -> UpdateSpec {
        UpdateSpec {
            container: "web-1".into(),
            now: Arc::new(Mutex::new(now_from_inspect(
                &serde_json::json!({"HostConfig": {
                "Memory": 67108864, "NanoCpus": 0, "PidsLimit": 100,
                "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}}),
            ))),
        }
    }

    #[test]
    fn what_the_container_has_shows_in_empty_fields() {
        assert_eq!(
            *spec().now.lock().unwrap(),
            [
                Some("64m".to_string()),
                Some("no limit".into()),
                Some("100".into()),
                Some("on-failure:3".into())
            ]
        );
        let mut f = Form::new(Box::new(spec()));
        assert!(!f.submit(), "nothing to change");
        assert!(f.error(MEMORY).unwrap().contains("nothing to change"));
        insta::assert_snapshot!(render(90, 12, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn a_change_is_the_request_and_the_command_line() {
        let f = Form::new(Box::new(spec()))
            .with(MEMORY, "128m")
            .with(PIDS, "200")
            .with(RESTART, "always");
        assert_eq!(f.first_error(), None);
        let (r, restart) = spec().request(&f.values).unwrap();
        assert_eq!(r.memory, Some(128 << 20));
        assert_eq!(r.pids_limit, Some(200));
        assert_eq!(r.nano_cpus, None);
        assert_eq!(restart, Some(RestartPolicy::Always));
        assert_eq!(
            f.command_line(),
            "wharf update -m 128m --pids-limit 200 --restart always web-1"
        );
        let f = f.with(CPUS, "lots").with(MEMORY, "1k");
        assert!(f.error(CPUS).unwrap().contains("--cpus"));
        assert!(f.error(MEMORY).unwrap().contains("--memory"));
        let mut f = f;
        f.focus = CPUS;
        insta::assert_snapshot!(render(90, 12, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }
}
