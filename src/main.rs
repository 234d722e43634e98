//! The `clientele` binary: parse the command line and run it.

fn main() {
    limit_malloc_arenas();
    std::process::exit(clientele::cli::run());
}

/// glibc gives threads up to eight malloc arenas per core, and each keeps the memory its
/// threads freed. With 16 workers and a thread per connection, that held 3 to 4 MiB more
/// after load than two arenas per core do (bench/README.md, RSS after load). One arena per
/// core saved a little more but its lock cost throughput in interleaved runs. Left alone
/// when the environment chooses (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`). Only the binary
/// does this: a program that embeds the server keeps its own allocator settings.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_ARENA_MAX: std::os::raw::c_int = -8;
        extern "C" {
            fn mallopt(
                param: std::os::raw::c_int,
                value: std::os::raw::c_int,
            ) -> std::os::raw::c_int;
        }
        let chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some()
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = std::os::raw::c_int::try_from(2 * cores).unwrap_or(64);
        if !chosen {
            // SAFETY: mallopt only changes an allocator setting; it is called before any
            // thread is started, and an unknown parameter is refused with 0.
            unsafe {
                mallopt(M_ARENA_MAX, arenas);
            }
        }
    }
}
