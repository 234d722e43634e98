//! The shape of the program, checked from outside: every flavour's route table is what its
//! router answers and what its OpenAPI document lists, in-process servers share nothing,
//! and the sources keep their rules (markup trusted in one place, short functions, no
//! circle of imports between the modules of `src/`).

use std::collections::BTreeSet;

use clientele::config::Config;
use clientele::flavours;
use clientele::testing::Server;
use serde_json::Value;

use crate::support::{call, Reply, MX_ACCEPT, MX_DEMO_AUTH};

/// What the router answers for a path no table lists, without the parts that change per
/// answer (ShieldConex's fresh `uuid`).
fn comparable(reply: &Reply) -> (u16, Option<String>, String) {
    let body = match serde_json::from_str::<Value>(&reply.body) {
        Ok(Value::Object(mut object)) => {
            object.remove("uuid");
            Value::Object(object).to_string()
        }
        _ => reply.body.clone(),
    };
    (
        reply.status,
        reply.header("Content-Type").map(str::to_string),
        body,
    )
}

/// Every route of every table reaches a handler: none answers what the router answers for
/// a path it does not know.
#[test]
fn every_route_in_every_table_reaches_its_handler() {
    let server = Server::start();
    for flavour in flavours::ALL {
        let base = format!("{}{}", server.url(), flavour.prefix());
        let unrouted = comparable(&call(
            "GET",
            &format!("{base}/no/such/route/anywhere"),
            &[],
            None,
        ));
        assert_eq!(unrouted.0, 404, "{}", flavour.name());
        let operations = flavour.operations();
        assert!(operations.len() > 1, "{} has routes", flavour.name());
        for (method, template) in operations {
            let path: Vec<String> = template
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "1".to_string()
                    } else {
                        segment.to_string()
                    }
                })
                .collect();
            let url = format!("{base}{}", path.join("/"));
            let reply = call(method, &url, &[], None);
            assert_ne!(
                comparable(&reply),
                unrouted,
                "{} {method} {template} is listed but answered as unrouted",
                flavour.name()
            );
        }
    }
}

/// The keys of an OpenAPI path item that are operations.
const HTTP_METHODS: [&str; 8] = [
    "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE",
];

