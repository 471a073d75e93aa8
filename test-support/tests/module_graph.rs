//! No module of any crate imports a module that imports it back.
//!
//! Reads every crate's `src/`, takes each file as a module, and draws an
//! edge for every path it uses into another module of its crate (`use`
//! trees, `crate::`/`super::`/`self::` paths, `child::` paths to declared
//! submodules), resolved to the longest module prefix that is a file.
//! Declaring a submodule (`mod x;`) is not an edge; test modules
//! (`#[cfg(test)] mod ... { }`) are left out. Then it looks for strongly
//! connected components: any with two or more files is a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Source roots of the workspace's crates, relative to the workspace root.
const CRATES: &[&str] = &["api/src", "api/types/src", "agent/src", "router/src", "cli/src", "test-support/src"];

type Module = Vec<String>;

#[test]
fn no_crate_has_an_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let mut cycles = Vec::new();
    for krate in CRATES {
        let modules = modules(&root.join(krate));
        assert!(modules.len() > 2, "{krate}: found only {} modules", modules.len());
        let graph: BTreeMap<Module, BTreeSet<Module>> = modules
            .iter()
            .map(|(module, path)| {
                let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (module.clone(), references(&without_tests(&strip(&source)), module, &modules))
            })
            .collect();
        for component in strongly_connected(&graph) {
            if component.len() > 1 {
                let names: Vec<String> = component.iter().map(display).collect();
                cycles.push(format!("{krate}: {}", names.join(", ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle() {
    let modules: BTreeMap<Module, PathBuf> =
        [(vec![], "lib.rs"), (vec!["a".to_string()], "a.rs"), (vec!["b".to_string()], "b.rs")]
            .into_iter()
            .map(|(m, p)| (m, PathBuf::from(p)))
            .collect();
    let a = references(&without_tests(&strip("use crate::b::Thing; // crate::lib")), &vec!["a".into()], &modules);
    let b = references(&strip("fn f() { super::a::go(\"crate::b\") }"), &vec!["b".into()], &modules);
    let graph = BTreeMap::from([(vec![], BTreeSet::new()), (vec!["a".into()], a), (vec!["b".into()], b)]);
    let cycles: Vec<_> = strongly_connected(&graph).into_iter().filter(|c| c.len() > 1).collect();
    assert_eq!(cycles.len(), 1, "a -> b -> a is one cycle: {graph:?}");
    let tests_only = references(&without_tests(&strip("#[cfg(test)]\nmod tests { use crate::b; }")), &vec![], &modules);
    assert!(tests_only.is_empty(), "test modules are not edges: {tests_only:?}");
}

fn display(module: &Module) -> String {
    if module.is_empty() {
        "lib".into()
    } else {
        module.join("::")
    }
}

/// Every `.rs` file under `src` as a module path (`lib.rs` and `main.rs` are the root).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(src) else { continue };
            let Some(text) = relative.to_str().and_then(|r| r.strip_suffix(".rs")) else { continue };
            let mut parts: Vec<String> = text.split('/').map(str::to_string).collect();
            match parts.as_slice() {
                [only] if only == "lib" => parts.clear(),
                // The binary is its own crate root; it only uses the library.
                [only] if only == "main" => continue,
                [.., last] if last == "mod" => {
                    parts.pop();
                }
                _ => {}
            }
            found.insert(parts, path);
        }
    }
    found
}

/// The source without comments, string and char literals (so their text
/// is never mistaken for paths).
fn strip(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(len) = raw_string_len(rest) {
            out.push_str("\"\"");
            i += len;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if let Some(len) = char_literal_len(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Length of a raw string literal (`r"..."`, `r#"..."#`) at the start of `text`.
fn raw_string_len(text: &str) -> Option<usize> {
    let after_r = text.strip_prefix('r').or_else(|| text.strip_prefix("br"))?;
    let hashes = after_r.bytes().take_while(|b| *b == b'#').count();
    if !after_r[hashes..].starts_with('"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let body_start = text.len() - after_r.len() + hashes + 1;
    text[body_start..].find(&close).map(|end| body_start + end + close.len())
}

/// Length of a char literal (`'x'`, `'\n'`, `'\u{85}'`) at the start of `text`; not lifetimes.
fn char_literal_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix('\'')?;
    if let Some(escape) = body.strip_prefix('\\') {
        let close = escape.find('\'')?;
        return Some(close + 3);
    }
    let c = body.chars().next()?;
    body[c.len_utf8()..].starts_with('\'').then(|| c.len_utf8() + 2)
}

/// The source without `#[cfg(test)]` items (inline test modules, test functions).
fn without_tests(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        // The item ends at its `;` or at the brace closing its first `{`.
        let end = match (item.find('{'), item.find(';')) {
            (Some(open), semi) if semi.is_none_or(|s| open < s) => {
                let mut depth = 0usize;
                let mut end = item.len();
                for (offset, b) in item.bytes().enumerate().skip(open) {
                    match b {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = offset + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (_, Some(semi)) => semi + 1,
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The other modules `module`'s source refers to.
fn references(source: &str, module: &Module, modules: &BTreeMap<Module, PathBuf>) -> BTreeSet<Module> {
    let mut paths = Vec::new();
    let mut rest = source;
    while let Some(at) = find_word(rest, "use") {
        let tree = &rest[at + 3..];
        let end = tree.find(';').unwrap_or(tree.len());
        paths.extend(expand(tree[..end].trim()));
        rest = &tree[end..];
    }
    paths.extend(path_expressions(source));
    let mut found = BTreeSet::new();
    for path in paths {
        if let Some(target) = resolve(&path, module, modules) {
            if &target != module {
                found.insert(target);
            }
        }
    }
    found
}

/// Where `word` starts as a whole word in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(offset) = text[from..].find(word) {
        let at = from + offset;
        let before = at.checked_sub(1).map(|i| text.as_bytes()[i]);
        let after = text.as_bytes().get(at + word.len()).copied();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// `a::{b, c::{d, e as f}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default().trim();
        return vec![path.to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, b) in inner.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    let mut out = Vec::new();
    for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
        for path in expand(item) {
            out.push(if path == "self" {
                prefix.trim_end_matches("::").to_string()
            } else {
                format!("{prefix}{path}")
            });
        }
    }
    out
}

/// Paths written in code: `crate::x::y`, `super::x`, `self::x`, `child::x`.
fn path_expressions(source: &str) -> Vec<String> {
    let bytes = source.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = is_ident(bytes[i]) && (i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == b':'));
        if !starts_word {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && (is_ident(bytes[j]) || (bytes[j] == b':' && bytes.get(j + 1) == Some(&b':'))) {
            j += if bytes[j] == b':' { 2 } else { 1 };
        }
        let path = source[i..j].trim_end_matches("::");
        if path.contains("::") {
            out.push(path.to_string());
        }
        i = j.max(i + 1);
    }
    out
}

/// The module file a path lands in, if it is one of this crate's.
fn resolve(path: &str, module: &Module, modules: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let mut parts: Vec<&str> = path.split("::").map(str::trim).filter(|p| !p.is_empty()).collect();
    let mut full: Module = match parts.first().copied()? {
        "crate" => {
            parts.remove(0);
            Vec::new()
        }
        "super" => {
            let mut base = module.clone();
            while parts.first() == Some(&"super") {
                parts.remove(0);
                base.pop();
            }
            base
        }
        "self" => {
            parts.remove(0);
            module.clone()
        }
        first => {
            let mut child = module.clone();
            child.push(first.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
            module.clone()
        }
    };
    full.extend(parts.iter().map(|p| p.to_string()));
    (0..=full.len()).rev().map(|n| full[..n].to_vec()).find(|prefix| modules.contains_key(prefix))
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        components: Vec<Vec<Module>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let Some((w, _)) = self.graph.get_key_value(w) else { continue };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.components
}
