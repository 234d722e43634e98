//! The documentation checked against the code: the options table against `serve --help`,
//! every runnable example against a `--demo` server, and no reference to files that are
//! not in the repository.
//!
//! Runnable examples are written like this in README.md and docs/*.md:
//!
//! ````text
//! <!-- run: demo -->
//! ```sh
//! curl -si http://127.0.0.1:8080/healthz
//! ```
//!
//! ```text
//! HTTP/1.1 200 OK
//! Content-Type: application/json
//!
//! {"status":"ok"}
//! ```
//! ````
//!
//! The `sh` block after a `<!-- run: demo -->` line is run with the system `sh` and `curl`,
//! after every earlier runnable block of the same page, in one shell (variables carry over),
//! against one server per page started with `serve --demo --admin-token letmein`, in a
//! temporary directory. A page that shows how to start the server marks that block with
//! `<!-- run: server -->` instead: the examples after it run against a server started with
//! the `serve` options written there (all but `--listen`), in a shell of their own, so that
//! what a reader starts is what the examples were checked against; `http://127.0.0.1:8080` in the example and in its answer stands for
//! that server's URL. The `text` block right after
//! it is the documented answer, compared with the last response the block printed (curl
//! `-i`): the status code of its first line; each following line up to a blank one is a
//! header that must be there; each line after the blank one is part of the body. In header
//! and body lines, `…` stands for anything: the pieces between must appear in that order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::Server;

/// The admin token the runnable examples use.
const DOCS_ADMIN_TOKEN: &str = "letmein";
/// The base URL the docs write, as `serve --demo` prints it by default.
const DOCS_BASE: &str = "http://127.0.0.1:8080";
/// The page that holds the one options table.
const OPTIONS_PAGE: &str = "docs/options.md";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

/// The markdown pages whose examples run: README.md and every docs/*.md.
fn pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|e| {
            e.expect("a docs/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

// ---- the options table ----

/// One option as `serve --help` or the table states it.
#[derive(Debug, PartialEq, Eq, Clone)]
struct OptionRow {
    /// `--listen ADDR`, `--durable`, `--deterministic[=SEED]`.
    usage: String,
    default: Option<String>,
    env: Option<String>,
}

fn bracketed(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("[{key}: "))? + key.len() + 3;
    let end = start + text[start..].find(']')?;
    let value = text[start..end].trim_end_matches('=').trim_matches('"');
    Some(value.to_string())
}

/// Every option of `clientele serve --help`, by name (`--listen`).
fn help_options() -> BTreeMap<String, OptionRow> {
    let out = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["serve", "--help"])
        .output()
        .expect("running clientele serve --help");
    assert!(out.status.success(), "serve --help failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8 help");
    // An option starts a line with `--`; its help follows on the same line or, when clap
    // chooses the long layout, on the lines below it.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let trimmed = trimmed.strip_prefix("-h, ").unwrap_or(trimmed);
        if trimmed.starts_with("--") {
            let usage_end = trimmed.find("  ").unwrap_or(trimmed.len());
            let (usage, rest) = trimmed.split_at(usage_end);
            entries.push((usage.to_string(), rest.to_string()));
        } else if let Some((_, description)) = entries.last_mut() {
            description.push(' ');
            description.push_str(trimmed);
        }
    }
    let mut options = BTreeMap::new();
    for (usage, description) in entries {
        if usage.starts_with("--help") {
            continue;
        }
        let usage = usage.replace(['<', '>'], "");
        let name = usage.split(['[', ' ']).next().unwrap().to_string();
        options.insert(
            name,
            OptionRow {
                usage,
                default: bracketed(&description, "default"),
                env: bracketed(&description, "env"),
            },
        );
    }
    assert!(
        options.len() > 20,
        "too few options parsed from --help: {options:?}"
    );
    options
}

/// The cells of a markdown table row, `|`-separated (no `|` inside cells).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn code(cell: &str) -> Option<String> {
    let cell = cell.trim();
    (cell.starts_with('`') && cell.ends_with('`') && cell.len() > 1)
        .then(|| cell[1..cell.len() - 1].to_string())
}

