//! Checks on a crate's own source text: import circles between its modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Fails the calling test when the crate at `manifest_dir` (its `CARGO_MANIFEST_DIR`) has
/// an import circle among its modules.
pub fn assert_no_import_circles(manifest_dir: &str) {
    let circles = import_circles(&Path::new(manifest_dir).join("src"));
    assert!(circles.is_empty(), "import circles among the modules of {manifest_dir}: {circles:?}");
}

/// The import circles among the top-level modules of the crate whose sources are in `src`:
/// each circle is a set of two or more modules that reach each other through `crate::…`
/// paths (in `use` items or inline). A module is `src/x.rs` together with `src/x/**`;
/// `lib.rs` and `main.rs` are the root, which declares and re-exports, and are left out.
/// Comments are skipped, so a doc link naming a module is not an import.
pub fn import_circles(src: &Path) -> Vec<BTreeSet<String>> {
    let graph = import_graph(src);
    strongly_connected(&graph).into_iter().filter(|c| c.len() > 1).collect()
}

/// Each top-level module of `src` and the top-level modules it names through `crate::`.
pub fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("files are under src");
        let first = relative.components().next().expect("a file has a name");
        let module = first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let targets = graph.entry(module.clone()).or_default();
        for target in crate_paths(&text) {
            if target != module {
                targets.insert(target);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The first segment after every `crate::` outside comments, including each member of a
/// `use crate::{a, b::c}` group.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for member in split_top_level(&group[..end]) {
                found.extend(first_segment(member));
            }
        } else {
            found.extend(first_segment(rest));
        }
    }
    found
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A module name at the start of `s`; items of the root (`crate::Foo`, upper case) and
/// `self` are not modules of their own.
fn first_segment(s: &str) -> Option<String> {
    let s = s.trim_start();
    let name: String = s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let is_module = name.starts_with(|c: char| c.is_ascii_lowercase()) && name != "self";
    // A lower-case name directly called (`crate::helper()`) is a root function, not a module.
    let called = s[name.len()..].trim_start().starts_with('(');
    (is_module && !called).then_some(name)
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<BTreeSet<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let i = self.index.len();
            self.index.insert(node, i);
            self.low.insert(node, i);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.graph.contains_key(next) {
                    continue;
                }
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.insert(member.to_owned());
                    if member == node {
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
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.components
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_paths_cover_groups_inline_paths_and_skip_comments() {
        let text = "use crate::a::X;\nuse crate::{b, c::{D, e}};\nlet x = crate::d::f();\n// crate::g\nlet y = crate::helper();\nuse crate::Root;";
        let found: Vec<_> = crate_paths(text).into_iter().collect();
        assert_eq!(found, ["a", "b", "c", "d"]);
    }

    #[test]
    fn circles_are_the_components_with_more_than_one_module() {
        let mut graph = BTreeMap::new();
        let edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")];
        for (from, to) in edges {
            graph.entry(from.to_owned()).or_insert_with(BTreeSet::new).insert(to.to_owned());
            graph.entry(to.to_owned()).or_insert_with(BTreeSet::new);
        }
        let circles: Vec<_> = strongly_connected(&graph).into_iter().filter(|c| c.len() > 1).collect();
        assert_eq!(circles, [BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()])]);
    }
}
