//! The crate's module layering, checked from the sources: every `crate::` path in `src/**.rs`
//! (in `use` items and inline, test modules included) must point down the layers, never up or
//! sideways, and never through a re-export other than the defining module's own facade.
//!
//! ```text
//! lib.rs -> producer -> {serializer, partitioner, accumulator, metadata, sender, config, topic,
//!                        interceptor, record_producer}
//! lib.rs -> mock -> {record_producer, serializer, partitioner, topic, future}
//! sender -> {accumulator, metadata, net, partitioner (load statistics)}    net -> protocol
//! accumulator -> protocol::record_batch         protocol::record_batch -> compression
//! config -> {partitioner, compression, net::tls}
//! metadata -> protocol                          protocol -> nothing of ours
//! shared leaves, for everything above protocol: future -> {record, error},
//!                                               error -> protocol::error_code
//! ```
//!
//! A module may import anything reachable down these edges (the transitive closure), and
//! anything inside its own top-level module. Importing a crate-root re-export (`crate::Item`)
//! is refused; so is importing an item through another module's re-export
//! (`crate::accumulator::BatchAck`, defined in `future`): name the defining module. A
//! module's own facade (`crate::protocol::ErrorCode` for `protocol::error_code::ErrorCode`)
//! is fine.
//!
//! Every violation fails the test. (`super::` paths are not followed: they stay inside the
//! module that writes them.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Direct edges: module (or module-path prefix) -> modules it may import.
const EDGES: &[(&str, &[&str])] = &[
    (
        "producer",
        &[
            "serializer",
            "partitioner",
            "accumulator",
            "metadata",
            "sender",
            "net",
            "backoff",
            "config",
            "topic",
            "future",
            "record",
            "error",
            "hash",
            "send_cache",
            "interceptor",
            "record_producer",
            "metrics",
        ],
    ),
    (
        "mock",
        &[
            "record_producer",
            "metrics",
            "future",
            "partitioner",
            "serializer",
            "topic",
            "record",
            "error",
        ],
    ),
    ("interceptor", &["future", "record", "error"]),
    ("record_producer", &["future", "record", "error", "metrics"]),
    ("send_cache", &["accumulator", "metadata", "partitioner"]),
    (
        "config",
        &[
            "partitioner",
            "compression",
            "net::tls",
            "net::sasl",
            "error",
            "readme_section",
        ],
    ),
    (
        "sender",
        &[
            "metrics",
            "accumulator",
            "metadata",
            "net",
            "partitioner",
            "future",
            "record",
            "error",
            "hash",
        ],
    ),
    ("net", &["protocol", "backoff"]),
    ("metrics", &["accumulator", "net", "readme_section"]),
    (
        "accumulator",
        &[
            "protocol::record_batch",
            "backoff",
            "future",
            "record",
            "error",
            "hash",
        ],
    ),
    (
        "metadata",
        &["protocol", "record", "error", "hash", "reachability"],
    ),
    ("reachability", &[]),
    ("readme_section", &[]),
    ("protocol::record_batch", &["compression"]),
    ("protocol", &[]),
    ("compression", &[]),
    ("backoff", &[]),
    ("hash", &[]),
    ("future", &["record", "error"]),
    ("error", &["protocol::error_code"]),
    ("record", &[]),
    ("topic", &["error"]),
    ("serializer", &["error"]),
    ("partitioner", &["error", "hash"]),
];

fn is_prefix(prefix: &str, path: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && path[prefix.len()..].starts_with("::"))
}

fn top(path: &str) -> &str {
    path.split("::").next().unwrap_or("")
}

/// Direct edges of a module: those of every table entry that is a prefix of it.
fn direct(module: &str) -> Vec<&'static str> {
    EDGES
        .iter()
        .filter(|(m, _)| is_prefix(m, module))
        .flat_map(|(_, to)| to.iter().copied())
        .collect()
}

