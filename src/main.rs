//! The `clientele` binary: parse the command line and run it.

mod allocator;

fn main() {
    std::process::exit(clientele::cli::run());
}
