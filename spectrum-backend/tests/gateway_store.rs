//! Per-user state found again after the backend restarts, driven over a
//! real socket by the harness: each login counts itself in the store in
//! `service.working_dir` and tells the user the count.

#![cfg(feature = "store")]
#![allow(clippy::unwrap_used)]

use spectrum_backend::gateway::store::{Store, StoreError, UserStore};
use spectrum_backend::prelude::*;
use spectrum_backend::testing::{MainInstance, Result as HarnessResult};

struct Counted {
    _state: UserStore,
}

#[backend]
impl Counted {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        let dir = ctx
            .config()
            .get("service.working_dir")
            .ok_or_else(|| Error::invalid_settings("no service.working_dir"))?;
        let state = Store::open(dir)
            .map_err(|e| Error::other(e.to_string()))?
            .user(ctx.user());
        let logins = state
            .update(|tx| {
                let n = tx.get::<u32>("logins")?.unwrap_or(0) + 1;
                tx.set("logins", &n)?;
                Ok::<_, StoreError>(n)
            })
            .map_err(|e| Error::other(e.to_string()))?;
        ctx.connected().await?;
        ctx.message("counter", format!("login {logins}"))
            .send()
            .await?;
        Ok(Counted { _state: state })
    }
}

/// Starts a backend, logs `user` in and returns what the backend said.
async fn run_once(config: &str, user: &str) -> HarnessResult<String> {
    let mut main = MainInstance::start::<Counted>(config).await?;
    main.handshake().await?;
    main.login(user, "legacy", "").await?;
    let said = main.expect_message(user).await?.message;
    main.exit().await?;
    Ok(said)
}

#[tokio::test]
async fn a_restarted_backend_finds_each_users_state() -> HarnessResult<()> {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[service]\njid = store.localhost\nworking_dir = {}\n",
        dir.path().display()
    );
    assert_eq!(run_once(&config, "alice@store.localhost").await?, "login 1");
    assert_eq!(run_once(&config, "alice@store.localhost").await?, "login 2");
    assert_eq!(run_once(&config, "bob@store.localhost").await?, "login 1");
    assert_eq!(run_once(&config, "alice@store.localhost").await?, "login 3");
    Ok(())
}

/// The same, through `ctx.store()`: one database per process, in
/// `service.working_dir` unless `backend.store_dir` names another directory.
struct ViaCtx;

#[backend]
impl ViaCtx {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        let logins = ctx.store()?.update(|tx| {
            let n = tx.get::<u32>("logins")?.unwrap_or(0) + 1;
            tx.set("logins", &n)?;
            Ok::<_, StoreError>(n)
        })?;
        ctx.connected().await?;
        ctx.message("counter", format!("login {logins}")).await?;
        Ok(ViaCtx)
    }
}

async fn run_via_ctx(config: &str, user: &str) -> HarnessResult<String> {
    let mut main = MainInstance::start::<ViaCtx>(config).await?;
    main.handshake().await?;
    main.login(user, "legacy", "").await?;
    let said = main.expect_message(user).await?.message;
    main.exit().await?;
    Ok(said)
}

/// Logs alice in `from..=to` times; each login must count itself.
async fn logins_counted(config: &str, from: u32, to: u32) -> HarnessResult<()> {
    for n in from..=to {
        let said = run_via_ctx(config, "alice@store.localhost").await?;
        assert_eq!(said, format!("login {n}"));
    }
    Ok(())
}

#[tokio::test]
async fn ctx_store_lives_in_the_working_dir_or_the_configured_one() -> HarnessResult<()> {
    use spectrum_backend::gateway::store::FILE_NAME;
    let working = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let plain = format!(
        "[service]\njid = store.localhost\nworking_dir = {}\n",
        working.path().display()
    );
    logins_counted(&plain, 1, 2).await?;
    assert!(working.path().join(FILE_NAME).exists());

    let moved = format!(
        "{plain}[backend]\nstore_dir = {}\n",
        elsewhere.path().display()
    );
    logins_counted(&moved, 1, 2).await?;
    assert!(elsewhere.path().join(FILE_NAME).exists());
    // The working directory's state was not touched.
    logins_counted(&plain, 3, 3).await
}

#[tokio::test]
async fn ctx_store_without_a_directory_is_a_clear_login_error() -> HarnessResult<()> {
    let mut main = MainInstance::start::<ViaCtx>("[service]\njid = store.localhost\n").await?;
    main.handshake().await?;
    let answer = main
        .try_login("alice@store.localhost", "legacy", "")
        .await?;
    let d = answer.expect_err("no directory: the login fails");
    let text = d.message.unwrap_or_default();
    assert!(
        text.contains("set `backend.store_dir` (or `service.working_dir`)"),
        "{text}"
    );
    main.exit().await?;
    Ok(())
}
