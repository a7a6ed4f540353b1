//! The registries pane: a path line (`Registries › 127.0.0.1:5000 › demo/app › 1`), then
//! the level's list (the caller's registries, a registry's repositories, a repository's
//! tags, page by page) or a tag's manifest (platforms, layers with sizes, config), and
//! under it a pull's or push's progress, one row per layer.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::{RegistryEntry, RemoteManifest};

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::{dsize, fit, short_id, width};
use crate::{ListCursor, Load};

/// Columns of the registries level.
pub const REGISTRY_COLUMNS: [Column; 3] = [
    Column {
        title: "REGISTRY",
        width: 24,
        flex: true,
        priority: 0,
    },
    Column {
        title: "LOGGED IN AS",
        width: 16,
        flex: false,
        priority: 1,
    },
    Column {
        title: "FROM",
        width: 18,
        flex: false,
        priority: 2,
    },
];

/// A list of names: repositories or tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub names: Vec<String>,
    /// The registry has more after these (a "more" row ends the list).
    pub more: bool,
    /// The next page is being fetched.
    pub fetching: bool,
}

/// What the pane shows.
#[derive(Debug)]
pub enum Level<'a> {
    Registries(&'a Load<Vec<RegistryEntry>>),
    /// Repositories of a registry (`tags`: false) or tags of a repository.
    Names {
        tags: bool,
        load: &'a Load<Names>,
    },
    Manifest(&'a Load<RemoteManifest>),
}

/// One layer of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerProgress {
    /// Short digest.
    pub id: String,
    /// `Downloading`, `Pull complete`, `Pushed`, ...
    pub status: String,
    pub current: u64,
    pub total: Option<u64>,
}

/// A pull or push under way (or just finished).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transfer {
    /// `pulling 127.0.0.1:5000/demo/app:1`.
    pub title: String,
    pub layers: Vec<LayerProgress>,
    /// The last free-form line (`Digest: ...`).
    pub message: String,
    /// How it ended: `Ok(text)` or `Err(text)`; `None` while it runs.
    pub done: Option<Result<String, String>>,
}

/// The pane's view-model.
#[derive(Debug)]
pub struct Model<'a> {
    /// `Registries`, then the registry, the repository, the tag.
    pub path: Vec<&'a str>,
    pub level: Level<'a>,
    pub transfer: Option<&'a Transfer>,
    /// Keys to offer in empty states: log in, open.
    pub login_key: Option<&'a str>,
    pub open_key: Option<&'a str>,
    pub focused: bool,
}

/// A line of the manifest view; `platform` is the index of the platform it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestLine {
    pub label: String,
    pub text: String,
    pub platform: Option<usize>,
    /// A section title (`LAYERS`).
    pub heading: bool,
}

impl ManifestLine {
    fn kv(label: &str, text: impl Into<String>) -> Self {
        ManifestLine {
            label: label.into(),
            text: text.into(),
            platform: None,
            heading: false,
        }
    }
}

/// What a media type is, in words.
fn kind_of(media_type: &str) -> &'static str {
    if media_type.contains("index") || media_type.contains("list") {
        "multi-platform index"
    } else if media_type.contains("oci") {
        "OCI image"
    } else if media_type.contains("docker") {
        "Docker image"
    } else {
        "image"
    }
}

