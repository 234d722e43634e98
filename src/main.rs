//! The `clientele` binary: parse the command line and run it.

fn main() {
    std::process::exit(clientele::cli::run());
}
