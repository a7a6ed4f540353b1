//! Container logs in Docker's json-file shape (`{"log","stream","time"}` per line),
//! written by the monitor with size-based rotation (`<id>-json.log`, `.1`, `.2`, ...)
//! and read back with tail, time bounds and follow (across rotations).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{LogLine, LogOptions};
use crate::error::{IoContext, Result};

/// Longest partial line kept before it is written out without its newline (as Docker).
const MAX_PARTIAL: usize = 16 * 1024;

/// Appends a container's output to its json-file log.
pub struct LogWriter {
    path: PathBuf,
    /// `None` with `--log-driver none`: output is not kept.
    file: Option<File>,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl LogWriter {
    /// Open (append) the log at `path`; rotate past `max_size` bytes keeping `max_files` files.
    pub fn open(path: &Path, max_size: Option<u64>, max_files: Option<u32>) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ctx(|| format!("opening log {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path: path.to_path_buf(),
            file: Some(file),
            size,
            max_size: max_size.filter(|s| *s > 0),
            max_files: max_files.unwrap_or(1).max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// A writer that keeps nothing (`--log-driver none`).
    pub fn none() -> Self {
        LogWriter {
            path: PathBuf::new(),
            file: None,
            size: 0,
            max_size: None,
            max_files: 1,
            partial: [Vec::new(), Vec::new()],
        }
    }

    /// Record a chunk of output: whole lines are written, a trailing partial line waits.
    pub fn write(&mut self, stream: Stream, data: &[u8]) {
        if self.file.is_none() {
            return;
        }
        let i = stream as usize;
        self.partial[i].extend_from_slice(data);
        while let Some(pos) = self.partial[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[i].drain(..=pos).collect();
            self.write_line(stream, &line);
        }
        if self.partial[i].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial[i]);
            self.write_line(stream, &line);
        }
    }

    /// Write out partial lines (at exit).
    pub fn flush(&mut self) {
        for s in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.partial[s as usize]);
            if !line.is_empty() {
                self.write_line(s, &line);
            }
        }
    }

    fn write_line(&mut self, stream: Stream, line: &[u8]) {
        let rec = serde_json::json!({
            "log": String::from_utf8_lossy(line),
            "stream": stream.name(),
            "time": super::state::now_rfc3339(),
        });
        let mut out = rec.to_string().into_bytes();
        out.push(b'\n');
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + out.len() as u64 > max {
                if let Err(e) = self.rotate() {
                    tracing::warn!("rotating {}: {e}", self.path.display());
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if file.write_all(&out).is_ok() {
            self.size += out.len() as u64;
        }
    }

    fn rotate(&mut self) -> Result<()> {
        if self.max_files > 1 {
            for i in (1..self.max_files - 1).rev() {
                let from = rotated(&self.path, i);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, i + 1))
                        .ctx(|| format!("rotating {}", from.display()))?;
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))
                .ctx(|| format!("rotating {}", self.path.display()))?;
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .ctx(|| format!("opening {}", self.path.display()))?,
            );
        } else if let Some(f) = &self.file {
            f.set_len(0)
                .ctx(|| format!("truncating {}", self.path.display()))?;
        }
        self.size = 0;
        Ok(())
    }
}

/// `<log>.<n>`
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The log files, oldest first.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut n = 1;
    while rotated(path, n).exists() {
        out.push(rotated(path, n));
        n += 1;
    }
    out.reverse();
    out.push(path.to_path_buf());
    out
}

fn parse(line: &str, opts: &LogOptions) -> Option<LogLine> {
    let l: LogLine = serde_json::from_str(line.trim_end_matches('\n')).ok()?;
    let both = !opts.stdout && !opts.stderr;
    let wanted =
        both || (opts.stdout && l.stream == "stdout") || (opts.stderr && l.stream == "stderr");
    if !wanted {
        return None;
    }
    if opts.since.is_some() || opts.until.is_some() {
        let t = chrono::DateTime::parse_from_rfc3339(&l.time)
            .ok()?
            .timestamp_nanos_opt()?;
        if opts.since.is_some_and(|s| t < s) || opts.until.is_some_and(|u| t > u) {
            return None;
        }
    }
    Some(l)
}

