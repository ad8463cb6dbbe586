//! The executor's layering, as listed under "Layers" in `src/lib.rs`'s crate docs: every file
//! of `src/` is in the list, and each uses (`crate::` paths) only the layers below its own, or
//! its own layer if that layer is marked "one unit". Names that are no module (crate-root
//! items such as `crate::spawn`) count as the "one unit" layer.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A layer's position (1 = bottom) and whether its files may use each other.
#[derive(Clone, Copy, Debug)]
struct Layer {
    number: usize,
    one_unit: bool,
}

/// Module name → layer, from the numbered items under `# Layers` in the crate docs.
fn layers_from_docs(lib: &str) -> BTreeMap<String, Layer> {
    let docs: Vec<&str> = lib
        .lines()
        .map_while(|line| line.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let start = docs
        .iter()
        .position(|line| *line == "# Layers")
        .expect("src/lib.rs's crate docs have no `# Layers` section");
    // Each numbered item with its continuation lines.
    let mut items: Vec<(usize, String)> = Vec::new();
    for line in &docs[start + 1..] {
        if line.starts_with('#') {
            break;
        }
        let numbered = line
            .split_once(". ")
            .and_then(|(number, rest)| Some((number.parse::<usize>().ok()?, rest)));
        match numbered {
            Some((number, rest)) => items.push((number, rest.to_owned())),
            None if line.is_empty() => {}
            None => {
                if let Some((_, text)) = items.last_mut() {
                    text.push(' ');
                    text.push_str(line);
                }
            }
        }
    }
    let mut layers = BTreeMap::new();
    for (number, text) in items {
        let layer = Layer {
            number,
            one_unit: text.to_lowercase().contains("one unit"),
        };
        for (i, quoted) in text.split('`').enumerate() {
            // Odd pieces are inside backquotes: `worker.rs`, `task/`.
            if i % 2 == 0 || quoted == "lib.rs" {
                continue;
            }
            let module = quoted.strip_suffix(".rs").or_else(|| quoted.strip_suffix('/'));
            if let Some(module) = module.filter(|m| m.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
                let previous = layers.insert(module.to_owned(), layer);
                assert!(previous.is_none(), "`{quoted}` is listed twice under Layers");
            }
        }
    }
    layers
}

/// The modules named by `crate::` paths in the code (comments left out) of `source`.
fn crate_paths(source: &str) -> Vec<String> {
    let mut modules = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + "crate::".len()..];
            if !before.is_some_and(|c| c == '$' || c == '_' || c.is_ascii_alphanumeric()) {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    modules.push(name);
                }
            }
            rest = after;
        }
    }
    modules
}

/// Every `.rs` file under `src/` but the crate root and the test-only models, with the module
/// it belongs to (a directory's files all belong to the directory's module).
fn source_files(src: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for entry in fs::read_dir(src).expect("cannot read src/") {
        let path = entry.expect("cannot read src/").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for inner in fs::read_dir(&path).expect("cannot read a directory of src/") {
                let inner = inner.expect("cannot read a directory of src/").path();
                if inner.extension().is_some_and(|ext| ext == "rs") {
                    files.push((name.clone(), inner));
                }
            }
        } else if let Some(module) = name.strip_suffix(".rs") {
            if module != "lib" && module != "models" {
                files.push((module.to_owned(), path));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_file_uses_only_the_layers_below_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("cannot read src/lib.rs");
    let layers = layers_from_docs(&lib);
    let unit = layers
        .values()
        .find(|layer| layer.one_unit)
        .copied()
        .expect("no layer under Layers is marked `one unit`");
    let mut problems = Vec::new();
    let files = source_files(&src);
    for (module, path) in &files {
        let shown = path.strip_prefix(&src).unwrap().display();
        let Some(own) = layers.get(module) else {
            problems.push(format!(
                "{shown} is not under Layers in src/lib.rs: add it to the layer it belongs to"
            ));
            continue;
        };
        let source = fs::read_to_string(path).expect("cannot read a source file");
        for used in crate_paths(&source) {
            if &used == module {
                continue;
            }
            let theirs = layers.get(&used).copied().unwrap_or(unit);
            let allowed = theirs.number < own.number || (theirs.number == own.number && own.one_unit);
            if !allowed {
                problems.push(format!(
                    "{shown} (layer {}) uses crate::{used} (layer {}): move what it needs down, \
                     or the file up, and update Layers in src/lib.rs",
                    own.number, theirs.number
                ));
            }
        }
    }
    for module in layers.keys() {
        if !files.iter().any(|(m, _)| m == module) {
            problems.push(format!(
                "Layers in src/lib.rs lists `{module}`, which src/ does not have"
            ));
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
}

#[test]
fn the_checks_see_what_they_should() {
    let lib = "//! # Layers\n//! 1. `a.rs`, `b/`.\n//! 2. One unit:\n//!    `c.rs`, `lib.rs`.\n//!\n//! # Next\n//! 3. `d.rs`\n";
    let layers = layers_from_docs(lib);
    let numbers: Vec<_> = layers
        .iter()
        .map(|(m, l)| (m.as_str(), l.number, l.one_unit))
        .collect();
    assert_eq!(numbers, [("a", 1, false), ("b", 1, false), ("c", 2, true)]);
    let source = "use crate::sync::Mutex;\n// crate::comment\n$crate::macro_path();\nlet x = crate::spawn(f); pub(crate) fn f() {}\n";
    assert_eq!(crate_paths(source), ["sync", "spawn"]);
}
