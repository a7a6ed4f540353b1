//! `--format` as the docker CLI reads it: `json`, `table`, `table TEMPLATE` (a header
//! row and tab-aligned columns) or a Go template run per object ([`super::gotmpl`]).
//! `\t` and `\n` written literally in the format are tabs and newlines, as in docker.

use serde_json::Value;
use wharf_engine::EngineError;

use super::gotmpl::{Method, Options, Template};

/// A `--format` value, read.
pub enum Format {
    /// No format, or `table`: the command's own table.
    Default,
    /// A Go template per object; `table` when it began with `table`.
    Template { table: bool, tmpl: Template },
}

impl Format {
    /// Read `--format`: `json` is `{{json .}}`, `table` the default table.
    pub fn parse(flag: &str, s: Option<&str>) -> Result<Format, EngineError> {
        let Some(s) = s else {
            return Ok(Format::Default);
        };
        let s = s.trim();
        if s.is_empty() || s == "table" {
            return Ok(Format::Default);
        }
        let (table, body) = match s.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let body = if body == "json" || (!table && s == "json") {
            "{{json .}}".to_string()
        } else {
            body.trim().replace("\\t", "\t").replace("\\n", "\n")
        };
        let tmpl = Template::parse(&body).map_err(|e| {
            EngineError::invalid(format!("{flag} {s:?}: template parsing error: {e}"))
        })?;
        Ok(Format::Template { table, tmpl })
    }
}

/// The data shape of a listing: its type name (for errors), its columns' headers and
/// the methods its objects have.
pub struct Context {
    pub type_name: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub methods: Vec<(&'static str, Method)>,
    /// A missing field is an error (docker's contexts are Go structs).
    pub strict: bool,
}

impl Context {
    /// A context that reads JSON as a map: a missing field is `<no value>`.
    pub fn map() -> Context {
        Context {
            type_name: "map[string]interface {}",
            headers: &[],
            methods: vec![],
            strict: false,
        }
    }

