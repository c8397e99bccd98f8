//! The `irc` executable: Spectrum 2 runs it as `service.backend`.

use spectrum_backend::{Runtime, exit_with};

// Messages are allocated on the connection's thread and freed on a session's
// (and back): mimalloc handles that far better than glibc's malloc (see the
// benchmarks in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    Runtime::<irc_backend::Irc>::from_env()
        .map(|rt| rt.capabilities(irc_backend::capabilities))
        .map_or_else(exit_with, Runtime::block_on)
}
