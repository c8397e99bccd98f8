//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use spectrum_backend::proto::Payload;
use spectrum_backend::testing::MainInstance;

/// Every frame the backend sent, in order.
pub(crate) fn from_backend(main: &MainInstance) -> Vec<Payload> {
    main.received().cloned().collect()
}

/// The BUDDY_REMOVED frames the logout handler sent for `user`.
pub(crate) fn logouts(frames: &[Payload], user: &str) -> Vec<String> {
    frames
        .iter()
        .filter_map(|p| match p {
            Payload::BuddyRemoved(b) if b.user_name == user => Some(b.buddy_name.clone()),
            _ => None,
        })
        .collect()
}

/// Runs backend `B` as its process would, on a thread of its own with a
/// multi-threaded runtime of `workers` pool threads, connected to a
/// harness; the harness after the handshake, and the backend's thread.
pub(crate) async fn on_own_runtime<B: spectrum_backend::Backend>(
    workers: usize,
) -> spectrum_backend::testing::Result<(
    MainInstance,
    std::thread::JoinHandle<Result<(), spectrum_backend::RunError>>,
)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let argv = spectrum_backend::testing::spectrum_argv(port, 1, std::path::Path::new("b.cfg"));
    let args = spectrum_backend::Args::parse(argv).expect("args");
    let backend = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(
            spectrum_backend::Runtime::<B>::new(args, spectrum_backend::Config::default()).run(),
        )
    });
    let mut main = MainInstance::accept_from(listener).await?;
    main.handshake().await?;
    Ok((main, backend))
}