    fn options(&self, header: bool) -> Options {
        Options {
            strict: (self.strict && !header).then_some(self.type_name),
            methods: self.methods.clone(),
            header,
        }
    }
}

/// Render `rows` with a template format; the text to print.
pub fn render(
    tmpl: &Template,
    table: bool,
    ctx: &Context,
    rows: &[Value],
) -> Result<String, EngineError> {
    let mut out = String::new();
    let fail = |e: super::gotmpl::TmplError| {
        EngineError::invalid(format!(
            "template parsing error: executing the --format template: {e}"
        ))
    };
    if table {
        let header: serde_json::Map<String, Value> = ctx
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        out.push_str(
            &tmpl
                .execute(&Value::Object(header), &ctx.options(true))
                .map_err(fail)?,
        );
        out.push('\n');
    }
    let opts = ctx.options(false);
    for r in rows {
        out.push_str(&tmpl.execute(r, &opts).map_err(fail)?);
        out.push('\n');
    }
    Ok(if table { tabwrite(&out) } else { out })
}

/// Print `rows` with a template format.
pub fn print(tmpl: &Template, table: bool, ctx: &Context, rows: &[Value]) -> i32 {
    match render(tmpl, table, ctx, rows) {
        Ok(s) => {
            use std::io::Write;
            let mut o = super::out::stdout();
            let _ = o.write_all(s.as_bytes()).and_then(|_| o.flush());
            0
        }
        Err(e) => {
            super::report(&e);
            125
        }
    }
}

/// Go's text/tabwriter as docker sets it up (min width 10, padding 3, spaces): cells end
/// at tabs, and a column is as wide as its widest cell in a run of lines that have it.
pub fn tabwrite(text: &str) -> String {
    const MIN: usize = 10;
    const PAD: usize = 3;
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    // widths[line][col] for the tab-terminated cells.
    let mut widths: Vec<Vec<usize>> = lines
        .iter()
        .map(|c| vec![0; c.len().saturating_sub(1)])
        .collect();
    let ncols = widths.iter().map(Vec::len).max().unwrap_or(0);
    for col in 0..ncols {
        let mut i = 0;
        while i < lines.len() {
            if widths[i].len() <= col {
                i += 1;
                continue;
            }
            let mut j = i;
            let mut w = MIN;
            while j < lines.len() && widths[j].len() > col {
                w = w.max(lines[j][col].chars().count() + PAD);
                j += 1;
            }
            for row in widths.iter_mut().take(j).skip(i) {
                row[col] = w;
            }
            i = j;
        }
    }
    let mut out = String::new();
    for (li, cells) in lines.iter().enumerate() {
        for (ci, c) in cells.iter().enumerate() {
            out.push_str(c);
            if ci + 1 < cells.len() {
                let pad = widths[li][ci].saturating_sub(c.chars().count());
                out.push_str(&" ".repeat(pad));
            }
        }
        if li + 1 < lines.len() {
            out.push('\n');
        }
    }
    out
}

/// `Label "k"`: the value of label `k` in the object's `Labels` ("k=v,k2=v2" as docker
/// shows them, or a map).
pub fn label_method(recv: &Value, args: &[Value]) -> Result<Value, super::gotmpl::TmplError> {
    let [k] = args else {
        return Err(super::gotmpl::TmplError(format!(
            "wrong number of args for Label: want 1 got {}",
            args.len()
        )));
    };
    let k = super::gotmpl::print_value(k);
    Ok(match &recv["Labels"] {
        Value::Object(m) => m.get(&k).cloned().unwrap_or(Value::String(String::new())),
        Value::String(s) => Value::String(
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
        ),
        _ => Value::String(String::new()),
    })
}

/// Labels as docker's list contexts show them: `k=v,k2=v2`, sorted.
pub fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Print each object with a template (inspect-style: one result per object, a newline
/// after each); `json` alone prints each object's JSON.
pub fn print_each(flag: &str, format: &str, objects: &[Value]) -> i32 {
    let tmpl = match Format::parse(flag, Some(format)) {
        Ok(Format::Template { tmpl, table: false }) => tmpl,
        Ok(Format::Template { table: true, .. }) => {
            super::report(&EngineError::invalid(format!(
                "{flag} {format:?}: a table format is for listings, not for one object"
            )));
            return 125;
        }
        Ok(Format::Default) => {
            println!(
                "{}",
                serde_json::to_string_pretty(objects).unwrap_or_default()
            );
            return 0;
        }
        Err(e) => {
            super::report(&e);
            return 125;
        }
    };
    print(&tmpl, false, &Context::map(), objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_like_go_tabwriter() {
        let t = tabwrite("NAMES\tIMAGE\nweb\twharf/demo:latest\na-much-longer-name\tx\n");
        assert_eq!(
            t,
            "NAMES                IMAGE\nweb                  wharf/demo:latest\na-much-longer-name   x\n"
        );
        assert_eq!(tabwrite("a\tb\n"), "a         b\n");
    }

    #[test]
    fn table_formats_have_headers_and_unknown_fields_fail() {
        let ctx = Context {
            type_name: "*formatter.ContainerContext",
            headers: &[("Names", "NAMES"), ("ID", "CONTAINER ID")],
            methods: vec![("Label", label_method as Method)],
            strict: true,
        };
        let rows = vec![json!({"Names": "web", "ID": "abc", "Labels": "a=1,b=2"})];
        let Format::Template { table, tmpl } =
            Format::parse("--format", Some("table {{.ID}}\\t{{.Names}}")).unwrap()
        else {
            panic!("a template")
        };
        assert!(table);
        assert_eq!(
            render(&tmpl, table, &ctx, &rows).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        let Format::Template { tmpl, .. } =
            Format::parse("--format", Some("{{.Label \"b\"}}")).unwrap()
        else {
            panic!("a template")
        };
        assert_eq!(render(&tmpl, false, &ctx, &rows).unwrap(), "2\n");
        let Format::Template { tmpl, .. } = Format::parse("--format", Some("{{.Nope}}")).unwrap()
        else {
            panic!("a template")
        };
        let e = render(&tmpl, false, &ctx, &rows).expect_err("unknown field");
        assert!(e.message.contains("Nope"), "{e}");
        let Format::Template { tmpl, .. } = Format::parse("--format", Some("json")).unwrap() else {
            panic!("json is a template")
        };
        assert!(render(&tmpl, false, &ctx, &rows)
            .unwrap()
            .starts_with("{\"ID\":\"abc\""));
    }
}