/// Read the log at `path` into `sink` as `opts` says; with `follow`, keep going while
/// `running()` holds. Returns early when `sink` returns false.
pub fn read(
    path: &Path,
    opts: &LogOptions,
    sink: &mut dyn FnMut(LogLine) -> bool,
    running: &dyn Fn() -> bool,
) -> Result<()> {
    let all = files(path);
    let (last, older) = all
        .split_last()
        .map(|(l, o)| (l.clone(), o.to_vec()))
        .unwrap_or((path.to_path_buf(), vec![]));
    let mut cur = match File::open(&last) {
        Ok(f) => Some(BufReader::new(f)),
        Err(_) => None,
    };
    let mut buf = String::new();
    if let Some(n) = opts.tail {
        let mut ring: std::collections::VecDeque<LogLine> = Default::default();
        let mut push = |l: LogLine| {
            ring.push_back(l);
            if ring.len() > n {
                ring.pop_front();
            }
        };
        for f in &older {
            if let Ok(f) = File::open(f) {
                for line in BufReader::new(f).lines().map_while(|l| l.ok()) {
                    if let Some(l) = parse(&line, opts) {
                        push(l);
                    }
                }
            }
        }
        if let Some(r) = cur.as_mut() {
            while r.read_line(&mut buf).unwrap_or(0) > 0 && buf.ends_with('\n') {
                if let Some(l) = parse(&buf, opts) {
                    push(l);
                }
                buf.clear();
            }
        }
        for l in ring {
            if !sink(l) {
                return Ok(());
            }
        }
    } else {
        for f in &older {
            if let Ok(f) = File::open(f) {
                for line in BufReader::new(f).lines().map_while(|l| l.ok()) {
                    if let Some(l) = parse(&line, opts) {
                        if !sink(l) {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
    let mut ino = cur
        .as_ref()
        .and_then(|r| r.get_ref().metadata().ok())
        .map(|m| m.ino());
    loop {
        let mut got = false;
        if let Some(r) = cur.as_mut() {
            loop {
                let n = r.read_line(&mut buf).unwrap_or(0);
                if n == 0 || !buf.ends_with('\n') {
                    break;
                }
                got = true;
                if let Some(l) = parse(&buf, opts) {
                    if !sink(l) {
                        return Ok(());
                    }
                }
                buf.clear();
            }
        }
        if !opts.follow {
            return Ok(());
        }
        if got {
            continue;
        }
        // Rotated (a new file at `path`) or truncated (max-file=1): start over on it.
        let now = fs::metadata(path).ok();
        let rotated_away = now.as_ref().map(|m| m.ino()) != ino;
        let truncated = match (cur.as_mut(), now.as_ref()) {
            (Some(r), Some(m)) => r.stream_position().map(|p| m.len() < p).unwrap_or(false),
            _ => false,
        };
        if rotated_away || truncated {
            if let Ok(f) = File::open(path) {
                ino = f.metadata().ok().map(|m| m.ino());
                let mut r = BufReader::new(f);
                let _ = r.seek(SeekFrom::Start(0));
                cur = Some(r);
                buf.clear();
                continue;
            }
        }
        if !running() {
            // One last look for lines written just before the exit.
            if let Some(r) = cur.as_mut() {
                while r.read_line(&mut buf).unwrap_or(0) > 0 && buf.ends_with('\n') {
                    if let Some(l) = parse(&buf, opts) {
                        if !sink(l) {
                            return Ok(());
                        }
                    }
                    buf.clear();
                }
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_max_files_and_reads_in_order() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let mut w = LogWriter::open(&p, Some(300), Some(3)).unwrap();
        for i in 0..20 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        w.write(Stream::Stderr, b"partial");
        w.flush();
        assert_eq!(files(&p).len(), 3);
        assert!(!rotated(&p, 3).exists());
        let mut got = Vec::new();
        read(
            &p,
            &LogOptions::default(),
            &mut |l| {
                got.push(l.log);
                true
            },
            &|| false,
        )
        .unwrap();
        assert_eq!(got.last().unwrap(), "partial");
        let nums: Vec<usize> = got
            .iter()
            .filter_map(|l| l.trim().strip_prefix("line ")?.parse().ok())
            .collect();
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
        assert_eq!(*nums.last().unwrap(), 19);
        let mut tail = Vec::new();
        read(
            &p,
            &LogOptions {
                tail: Some(2),
                stdout: true,
                ..Default::default()
            },
            &mut |l| {
                tail.push(l.log);
                true
            },
            &|| false,
        )
        .unwrap();
        assert_eq!(tail, vec!["line 18\n", "line 19\n"]);
    }
}