/// The options table of docs/options.md: the table whose header starts `| option |`.
fn table_options() -> BTreeMap<String, OptionRow> {
    let page = read(OPTIONS_PAGE);
    let mut lines = page.lines().skip_while(|l| !l.starts_with("| option |"));
    let header = cells(
        lines
            .next()
            .expect("an `| option |` table in docs/options.md"),
    );
    assert_eq!(
        header[..3],
        ["option", "default", "environment"],
        "the options table's first columns"
    );
    let mut options = BTreeMap::new();
    for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let row = cells(line);
        let usage = code(&row[0]).unwrap_or_else(|| panic!("option cell not in backticks: {line}"));
        let name = usage.split(['[', ' ']).next().unwrap().to_string();
        let previous = options.insert(
            name.clone(),
            OptionRow {
                usage,
                default: code(&row[1]),
                env: code(&row[2]),
            },
        );
        assert!(previous.is_none(), "{name} is twice in the options table");
    }
    options
}

#[test]
fn docs_options_table_matches_serve_help() {
    let help = help_options();
    let table = table_options();
    let mut problems = Vec::new();
    for (name, option) in &help {
        match table.get(name) {
            None => problems.push(format!("{name} is in --help but not in {OPTIONS_PAGE}")),
            Some(row) if row != option => problems.push(format!(
                "{name}: --help says {option:?}, {OPTIONS_PAGE} says {row:?}"
            )),
            Some(_) => {}
        }
    }
    for name in table.keys() {
        if !help.contains_key(name) {
            problems.push(format!("{name} is in {OPTIONS_PAGE} but not in --help"));
        }
    }
    assert!(
        problems.is_empty(),
        "options drifted:\n{}",
        problems.join("\n")
    );
}

// ---- runnable examples ----

/// A runnable example: its shell text and the answer documented after it.
struct Example {
    line: usize,
    script: String,
    answer: Vec<String>,
}

/// The examples that run against one server, and the `serve` options it is started with.
struct Session {
    /// `None`: the default, `serve --demo --admin-token letmein`.
    options: Option<Vec<String>>,
    examples: Vec<Example>,
}

/// The options of the `serve` command in a `<!-- run: server -->` block (`cargo run
/// --release -- serve ...` or `clientele serve ...`), comments and `--listen` left out.
fn serve_options(where_: &str, script: &[String]) -> Vec<String> {
    let line = script
        .iter()
        .find(|l| l.contains(" serve"))
        .unwrap_or_else(|| panic!("{where_}: no `serve` command in the server block"));
    let command = line.split(" #").next().unwrap_or_default();
    let mut words = command
        .split_whitespace()
        .skip_while(|w| *w != "serve")
        .skip(1);
    let mut options = Vec::new();
    while let Some(word) = words.next() {
        if word == "--listen" {
            words.next();
        } else if !word.starts_with("--listen=") {
            options.push(word.to_string());
        }
    }
    options
}

/// The fenced block starting at `lines[start]` (its opening fence): info string, body, and
/// the index of the line after its closing fence.
fn fenced(lines: &[&str], start: usize) -> Option<(String, Vec<String>, usize)> {
    let info = lines
        .get(start)?
        .trim()
        .strip_prefix("```")?
        .trim()
        .to_string();
    let mut body = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        if line.trim() == "```" {
            return Some((info, body, i + 1));
        }
        body.push(line.to_string());
    }
    None
}

fn sessions(page: &str) -> Vec<Session> {
    let text = read(page);
    let lines: Vec<&str> = text.lines().collect();
    let mut sessions = vec![Session {
        options: None,
        examples: Vec::new(),
    }];
    for (i, line) in lines.iter().enumerate() {
        let marker = line.trim();
        if marker != "<!-- run: demo -->" && marker != "<!-- run: server -->" {
            continue;
        }
        let where_ = format!("{page}:{}", i + 1);
        let (info, script, next) = fenced(&lines, i + 1)
            .unwrap_or_else(|| panic!("{where_}: no ```sh block after the marker"));
        assert_eq!(info, "sh", "{where_}: a runnable block is ```sh");
        if marker == "<!-- run: server -->" {
            sessions.push(Session {
                options: Some(serve_options(&where_, &script)),
                examples: Vec::new(),
            });
            continue;
        }
        let mut at = next;
        while lines.get(at).is_some_and(|l| l.trim().is_empty()) {
            at += 1;
        }
        let (info, answer, _) = fenced(&lines, at)
            .unwrap_or_else(|| panic!("{where_}: no ```text answer after the example"));
        assert_eq!(info, "text", "{where_}: the answer is a ```text block");
        assert!(
            answer.first().is_some_and(|l| l.starts_with("HTTP/1.1 ")),
            "{where_}: the answer starts with the status line"
        );
        let session = sessions.last_mut().expect("the default session");
        session.examples.push(Example {
            line: i + 1,
            script: script.join("\n"),
            answer,
        });
    }
    sessions.retain(|s| !s.examples.is_empty());
    sessions
}