/// Every operation a flavour's OpenAPI document lists is in its route table, and the other
/// way round.
#[test]
fn every_documented_operation_is_in_a_table() {
    for flavour in flavours::ALL {
        let doc: Value = serde_json::from_str(flavour.openapi()).expect("a JSON document");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                let method = method.to_uppercase();
                if HTTP_METHODS.contains(&method.as_str()) {
                    documented.insert((method, path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = flavour
            .operations()
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented, routed, "{}", flavour.name());
    }
}

/// Invites `to` as the demo MX processor; the newest link mailed to `to`, without the
/// server's own address (which differs per server).
fn invite(server: &Server, to: &str) -> String {
    let body = format!(
        r#"{{"client": {{"company_name": "MX", "email": "{to}", "first_name": "Ana", "last_name": "Li"}}}}"#
    );
    let reply = call(
        "POST",
        &format!("{}/mx/clients", server.url()),
        &[
            ("Accept", MX_ACCEPT),
            ("Authorization", MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let link = server.links_to(to).pop().expect("an invitation link");
    link.trim_start_matches(server.url()).to_string()
}

fn client_ids(server: &Server) -> Vec<String> {
    server
        .app()
        .store
        .read(|c| {
            let mut stmt = c.prepare("SELECT id FROM mx_clients ORDER BY created_at, id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<clientele::db::Result<Vec<String>>>()
        })
        .expect("reading the clients")
}

fn deterministic(seed: u64) -> Server {
    Server::with_config(Config {
        demo: true,
        deterministic: Some(seed),
        ..Config::default()
    })
    .expect("starting a deterministic server")
}

/// Two servers in one process, one deterministic and one not: each has its own ids, tokens
/// and data, and resetting one does not restart the other's sequence.
#[test]
fn in_process_servers_keep_their_ids_tokens_and_data_apart() {
    let seeded = deterministic(42);
    let random = Server::start();

    let seeded_first = invite(&seeded, "a@example.com");
    let random_first = invite(&random, "b@example.com");
    assert_ne!(seeded_first, random_first);
    // Data: each server has only its own client and mail.
    assert_eq!(client_ids(&seeded).len(), 1);
    assert_eq!(client_ids(&random).len(), 1);
    assert_ne!(client_ids(&seeded), client_ids(&random));
    assert!(seeded.links_to("b@example.com").is_empty());
    assert!(random.links_to("a@example.com").is_empty());

    // The random server's draws and reset leave the seeded server's sequence alone: it goes
    // on exactly as a second seeded server that nobody disturbed.
    random.reset();
    let _ = invite(&random, "c@example.com");
    let seeded_second = invite(&seeded, "d@example.com");
    let witness = deterministic(42);
    assert_eq!(invite(&witness, "a@example.com"), seeded_first);
    assert_eq!(invite(&witness, "d@example.com"), seeded_second);
    assert_eq!(client_ids(&witness), client_ids(&seeded));

    // Resetting the seeded server starts its own sequence over, and nobody else's.
    let random_before = client_ids(&random);
    seeded.reset();
    assert_eq!(invite(&seeded, "a@example.com"), seeded_first);
    assert_eq!(client_ids(&random), random_before);
    assert_ne!(invite(&random, "e@example.com"), seeded_first);
}

/// A request on a connection kept open across a shutdown is answered 503, not left waiting.
#[test]
fn a_request_arriving_during_shutdown_is_answered_503() {
    use std::io::{Read, Write};
    let server = Server::start();
    let addr = server.url().trim_start_matches("http://").to_string();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let status_of = |socket: &mut std::net::TcpStream| {
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        socket.read_exact(&mut body).unwrap();
        head.split(' ').nth(1).unwrap_or("none").to_string()
    };
    assert_eq!(status_of(&mut socket), "200");
    drop(server);
    assert_eq!(status_of(&mut socket), "503");
}

/// The console's sign-in of one server: its session cookie.
fn console_session(server: &Server) -> String {
    let form = call("GET", &format!("{}/_admin/", server.url()), &[], None);
    let double = crate::support::set_cookie(&form, "clientele_console_csrf").expect("a cookie");
    let needle = "name=\"csrf\" value=\"";
    let at = form.body.find(needle).expect("a CSRF field") + needle.len();
    let csrf = &form.body[at..at + form.body[at..].find('"').expect("a quote")];
    let signed = call(
        "POST",
        &format!("{}/_admin/console/signin", server.url()),
        &[
            ("Cookie", double.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(format!("csrf={csrf}&token={}", clientele::testing::ADMIN_TOKEN).as_bytes()),
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    crate::support::set_cookie(&signed, "clientele_console").expect("a session cookie")
}

/// Two servers in one process with one admin token: a console session of one does not open
/// the other's console.
#[test]
fn in_process_servers_keep_their_console_sessions_apart() {
    let (one, other) = (Server::start(), Server::start());
    let cookie = console_session(&one);
    let outbox = |server: &Server| {
        let url = format!("{}/_admin/console/outbox", server.url());
        call("GET", &url, &[("Cookie", cookie.as_str())], None).status
    };
    assert_eq!(outbox(&one), 200);
    assert_eq!(
        outbox(&other),
        303,
        "the other server sends the browser to sign in"
    );
}

/// The text of every `.rs` file under `src/<dir>` (or the one file `src/<dir>.rs`), by path.
fn sources(dir: &str) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut pending = vec![root.join(dir), root.join(format!("{dir}.rs"))];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a readable folder") {
                pending.push(entry.expect("an entry").path());
            }
        } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a readable file");
            found.push((path.display().to_string(), text));
        }
    }
    found
}

/// HTML is written with templates that escape what they are given: only `markup.rs` turns a
/// string into markup as it is, and the console writes neither HTML by hand nor SQL (both
/// are the templates' and the admin operations').
#[test]
fn markup_is_trusted_in_one_place_and_the_console_has_no_sql_or_hand_written_html() {
    for (path, text) in sources("") {
        if !path.ends_with("src/markup.rs") {
            assert!(
                !text.contains("PreEscaped"),
                "{path} makes markup of a string"
            );
        }
    }
    let console = sources("console");
    assert!(console.len() > 3);
    for (path, text) in console {
        for sql in ["SELECT ", "UPDATE ", "DELETE FROM", "INSERT ", "prepare"] {
            assert!(!text.contains(sql), "{path} has SQL ({sql})");
        }
        for html in ["format!(\"<", "\"<form", "\"<p", "\"<a ", "escape_html"] {
            assert!(!text.contains(html), "{path} writes HTML by hand ({html})");
        }
    }
}

/// No function of the admin side, the mail or the server's dispatch is over 80 lines: each
/// parses, acts or renders.
#[test]
fn admin_console_mail_and_server_functions_are_short() {
    let mut files = Vec::new();
    for dir in [
        "admin",
        "admin_api",
        "console",
        "mail",
        "server",
        "startup",
        "record",
        "tls",
    ] {
        files.extend(sources(dir));
    }
    for (path, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn || trimmed.ends_with(';') {
                continue;
            }
            // The function ends at the first `}` as indented as its `fn`.
            let closing = format!("{}}}", &line[..line.len() - trimmed.len()]);
            let end = lines[start..]
                .iter()
                .position(|l| l.trim_end() == closing)
                .map_or(0, |n| n + 1);
            assert!(end <= 80, "{path}:{}: {trimmed} is {end} lines", start + 1);
        }
    }
}

/// The top-level module a file under `src/` belongs to: `src/x.rs` and everything under
/// `src/x/` are `x`.
fn module_of(path: &str) -> String {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = std::path::Path::new(path)
        .strip_prefix(&src)
        .expect("a file under src/");
    let first = relative.components().next().expect("a file name");
    let first = first.as_os_str().to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The text of a source file without its comments (a doc comment may name a path it does
/// not import).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The leading identifier of `text`.
fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first name of every item of a `use crate::{...}` group, `rest` starting after its `{`.
fn grouped_names(rest: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let (mut depth, mut at_item) = (1, true);
    for (at, c) in rest.char_indices() {
        if at_item && !c.is_whitespace() {
            names.push(identifier(&rest[at..]));
            at_item = false;
        }
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => break,
            '}' => depth -= 1,
            ',' if depth == 1 => at_item = true,
            _ => {}
        }
    }
    names
}

/// Every name a file reaches through `crate::` (`use crate::x`, `crate::x::y`,
/// `use crate::{x, y::z}`, `crate::params!`).
fn crate_paths(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => names.extend(grouped_names(group)),
            None => names.push(identifier(rest)),
        }
    }
    names
}

/// The import graph of `src/`: for each top-level module, the other top-level modules it
/// names through `crate::` (an exported macro counts as the module that defines it).
fn import_graph() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(String, String)> = sources("")
        .into_iter()
        .map(|(path, text)| (module_of(&path), without_comments(&text)))
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut macros = std::collections::BTreeMap::new();
    for (module, text) in &files {
        for (at, _) in text.match_indices("#[macro_export]") {
            if let Some(rest) = text[at..].split_once("macro_rules!") {
                macros.insert(identifier(rest.1.trim_start()).to_string(), module.clone());
            }
        }
    }
    let mut graph: std::collections::BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (module, text) in &files {
        for name in crate_paths(text) {
            let target = match macros.get(name) {
                Some(defining) => defining.clone(),
                None if modules.contains(name) => name.to_string(),
                None => continue,
            };
            if &target != module {
                graph.get_mut(module).expect("a module").insert(target);
            }
        }
    }
    graph
}

/// A circle of imports in `graph` through `from`, if any: `from`, the modules on the way,
/// and `from` again.
fn circle_through(
    graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
    from: &str,
) -> Option<Vec<String>> {
    // Breadth-first, so the circle found is a shortest one.
    let mut came_from = std::collections::BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from.to_string()]);
    while let Some(module) = queue.pop_front() {
        for next in &graph[&module] {
            if next == from {
                // Back from `module` to `from` (the one module `came_from` does not hold).
                let mut circle = vec![module.clone()];
                while let Some(previous) = came_from.get(circle.last().expect("a module")) {
                    circle.push(String::clone(previous));
                }
                circle.reverse();
                circle.push(from.to_string());
                return Some(circle);
            }
            if !came_from.contains_key(next) && next != from {
                came_from.insert(next.clone(), module.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

/// No two modules of `src/` import each other, directly or through others: imports go one
/// way, so each module can be read (and changed) knowing only the ones below it.
#[test]
fn no_two_modules_import_each_other() {
    let graph = import_graph();
    assert!(graph.len() > 20, "the modules of src/: {graph:?}");
    assert_eq!(
        crate_paths("use crate::{a, b::{c, d}};\nuse crate::e;\ncrate::f::g(); crate::params![]"),
        ["a", "b", "e", "f", "params"]
    );
    assert!(graph["server"].contains("startup") && graph["journal"].contains("clock"));
    let mut circles: Vec<Vec<String>> = Vec::new();
    for module in graph.keys() {
        let Some(circle) = circle_through(&graph, module) else {
            continue;
        };
        // One circle is found once per module on it: keep the first.
        let members: BTreeSet<&String> = circle.iter().collect();
        if !circles
            .iter()
            .any(|c| c.iter().collect::<BTreeSet<_>>() == members)
        {
            circles.push(circle);
        }
    }
    let shown: Vec<String> = circles.iter().map(|c| c.join(" → ")).collect();
    assert!(shown.is_empty(), "import circles:\n{}", shown.join("\n"));
}
