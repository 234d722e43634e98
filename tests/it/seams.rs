//! The seams the code is built on, checked in the source: vendor code (src/flavours/) asks
//! the store for what it needs and never branches on which database engine runs it.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("reading a source folder")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn vendor_code_never_names_a_database_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flavours");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "the flavours' sources: {files:?}");
    let engine_words = [
        "Dialect",
        "dialect()",
        "is_postgres_url",
        "Engine::",
        "rusqlite",
        "postgres::",
    ];
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        // A file's unit tests (at its end) may open a database of their own.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for word in engine_words {
                if line.contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "vendor code names an engine:\n{}",
        found.join("\n")
    );
}