/// The manifest view's lines (the pane moves its cursor over them).
pub fn manifest_lines(m: &RemoteManifest) -> Vec<ManifestLine> {
    let mut out = vec![
        ManifestLine::kv("reference", m.reference.clone()),
        ManifestLine::kv("digest", m.digest.clone()),
        ManifestLine::kv(
            "kind",
            if m.platforms.is_empty() {
                kind_of(&m.media_type).to_string()
            } else {
                format!(
                    "{} ({} platforms)",
                    kind_of(&m.media_type),
                    m.platforms.len()
                )
            },
        ),
    ];
    if !m.platforms.is_empty() {
        out.push(ManifestLine {
            label: String::new(),
            text: "PLATFORMS (Enter shows one)".into(),
            platform: None,
            heading: true,
        });
        let shown = m.image.as_ref().map(|i| i.digest.as_str());
        for (i, p) in m.platforms.iter().enumerate() {
            let mark = if Some(p.digest.as_str()) == shown {
                "●"
            } else {
                " "
            };
            out.push(ManifestLine {
                label: String::new(),
                text: format!("{mark} {:<18} {}", p.platform, short_id(&p.digest)),
                platform: Some(i),
                heading: false,
            });
        }
    }
    let Some(img) = &m.image else {
        out.push(ManifestLine::kv(
            "image",
            "no image for this host's platform: choose one above",
        ));
        return out;
    };
    out.push(ManifestLine {
        label: String::new(),
        text: format!("IMAGE {}", img.platform),
        platform: None,
        heading: true,
    });
    out.push(ManifestLine::kv("digest", img.digest.clone()));
    out.push(ManifestLine::kv(
        "size",
        format!(
            "{} in {} layer{} (compressed)",
            dsize(img.size),
            img.layers.len(),
            if img.layers.len() == 1 { "" } else { "s" }
        ),
    ));
    let c = &img.config;
    out.push(ManifestLine::kv("config", img.config_digest.clone()));
    if let Some(t) = &c.created {
        out.push(ManifestLine::kv("created", t.clone()));
    }
    if !c.entrypoint.is_empty() {
        out.push(ManifestLine::kv("entrypoint", c.entrypoint.join(" ")));
    }
    if !c.cmd.is_empty() {
        out.push(ManifestLine::kv("cmd", c.cmd.join(" ")));
    }
    if !c.working_dir.is_empty() {
        out.push(ManifestLine::kv("workdir", c.working_dir.clone()));
    }
    if !c.user.is_empty() {
        out.push(ManifestLine::kv("user", c.user.clone()));
    }
    for e in &c.env {
        out.push(ManifestLine::kv("env", e.clone()));
    }
    if !c.exposed_ports.is_empty() {
        out.push(ManifestLine::kv("ports", c.exposed_ports.join(", ")));
    }
    for (k, v) in &c.labels {
        out.push(ManifestLine::kv("label", format!("{k}={v}")));
    }
    out.push(ManifestLine {
        label: String::new(),
        text: "LAYERS".into(),
        platform: None,
        heading: true,
    });
    for (i, l) in img.layers.iter().enumerate() {
        let kind = l
            .media_type
            .rsplit(['.', '/'])
            .next()
            .unwrap_or(&l.media_type);
        out.push(ManifestLine::kv(
            &format!("{:>3}", i + 1),
            format!("{}  {:>10}  {kind}", short_id(&l.digest), dsize(l.size)),
        ));
    }
    out
}

/// How many rows the pane lists at this level (the "more" row included).
pub fn rows(level: &Level) -> usize {
    match level {
        Level::Registries(Load::Ready(v)) => v.len(),
        Level::Names {
            load: Load::Ready(n),
            ..
        } => n.names.len() + usize::from(n.more),
        Level::Manifest(Load::Ready(m)) => manifest_lines(m).len(),
        _ => 0,
    }
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    if area.height < 2 {
        return;
    }
    let buf = f.buffer_mut();
    draw_path(buf, area, theme, &m.path);
    let mut body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    if let Some(t) = m.transfer {
        let want = t.layers.len() as u16 + 3;
        let h = want.min(body.height / 2).max(3.min(body.height));
        let panel = Rect {
            y: body.bottom() - h,
            height: h,
            ..body
        };
        body.height -= h;
        draw_transfer(buf, panel, theme, t);
    }
    match &m.level {
        Level::Registries(load) => draw_registries(buf, body, theme, m, load, cursor),
        Level::Names { tags, load } => draw_names(buf, body, theme, *tags, load, cursor, m.focused),
        Level::Manifest(load) => draw_manifest(buf, body, theme, load, cursor, m.focused),
    }
}

fn draw_path(buf: &mut Buffer, area: Rect, theme: &Theme, path: &[&str]) {
    let mut x = area.x + 1;
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            buf.set_string(x, area.y, " › ", theme.dim());
            x += 3;
        }
        let room = area.right().saturating_sub(x) as usize;
        let t = fit(p, room);
        let style = if i + 1 == path.len() {
            theme.accent()
        } else {
            theme.text()
        };
        buf.set_string(x, area.y, &t, style);
        x += width(&t) as u16;
        if x >= area.right() {
            break;
        }
    }
}