/// Everything `module` may import (module paths; each allows its submodules).
fn allowed(module: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = direct(module).into_iter().map(String::from).collect();
    while let Some(m) = todo.pop() {
        if seen.insert(m.clone()) {
            todo.extend(direct(&m).into_iter().map(String::from));
        }
    }
    seen
}

fn may_import(from: &str, to: &str) -> bool {
    from.is_empty() || top(from) == top(to) || allowed(from).iter().any(|a| is_prefix(a, to))
}

/// Source text with comments, strings and char literals blanked (line structure kept).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(b[i - 1].is_alphanumeric() || b[i - 1] == '_'))
        {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..b.len()).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &b[i..=e] {
                        out.push(blank(ch));
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Parses a path tree at `s[i..]` (after `crate::`): `a::b::{c, d::{e, self}}` into leaf paths.
fn parse_tree(s: &[char], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    let mut path = prefix;
    loop {
        skip_ws(i);
        if *i < s.len() && s[*i] == '{' {
            *i += 1;
            loop {
                skip_ws(i);
                if *i >= s.len() || s[*i] == '}' {
                    *i += 1;
                    break;
                }
                parse_tree(s, i, path.clone(), out);
                skip_ws(i);
                if *i < s.len() && s[*i] == ',' {
                    *i += 1;
                }
            }
            return;
        }
        let start = *i;
        while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_' || s[*i] == '*') {
            *i += 1;
        }
        let seg: String = s[start..*i].iter().collect();
        if seg.is_empty() {
            out.push(path);
            return;
        }
        if seg != "self" {
            path.push(seg);
        }
        if s.get(*i) == Some(&':') && s.get(*i + 1) == Some(&':') {
            *i += 2;
            continue;
        }
        // Skip an `as alias`.
        skip_ws(i);
        if s.get(*i) == Some(&'a') && s.get(*i + 1) == Some(&'s') && s.get(*i + 2) == Some(&' ') {
            *i += 3;
            skip_ws(i);
            while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_') {
                *i += 1;
            }
        }
        out.push(path);
        return;
    }
}

