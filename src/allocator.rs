//! The binary's memory allocators: mimalloc for Rust, glibc's malloc (one arena) for SQLite.
//!
//! With glibc's malloc a GET by id spent about a fifth of its samples in malloc, free and the
//! waits for their arena locks; mimalloc (per-thread heaps, no arena locks) served 20 % more
//! `/healthz` and 22 to 38 % more GETs by id on the same machine
//! (bench/results/round-four-notes.md, section 2). Only the binary chooses it: a program
//! that embeds the server keeps its own allocator.

use std::os::raw::{c_int, c_long};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's C functions (its mimalloc.h, version 3), linked in by the `mimalloc` crate.
extern "C" {
    fn mi_option_set_default(option: c_int, value: c_long);
}

/// Runs before `main`, ahead of mimalloc's own constructor (priority 101): mimalloc reads its
/// options when it starts, and the Rust runtime allocates before `main` runs.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00100"]
static BEFORE_MAIN: extern "C" fn() = before_main;

#[cfg(target_os = "linux")]
extern "C" fn before_main() {
    set_mimalloc_defaults();
    one_glibc_arena();
}

/// mimalloc's defaults commit its arena eagerly and keep freed pages for a second: 96 MiB of
/// RSS after a burst of reads that glibc's malloc served in 27 MiB. Committing on demand and
/// returning freed pages at once gave 31 MiB at the same speed. The environment
/// (`MIMALLOC_ARENA_EAGER_COMMIT`, `MIMALLOC_PURGE_DELAY`) still overrides these defaults.
fn set_mimalloc_defaults() {
    // `mi_option_e` in mimalloc.h, version 3.
    const ARENA_EAGER_COMMIT: c_int = 4;
    const PURGE_DELAY: c_int = 15;
    // SAFETY: this runs before any thread exists and before mimalloc reads its options;
    // mi_option_set_default only stores a default value and allocates nothing.
    unsafe {
        mi_option_set_default(ARENA_EAGER_COMMIT, 0);
        mi_option_set_default(PURGE_DELAY, 0);
    }
}

/// SQLite still allocates with glibc's malloc (giving it mimalloc cost GETs 4 % more CPU), and
/// glibc gives each thread that opens or uses a connection an arena of its own, which keeps
/// about a megabyte of freed page caches and lookaside buffers: 36 MiB of RSS a second after
/// load and 27 MiB once idle, against 31 and 23 MiB with one arena, at the same CPU per GET
/// (bench/README.md, round five). Left alone when the environment chooses (`MALLOC_ARENA_MAX`,
/// `GLIBC_TUNABLES`).
fn one_glibc_arena() {
    #[cfg(target_env = "gnu")]
    {
        const M_ARENA_MAX: c_int = -8;
        extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
            fn getenv(name: *const std::os::raw::c_char) -> *const std::os::raw::c_char;
        }
        // SAFETY: getenv reads the environment, which nothing modifies before `main`; mallopt
        // only changes a setting of glibc's allocator, before any thread exists.
        unsafe {
            let chosen = !getenv(c"MALLOC_ARENA_MAX".as_ptr()).is_null()
                || !getenv(c"GLIBC_TUNABLES".as_ptr()).is_null();
            if !chosen {
                mallopt(M_ARENA_MAX, 1);
            }
        }
    }
}
