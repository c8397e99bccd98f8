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

#[tokio::test]
async fn ctx_store_lives_in_the_working_dir_or_the_configured_one() -> HarnessResult<()> {
    let working = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let plain = format!(
        "[service]\njid = store.localhost\nworking_dir = {}\n",
        working.path().display()
    );
    assert_eq!(
        run_via_ctx(&plain, "alice@store.localhost").await?,
        "login 1"
    );
    assert_eq!(
        run_via_ctx(&plain, "alice@store.localhost").await?,
        "login 2"
    );
    assert!(
        working
            .path()
            .join(spectrum_backend::gateway::store::FILE_NAME)
            .exists()
    );

    let moved = format!(
        "{plain}[backend]\nstore_dir = {}\n",
        elsewhere.path().display()
    );
    assert_eq!(
        run_via_ctx(&moved, "alice@store.localhost").await?,
        "login 1"
    );
    assert_eq!(
        run_via_ctx(&moved, "alice@store.localhost").await?,
        "login 2"
    );
    assert!(
        elsewhere
            .path()
            .join(spectrum_backend::gateway::store::FILE_NAME)
            .exists()
    );
    // The working directory's state was not touched.
    assert_eq!(
        run_via_ctx(&plain, "alice@store.localhost").await?,
        "login 3"
    );
    Ok(())
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
