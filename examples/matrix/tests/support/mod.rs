//! Test support: a real Synapse on loopback, and helpers shared by the
//! client and end-to-end tests.

#![allow(dead_code, unused_imports, unreachable_pub)]

mod synapse;

pub use synapse::{SERVER_NAME, Synapse, free_port};

pub use spectrum_backend::testing::{Report, TestResult};

use std::time::{Duration, Instant};

use matrix_backend::matrix::Client;
use matrix_backend::matrix::types::{Event, SyncRequest, SyncResponse};

/// How long a watcher waits for what it expects; a guard, not a pace.
const WATCH_TIMEOUT: Duration = Duration::from_secs(15);

/// One Matrix user's view from a sync position on: what the other side of
/// a test sees.
pub struct Watcher<'a> {
    pub client: &'a Client,
    pub since: String,
}

impl<'a> Watcher<'a> {
    /// Watches from now on.
    pub async fn new(client: &'a Client) -> Result<Watcher<'a>, Report> {
        let since = client.sync(&SyncRequest::default()).await?.next_batch;
        Ok(Watcher { client, since })
    }

    /// Syncs until `pick` takes something from an answer.
    pub async fn until<T>(
        &mut self,
        what: &str,
        pick: impl Fn(&SyncResponse) -> Option<T>,
    ) -> Result<T, Report> {
        let deadline = Instant::now() + WATCH_TIMEOUT;
        while Instant::now() < deadline {
            let answer = self
                .client
                .sync(&SyncRequest {
                    since: Some(self.since.clone()),
                    timeout: Duration::from_millis(500),
                    ..SyncRequest::default()
                })
                .await?;
            self.since = answer.next_batch.clone();
            if let Some(found) = pick(&answer) {
                return Ok(found);
            }
        }
        Err(format!(
            "{}: no {what} within {WATCH_TIMEOUT:?}",
            self.client.user_id()
        )
        .into())
    }

    /// The first timeline or ephemeral event in `room` that `pick` takes.
    pub async fn expect<T>(
        &mut self,
        room: &str,
        what: &str,
        pick: impl Fn(&Event) -> Option<T>,
    ) -> Result<T, Report> {
        self.until(&format!("{what} in {room}"), |answer| {
            let joined = answer.rooms.join.get(room)?;
            let mut events = joined
                .timeline
                .events
                .iter()
                .chain(&joined.ephemeral.events);
            events.find_map(&pick)
        })
        .await
    }

    /// The next message in `room` from `sender`: its content.
    pub async fn message(&mut self, room: &str, sender: &str) -> Result<serde_json::Value, Report> {
        self.expect(room, &format!("message from {sender}"), |e| {
            (e.kind == "m.room.message" && e.sender == sender).then(|| e.content.clone())
        })
        .await
    }
}
