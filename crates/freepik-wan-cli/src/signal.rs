//! The one signal helper shared by the commands that run until stopped
//! (`simulate`, `webhook listen`) and the waits that stop early (`generate`,
//! `wait`).

/// Resolves on Ctrl-C, or on SIGTERM where there is one (what `kill`,
/// containers and process supervisors send).
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