fn draw_registries(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    m: &Model,
    load: &Load<Vec<RegistryEntry>>,
    cursor: &mut ListCursor,
) {
    let lines = table::load_lines(
        load,
        "reading your registries…",
        "cannot list registries",
        theme,
    );
    let rows = match load {
        Load::Ready(r) if !r.is_empty() => r,
        _ => {
            let lines = lines.unwrap_or_else(|| {
                let mut v = vec![(
                    "No registries yet: you have not logged in to one, and none is configured."
                        .to_string(),
                    theme.text(),
                )];
                let mut keys = Vec::new();
                if let Some(k) = m.login_key {
                    keys.push(format!("{k} to log in to one"));
                }
                if let Some(k) = m.open_key {
                    keys.push(format!("{k} to open one by address (host:port)"));
                }
                if !keys.is_empty() {
                    v.push((format!("Press {}.", keys.join(", or ")), theme.accent()));
                }
                v
            });
            return table::draw_empty(buf, area, theme, &REGISTRY_COLUMNS, None, &lines);
        }
    };
    table::draw_rows(
        buf,
        area,
        theme,
        &REGISTRY_COLUMNS,
        None,
        rows.len(),
        cursor,
        m.focused,
        |i| {
            let r = &rows[i];
            let mut from = Vec::new();
            if r.username.is_some() {
                from.push("login");
            }
            if r.configured {
                from.push("config");
            }
            if r.insecure {
                from.push("plain http");
            }
            Row {
                cells: vec![
                    Span::raw(r.registry.as_str()),
                    match &r.username {
                        Some(u) => Span::styled(u.as_str(), theme.ok()),
                        None => Span::styled("-", theme.dim()),
                    },
                    Span::styled(from.join(", "), theme.dim()),
                ],
                marked: false,
            }
        },
    );
}

fn draw_names(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    tags: bool,
    load: &Load<Names>,
    cursor: &mut ListCursor,
    focused: bool,
) {
    let cols = [Column {
        title: if tags { "TAG" } else { "REPOSITORY" },
        width: 20,
        flex: true,
        priority: 0,
    }];
    let what = if tags { "tags" } else { "repositories" };
    let lines = table::load_lines(
        load,
        &format!("reading the {what}…"),
        &format!("cannot list the {what}"),
        theme,
    );
    let n = match load {
        Load::Ready(n) if !n.names.is_empty() => n,
        _ => {
            let lines = lines.unwrap_or_else(|| {
                vec![(
                    if tags {
                        "This repository has no tags.".to_string()
                    } else {
                        "This registry lists no repositories (push one with P).".to_string()
                    },
                    theme.text(),
                )]
            });
            return table::draw_empty(buf, area, theme, &cols, None, &lines);
        }
    };
    let len = n.names.len() + usize::from(n.more);
    table::draw_rows(buf, area, theme, &cols, None, len, cursor, focused, |i| {
        let cell = match n.names.get(i) {
            Some(name) => Span::raw(name.as_str()),
            None if n.fetching => Span::styled("… reading the next page", theme.dim()),
            None => Span::styled("… more (Enter reads the next page)", theme.accent()),
        };
        Row {
            cells: vec![cell],
            marked: false,
        }
    });
}

fn draw_manifest(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    load: &Load<RemoteManifest>,
    cursor: &mut ListCursor,
    focused: bool,
) {
    let m = match load {
        Load::Ready(m) => m,
        other => {
            let lines = table::load_lines(
                other,
                "reading the manifest…",
                "cannot read the manifest",
                theme,
            )
            .unwrap_or_default();
            return table::draw_message(buf, area, &lines);
        }
    };
    let lines = manifest_lines(m);
    let off = cursor.scroll(area.height as usize, lines.len());
    for (n, l) in lines
        .iter()
        .enumerate()
        .skip(off)
        .take(area.height as usize)
    {
        let y = area.y + (n - off) as u16;
        let row = Rect {
            y,
            height: 1,
            ..area
        };
        let selected = n == cursor.selected;
        if selected && focused {
            buf.set_style(row, theme.selected());
        }
        if selected {
            buf.set_string(area.x, y, "▶", theme.accent());
        }
        let style: Style = if l.heading {
            theme.column()
        } else {
            theme.text()
        };
        let x = area.x + 2;
        if l.heading {
            buf.set_stringn(x, y, &l.text, area.width.saturating_sub(2) as usize, style);
            continue;
        }
        buf.set_stringn(x, y, format!("{:<11}", l.label), 11, theme.dim());
        let room = area.width.saturating_sub(14) as usize;
        buf.set_stringn(x + 12, y, fit(&l.text, room), room, style);
    }
}

