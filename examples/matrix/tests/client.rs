//! The Matrix client against a real Synapse on loopback.

mod support;

use matrix_backend::matrix::{Client, Limits};
use support::{Synapse, TestResult};

#[tokio::test]
async fn synapse_starts_registers_users_and_restarts() -> TestResult {
    let mut synapse = Synapse::start().await?;
    let alice = synapse.register("alice", "secret-a").await?;
    assert_eq!(alice, "@alice:localhost");
    let mut client = Client::new(&synapse.url(), Limits::default())?;
    client.login("alice", "secret-a", "test").await?;
    synapse.restart().await?;
    assert_eq!(client.whoami().await?.user_id, alice, "the data survives");
    Ok(())
}