/// Every `crate::` (or `$crate::`) path in stripped source, with its 1-based line.
fn crate_paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let s: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    let pat: Vec<char> = "crate::".chars().collect();
    while i + pat.len() <= s.len() {
        let word_start = i == 0 || !(s[i - 1].is_alphanumeric() || s[i - 1] == '_');
        if word_start && s[i..i + pat.len()] == pat[..] {
            let line = s[..i].iter().filter(|&&c| c == '\n').count() + 1;
            let mut j = i + pat.len();
            let mut leaves = Vec::new();
            parse_tree(&s, &mut j, Vec::new(), &mut leaves);
            found.extend(leaves.into_iter().map(|p| (line, p)));
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

/// `pub use` / `pub(crate) use` items of one module: name -> leaf path (as written).
fn pub_uses(code: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for stmt in code.split(';') {
        let t = stmt.trim_start();
        let rest = ["pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|p| t.strip_prefix(p));
        let Some(rest) = rest else { continue };
        let s: Vec<char> = rest.chars().collect();
        let mut leaves = Vec::new();
        parse_tree(&s, &mut 0, Vec::new(), &mut leaves);
        for l in leaves {
            if let Some(name) = l.last() {
                out.push((name.clone(), l));
            }
        }
    }
    out
}

struct Crate {
    /// Module path ("" for the root) -> stripped source.
    modules: BTreeMap<String, (String, String)>,
    /// Module -> re-exported name -> defining module.
    reexports: BTreeMap<String, BTreeMap<String, String>>,
}

impl Crate {
    fn is_module(&self, m: &str) -> bool {
        self.modules.contains_key(m)
    }

    fn join(a: &str, b: &str) -> String {
        if a.is_empty() {
            b.to_string()
        } else {
            format!("{a}::{b}")
        }
    }

    /// Resolves an absolute path (after `crate::`) to (module it names or whose item it names,
    /// the module whose re-export it went through, if any).
    fn resolve(&self, path: &[String]) -> (String, Option<String>) {
        let mut cur = String::new();
        for seg in path {
            let child = Self::join(&cur, seg);
            if self.is_module(&child) {
                cur = child;
                continue;
            }
            if let Some(def) = self.reexports.get(&cur).and_then(|r| r.get(seg)) {
                return (def.clone(), Some(cur));
            }
            break;
        }
        (cur, None)
    }

    /// Resolves a `pub use` path written in `module` to an absolute path, if it is ours.
    fn absolute(&self, module: &str, path: &[String]) -> Option<Vec<String>> {
        let mut base: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(String::from).collect()
        };
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            Some(first) => {
                if !self.is_module(&Self::join(module, first)) {
                    return None; // another crate, or a macro
                }
            }
            None => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }
}

fn load(dir: &Path, files: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            load(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

#[test]
fn imports_follow_the_layers() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = manifest.join("src");
    let mut files = Vec::new();
    load(&src, &mut files);
    files.sort();
    let mut krate = Crate {
        modules: BTreeMap::new(),
        reexports: BTreeMap::new(),
    };
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let code = strip(&fs::read_to_string(f).unwrap());
        let shown = format!("src/{}", rel.display());
        krate.modules.insert(module_of(rel), (shown, code));
    }
    let mut reexports = BTreeMap::new();
    for (m, (_, code)) in &krate.modules {
        let mut map = BTreeMap::new();
        for (name, path) in pub_uses(code) {
            if let Some(abs) = krate.absolute(m, &path) {
                let (def, _) = krate.resolve(&abs);
                map.insert(name, def);
            }
        }
        reexports.insert(m.clone(), map);
    }
    krate.reexports = reexports;
    // A second pass resolves re-exports of re-exports.
    let snapshot = krate.reexports.clone();
    for (m, map) in snapshot {
        for (name, def) in map {
            if let Some(def2) = krate
                .reexports
                .get(&def)
                .and_then(|r| r.get(&name))
                .cloned()
            {
                krate.reexports.get_mut(&m).unwrap().insert(name, def2);
            }
        }
    }

    let mut failures = Vec::new();
    for (module, (shown, code)) in &krate.modules {
        for (line, path) in crate_paths(code) {
            let (target, via) = krate.resolve(&path);
            let what = format!("{shown}:{line}: `crate::{}`", path.join("::"));
            let problem = if !module.is_empty() && via.as_deref() == Some("") {
                Some(format!(
                    "imports a crate-root re-export; the item is defined in `{target}`"
                ))
            } else if via
                .as_deref()
                .is_some_and(|v| !module.is_empty() && !is_prefix(v, &target))
            {
                Some(format!(
                    "imports through `{}`'s re-export; the item is defined in `{target}`",
                    via.unwrap()
                ))
            } else if !may_import(module, &target) {
                Some(format!(
                    "`{}` may not import `{target}` (up or sideways in the layers)",
                    if module.is_empty() { "lib.rs" } else { module }
                ))
            } else {
                None
            };
            if let Some(p) = problem {
                let msg = format!("{what} {p}");
                failures.push(msg);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "imports against the layering:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_checker_sees_paths() {
    let code = strip(
        "use crate::a::{b::{self, C}, d as e};\n// crate::x::y\nlet s = \"crate::z\";\n\
         fn f() { crate::m::g(); let c = '\"'; $crate::p::q }\n",
    );
    let paths: Vec<String> = crate_paths(&code)
        .into_iter()
        .map(|(l, p)| format!("{l}:{}", p.join("::")))
        .collect();
    assert_eq!(paths, ["1:a::b", "1:a::b::C", "1:a::d", "4:m::g", "4:p::q"]);
    assert!(may_import("producer", "protocol::record_batch"));
    assert!(may_import("accumulator", "compression"));
    assert!(may_import("sender", "protocol::produce"));
    assert!(!may_import("accumulator", "sender"));
    assert!(!may_import("protocol::metadata", "record"));
    assert!(!may_import("protocol::metadata", "compression"));
    assert!(!may_import("net", "config"));
    assert!(!may_import("compression", "protocol::record_batch"));
}
