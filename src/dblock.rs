//! One server per database file. Two processes on one file would both serve it and both
//! send its outbox, so the store takes an exclusive advisory lock (`flock`) on `<db>.lock`
//! for as long as it is open, and writes its pid there for the message of the one refused.
//! The operating system releases the lock when the process ends, however it ends; the file
//! itself stays, empty of meaning until the next start.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// The lock file of a database path: `<db>.lock` beside the file itself, so that a
/// symbolic link to the database, or another spelling of its path, finds the same lock.
/// A file not made yet is found through its folder's real path.
pub fn lock_path(db: &str) -> String {
    let path = std::path::Path::new(db);
    let real = std::fs::canonicalize(path).ok().or_else(|| {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        Some(std::fs::canonicalize(folder).ok()?.join(path.file_name()?))
    });
    match real {
        Some(real) => format!("{}.lock", real.display()),
        None => format!("{db}.lock"),
    }
}

/// Takes the lock of the database at `db`, or says who holds it. `":memory:"` (and `""`,
/// SQLite's private temporary database) need none.
pub fn acquire(db: &str) -> Result<Option<DbLock>, String> {
    if db == ":memory:" || db.is_empty() {
        return Ok(None);
    }
    let path = lock_path(db);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot create its lock file {path}: {e}"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = holder
                .trim()
                .parse::<u32>()
                .map_or(String::new(), |pid| format!(" (pid {pid})"));
            return Err(format!(
                "another clientele{pid} is serving it: it holds the lock on {path}; \
                 one database file serves one process"
            ));
        }
        Err(TryLockError::Error(e)) => return Err(format!("cannot lock {path}: {e}")),
    }
    // Ours now: say whose it is (best effort; the lock itself is what counts).
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(Some(DbLock { _file: file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_file_is_refused_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("clientele-dblock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db").display().to_string();
        let first = acquire(&db).unwrap().expect("a file database is locked");
        let refused = acquire(&db).unwrap_err();
        assert!(refused.contains(&lock_path(&db)), "{refused}");
        assert!(
            refused.contains(&format!("pid {}", std::process::id())),
            "{refused}"
        );
        // Another name of the same file (a symbolic link) finds the same lock.
        let link = dir.join("link.db");
        let _ = std::fs::remove_file(&link);
        std::fs::write(&db, b"").unwrap();
        std::os::unix::fs::symlink(&db, &link).unwrap();
        let refused = acquire(&link.display().to_string()).unwrap_err();
        assert!(refused.contains("another clientele"), "{refused}");
        drop(first);
        assert!(acquire(&db).unwrap().is_some());
        assert!(acquire(":memory:").unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