fn draw_transfer(buf: &mut Buffer, area: Rect, theme: &Theme, t: &Transfer) {
    if area.height == 0 {
        return;
    }
    let line = "─".repeat(area.width as usize);
    buf.set_string(area.x, area.y, &line, theme.border());
    let (title, style) = match &t.done {
        None => (format!(" {} ", t.title), theme.accent()),
        Some(Ok(s)) => (format!(" ✔ {s} "), theme.ok()),
        Some(Err(e)) => (format!(" ✖ {e} "), theme.error()),
    };
    buf.set_stringn(
        area.x + 1,
        area.y,
        fit(&title, area.width.saturating_sub(2) as usize),
        area.width.saturating_sub(2) as usize,
        style,
    );
    let bar_w: usize = 20;
    let rows = area.height.saturating_sub(1) as usize;
    // The last layers stay in view when there are more than rows.
    let skip = (t.layers.len() + 1).saturating_sub(rows);
    let mut y = area.y + 1;
    for l in t.layers.iter().skip(skip) {
        if y >= area.bottom() {
            break;
        }
        let (pct, bar) = match l.total {
            Some(tot) if tot > 0 => {
                let done = (l.current.min(tot) * bar_w as u64 / tot) as usize;
                (
                    format!("{:>3}%", l.current.min(tot) * 100 / tot),
                    format!("{}{}", "█".repeat(done), "░".repeat(bar_w - done)),
                )
            }
            _ => (String::new(), String::new()),
        };
        let sizes = match l.total {
            Some(tot) => format!("{}/{}", dsize(l.current.min(tot)), dsize(tot)),
            None if l.current > 0 => dsize(l.current),
            None => String::new(),
        };
        let text = format!(
            " {:<12} {:<22} {bar} {pct:>4} {sizes}",
            l.id,
            fit(&l.status, 22)
        );
        let style = if l.status.contains("complete")
            || l.status.contains("exists")
            || l.status.contains("Pushed")
            || l.status.contains("Mounted")
        {
            theme.ok()
        } else {
            theme.text()
        };
        buf.set_stringn(area.x, y, &text, area.width as usize, style);
        y += 1;
    }
    if y < area.bottom() && !t.message.is_empty() {
        buf.set_stringn(
            area.x + 1,
            y,
            fit(&t.message, area.width.saturating_sub(2) as usize),
            area.width as usize,
            theme.dim(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;
    use wharf_engine::api::{RemoteConfig, RemoteImage, RemoteLayer, RemotePlatform};

    fn shot(w: u16, h: u16, m: &Model, sel: usize) -> String {
        let mut cur = ListCursor {
            selected: sel,
            offset: 0,
        };
        render(w, h, |f| draw(f, f.area(), &Theme::default(), m, &mut cur))
    }

    fn model<'a>(path: Vec<&'a str>, level: Level<'a>) -> Model<'a> {
        Model {
            path,
            level,
            transfer: None,
            login_key: Some("L"),
            open_key: Some("o"),
            focused: true,
        }
    }

    #[test]
    fn registries_empty_and_listed() {
        let empty = Load::Ready(vec![]);
        insta::assert_snapshot!(shot(
            90,
            6,
            &model(vec!["Registries"], Level::Registries(&empty)),
            0
        ));
        let list = Load::Ready(vec![
            RegistryEntry {
                registry: "127.0.0.1:5000".into(),
                username: Some("alice".into()),
                configured: false,
                insecure: true,
            },
            RegistryEntry {
                registry: "registry.lab:5000".into(),
                username: None,
                configured: true,
                insecure: false,
            },
        ]);
        insta::assert_snapshot!(shot(
            90,
            6,
            &model(vec!["Registries"], Level::Registries(&list)),
            1
        ));
        let err = Load::Error(
            "registries file /etc/wharf/registries.json line 1 column 2: expected value".into(),
        );
        insta::assert_snapshot!(shot(
            90,
            6,
            &model(vec!["Registries"], Level::Registries(&err)),
            0
        ));
    }

    #[test]
    fn repositories_with_more_and_tags() {
        let repos = Load::Ready(Names {
            names: vec!["demo/app".into(), "demo/busybox".into()],
            more: true,
            fetching: false,
        });
        insta::assert_snapshot!(shot(
            60,
            6,
            &model(
                vec!["Registries", "127.0.0.1:5000"],
                Level::Names {
                    tags: false,
                    load: &repos
                }
            ),
            2
        ));
        let denied = Load::Error("registry 127.0.0.1:5000 requires authentication for the list of repositories: log in with wharf login 127.0.0.1:5000 (UNAUTHORIZED: authentication required)".into());
        insta::assert_snapshot!(shot(
            80,
            6,
            &model(
                vec!["Registries", "127.0.0.1:5000"],
                Level::Names {
                    tags: false,
                    load: &denied
                }
            ),
            0
        ));
    }

    fn manifest() -> RemoteManifest {
        RemoteManifest {
            reference: "127.0.0.1:5000/demo/app:1".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            platforms: vec![
                RemotePlatform {
                    platform: "linux/amd64".into(),
                    digest: format!("sha256:{}", "b".repeat(64)),
                    size: 480,
                },
                RemotePlatform {
                    platform: "linux/arm64/v8".into(),
                    digest: format!("sha256:{}", "c".repeat(64)),
                    size: 480,
                },
            ],
            image: Some(RemoteImage {
                digest: format!("sha256:{}", "b".repeat(64)),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                platform: "linux/amd64".into(),
                config_digest: format!("sha256:{}", "d".repeat(64)),
                layers: vec![
                    RemoteLayer {
                        digest: format!("sha256:{}", "e".repeat(64)),
                        size: 2_400_000,
                        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    },
                    RemoteLayer {
                        digest: format!("sha256:{}", "f".repeat(64)),
                        size: 1_200,
                        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    },
                ],
                size: 2_401_200,
                config: RemoteConfig {
                    created: Some("2024-01-02T03:04:05Z".into()),
                    cmd: vec!["/bin/sh".into()],
                    env: vec!["PATH=/bin".into()],
                    exposed_ports: vec!["80/tcp".into()],
                    ..Default::default()
                },
            }),
        }
    }

    #[test]
    fn a_manifest_with_platforms_layers_and_config() {
        let m = Load::Ready(manifest());
        insta::assert_snapshot!(shot(
            80,
            24,
            &model(
                vec!["Registries", "127.0.0.1:5000", "demo/app", "1"],
                Level::Manifest(&m)
            ),
            5
        ));
        let lines = manifest_lines(&manifest());
        assert_eq!(lines.iter().filter(|l| l.platform.is_some()).count(), 2);
    }

    #[test]
    fn a_pull_shows_each_layer() {
        let names = Load::Ready(Names {
            names: vec!["1".into(), "latest".into()],
            more: false,
            fetching: false,
        });
        let t = Transfer {
            title: "pulling 127.0.0.1:5000/demo/app:1".into(),
            layers: vec![
                LayerProgress {
                    id: "eeeeeeeeeeee".into(),
                    status: "Downloading".into(),
                    current: 1_200_000,
                    total: Some(2_400_000),
                },
                LayerProgress {
                    id: "ffffffffffff".into(),
                    status: "Pull complete".into(),
                    current: 1_200,
                    total: Some(1_200),
                },
            ],
            message: String::new(),
            done: None,
        };
        let mut m = model(
            vec!["Registries", "127.0.0.1:5000", "demo/app"],
            Level::Names {
                tags: true,
                load: &names,
            },
        );
        m.transfer = Some(&t);
        insta::assert_snapshot!(shot(90, 10, &m, 0));
    }
}
