//! The `clientele` binary: parse the command line and run it.

/// mimalloc instead of glibc's malloc: per-thread heaps, no arena locks. With glibc, a GET
/// by id spent about a fifth of its samples in malloc, free and the waits for their arena
/// locks; mimalloc served 20 % more `/healthz` and 22 to 38 % more GETs by id on the same
/// machine (bench/results/round-four-notes.md, section 2). Only the binary chooses it: a
/// program that embeds the server keeps its own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(clientele::cli::run());
}

/// mimalloc's defaults commit its arena eagerly and keep freed pages for a second: 96 MiB of
/// RSS after a burst of reads that glibc's malloc served in 27 MiB. Committing on demand and
/// returning freed pages at once gave 31 MiB at the same speed. mimalloc reads its options
/// when it starts, before `main` (the Rust runtime allocates before `main` runs), so they are
/// set as defaults from a constructor that runs ahead of mimalloc's own (priority 101); the
/// environment (`MIMALLOC_ARENA_EAGER_COMMIT`, `MIMALLOC_PURGE_DELAY`) still overrides them.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00100"]
static ALLOCATOR_DEFAULTS: extern "C" fn() = allocator_defaults;

#[cfg(target_os = "linux")]
extern "C" fn allocator_defaults() {
    // mimalloc's option numbers (`mi_option_e` in its mimalloc.h, version 3).
    const ARENA_EAGER_COMMIT: std::os::raw::c_int = 4;
    const PURGE_DELAY: std::os::raw::c_int = 15;
    extern "C" {
        fn mi_option_set_default(option: std::os::raw::c_int, value: std::os::raw::c_long);
    }
    // SAFETY: this runs before any thread exists and before mimalloc reads its options;
    // mi_option_set_default only stores a default value and allocates nothing.
    unsafe {
        mi_option_set_default(ARENA_EAGER_COMMIT, 0);
        mi_option_set_default(PURGE_DELAY, 0);
    }
}
