//! The `matrix` executable: Spectrum 2 runs it as `service.backend`.

use spectrum_backend::{Runtime, exit_with};

fn main() -> std::process::ExitCode {
    Runtime::<matrix_backend::Matrix>::from_env()
        .map(|rt| rt.capabilities(matrix_backend::capabilities))
        .map_or_else(exit_with, Runtime::block_on)
}