/// True if `pieces` (the line split at `…`) appear in `text` in that order.
fn pieces_in_order(text: &str, pattern: &str) -> bool {
    let mut rest = text;
    for piece in pattern.split('…').filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Compares the last HTTP response in `output` with a documented answer; the problems.
fn compare(output: &str, answer: &[String]) -> Vec<String> {
    let Some(start) = output.rfind("HTTP/1.1 ") else {
        return vec![format!("no HTTP response in the output:\n{output}")];
    };
    let response = output[start..].replace('\r', "");
    let (head, body) = response.split_once("\n\n").unwrap_or((&response, ""));
    let mut head_lines = head.lines();
    let status = head_lines.next().unwrap_or_default();
    let headers: Vec<String> = head_lines.map(str::to_lowercase).collect();
    let mut problems = Vec::new();
    let code_of = |line: &str| {
        line.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    if code_of(status) != code_of(&answer[0]) {
        problems.push(format!("status {status:?}, documented {:?}", answer[0]));
    }
    let mut documented = answer[1..].iter();
    for line in documented.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        let wanted = line.to_lowercase();
        if !headers.iter().any(|h| pieces_in_order(h, &wanted)) {
            problems.push(format!("no header like {line:?} in:\n{head}"));
        }
    }
    let mut rest = body;
    for line in documented {
        let mut remaining = rest;
        let mut ok = true;
        for piece in line.split('…').filter(|p| !p.is_empty()) {
            match remaining.find(piece) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            rest = remaining;
        } else {
            problems.push(format!("body lacks {line:?}; body:\n{body}"));
        }
    }
    problems
}

/// Runs every runnable example of `page` in order, each session against a fresh server.
fn run_page(page: &str) -> usize {
    sessions(page)
        .iter()
        .map(|session| run_session(page, session))
        .sum()
}

/// Runs one session's examples in order, in one shell, against a server started as the
/// page says (or `--demo --admin-token letmein`).
fn run_session(page: &str, session: &Session) -> usize {
    let found = &session.examples;
    let server = match &session.options {
        None => Server::builder().arg("--admin-token").arg(DOCS_ADMIN_TOKEN),
        Some(options) => options
            .iter()
            .fold(Server::builder().no_demo().no_admin(), |b, o| b.arg(o)),
    }
    .start();
    let mut script = String::from("curl() { command curl --max-time 20 \"$@\"; }\n");
    for (i, example) in found.iter().enumerate() {
        script.push_str(&format!("echo; echo '@@@ example {i} @@@'\n"));
        script.push_str(&example.script.replace(DOCS_BASE, &server.url));
        script.push('\n');
    }
    let script_path = server.dir().join("examples.sh");
    std::fs::write(&script_path, script).expect("writing the examples' script");
    let out = Command::new("sh")
        .arg(&script_path)
        .current_dir(server.dir().path())
        .stdin(Stdio::null())
        .output()
        .expect("running sh (and curl) for the documented examples");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut outputs = stdout.split("@@@ example ").skip(1);
    let mut problems = Vec::new();
    for (i, example) in found.iter().enumerate() {
        let output = outputs.next().unwrap_or_default();
        let output = output.strip_prefix(&format!("{i} @@@")).unwrap_or(output);
        let answer: Vec<String> = example
            .answer
            .iter()
            .map(|l| l.replace(DOCS_BASE, &server.url))
            .collect();
        for problem in compare(output, &answer) {
            problems.push(format!("{page}:{}: {problem}", example.line));
        }
    }
    assert!(
        problems.is_empty(),
        "documented examples do not do what the docs say:\n{}\nshell stderr:\n{}",
        problems.join("\n\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    found.len()
}

#[test]
fn docs_examples_run_against_demo() {
    let mut counts = BTreeMap::new();
    for page in pages() {
        counts.insert(page.clone(), run_page(&page));
    }
    // Every flavour's page and the README show working requests; a marker typo that hides
    // them all would otherwise pass.
    for page in [
        "README.md",
        "docs/mx.md",
        "docs/shieldconex.md",
        "docs/nueve09.md",
        "docs/makeleaps.md",
        "docs/fixture.md",
    ] {
        assert!(
            counts.get(page).copied().unwrap_or(0) > 0,
            "{page} has no runnable example: {counts:?}"
        );
    }
}

#[test]
fn docs_answer_comparison_reads_what_the_docs_promise() {
    let output = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nLocation: http://x/a/1/\r\n\r\n{\"id\":1,\"name\":\"n\"}";
    let ok = |a: &[&str]| compare(output, &a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert!(ok(&[
        "HTTP/1.1 201 Created",
        "location: …/a/…",
        "",
        "{\"id\":…,\"name\":\"n\"}"
    ])
    .is_empty());
    assert_eq!(ok(&["HTTP/1.1 200 OK"]).len(), 1);
    assert_eq!(ok(&["HTTP/1.1 201", "Allow: GET"]).len(), 1);
    assert_eq!(ok(&["HTTP/1.1 201", "", "{\"name\":…\"id\""]).len(), 1);
}

// ---- links between pages ----

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap_or_default();
    let mut in_code = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn docs_relative_links_lead_to_files_and_headings() {
    let mut pages = pages();
    pages.extend(["CONTRIBUTING.md".to_string(), "bench/README.md".to_string()]);
    let mut broken = Vec::new();
    for page in &pages {
        let text = read(page);
        let dir = root().join(page).parent().unwrap().to_path_buf();
        for (n, line) in text.lines().enumerate() {
            for part in line.split("](").skip(1) {
                let Some(target) = part.split(')').next() else {
                    continue;
                };
                if target.contains("://") || target.is_empty() {
                    continue;
                }
                let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
                let path = if file.is_empty() {
                    root().join(page)
                } else {
                    dir.join(file)
                };
                if !path.exists() {
                    broken.push(format!("{page}:{}: {target}: no such file", n + 1));
                } else if !fragment.is_empty() && !anchors(&path).iter().any(|a| a == fragment) {
                    broken.push(format!("{page}:{}: {target}: no such heading", n + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

// ---- references outside the repository ----

/// Names of files that exist only outside this repository; a reference to one cannot be
/// followed from a clone. Built from pieces so that this file does not match itself.
fn outside_references() -> Vec<String> {
    let mut names: Vec<String> = ["DESIGN", "VENDORS", "STACK", "STYLE"]
        .iter()
        .map(|n| format!("{n}.md"))
        .collect();
    names.push(format!("..{}shared", '/'));
    names.extend((0..4).map(|n| format!("seed 00{n}")));
    names
}

fn tracked_files() -> Vec<PathBuf> {
    let listed = Command::new("git")
        .arg("ls-files")
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success());
    match listed {
        Some(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect(),
        None => {
            let mut files = Vec::new();
            walk(&root(), Path::new(""), &mut files);
            files
        }
    }
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let relative = dir.join(entry.file_name());
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(root, &relative, files);
        } else {
            files.push(relative);
        }
    }
}

#[test]
fn docs_no_reference_outside_the_repository() {
    let names = outside_references();
    let mut found = Vec::new();
    for file in tracked_files() {
        // The vendored crate's own code is upstream's, left as it is.
        if file.starts_with("vendor") && file.extension().is_some_and(|e| e == "rs") {
            continue;
        }
        let Ok(bytes) = std::fs::read(root().join(&file)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if let Some(name) = names.iter().find(|name| line.contains(name.as_str())) {
                found.push(format!("{}:{}: {name}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} references to files outside the repository (say it here, or link the vendor's page):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// Every conformance rule is listed in its flavour's page, under "What Clientele checks",
/// and a rule whose source is that page points at the section.
#[test]
fn docs_list_every_conformance_rule() {
    for flavour in clientele::flavours::ALL {
        let page = read(&format!("docs/{}.md", flavour.name()));
        let section = page
            .split("\n## What Clientele checks\n")
            .nth(1)
            .unwrap_or_else(|| panic!("docs/{}.md has no checks section", flavour.name()));
        let section = section.split("\n## ").next().unwrap_or_default();
        for rule in flavour.conformance_rules() {
            assert!(
                section.contains(&format!("`{}`", rule.code)),
                "docs/{}.md does not list {}",
                flavour.name(),
                rule.code
            );
            if !rule.source.starts_with("http") {
                assert!(
                    rule.source.ends_with("#what-clientele-checks"),
                    "{}",
                    rule.code
                );
            }
        }
    }
}
