//! What a link's states mean for Spectrum 2 and for the user:
//! CONNECTED, DISCONNECTED with its code, and messages from the network's
//! pseudo-contact while it reconnects.

use spectrum_proto::Payload;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::Result;
use crate::ctx::Ctx;
use crate::gateway::link::LinkState;
use crate::reply::{Disconnect, Message, Reply as _};

/// Turns [`LinkState`]s into what Spectrum 2 and the user are told:
///
/// * `Up` the first time: CONNECTED;
/// * `Retrying`: a message from the pseudo-contact (the network's name
///   unless [`LinkReport::contact`] says otherwise) saying why and when the
///   next try comes;
/// * `Up` after `Retrying`: a message saying the link is back;
/// * `GaveUp`: DISCONNECTED with the state's code and reason.
///
/// Use it through [`Ctx::report_link`] or [`Ctx::follow_link`];
/// [`LinkReport::frames`] gives the frames without sending them.
#[derive(Debug, Clone)]
pub struct LinkReport {
    network: String,
    contact: String,
    was_up: bool,
    retrying: bool,
}

impl LinkReport {
    /// For the link to `network` (a name the user recognises).
    pub fn new(network: impl Into<String>) -> Self {
        let network = network.into();
        LinkReport {
            contact: network.clone(),
            network,
            was_up: false,
            retrying: false,
        }
    }

    /// The pseudo-contact the messages come from.
    pub fn contact(mut self, contact: impl Into<String>) -> Self {
        self.contact = contact.into();
        self
    }

    /// The frames for `user` that tell about `state`.
    pub fn frames(&mut self, state: &LinkState, user: &str) -> Vec<Payload> {
        match state {
            LinkState::Up => {
                let mut out = Vec::new();
                if !self.was_up {
                    out.extend(state.frame(user, &self.network));
                }
                // Told "lost, trying again": told it is back, even when the
                // watch merged the first Up into the Retrying that followed.
                if self.retrying {
                    let text = format!("reconnected to {}", self.network);
                    out.push(Message::new(self.contact.as_str(), text).into_payload(user));
                }
                self.was_up = true;
                self.retrying = false;
                out
            }
            LinkState::Retrying { .. } => {
                self.retrying = true;
                let text = state.describe(&self.network);
                vec![Message::new(self.contact.as_str(), text).into_payload(user)]
            }
            LinkState::GaveUp { code, .. } => {
                self.retrying = false;
                vec![Disconnect::new(*code, state.describe(&self.network)).into_payload(user)]
            }
            LinkState::Connecting { .. } | LinkState::Closed => Vec::new(),
        }
    }
}

impl Ctx {
    /// Tells Spectrum 2 and the user about `state` (see [`LinkReport`]).
    /// CONNECTED goes through [`Ctx::connected`], so it is sent once per
    /// session whoever sends it first.
    pub async fn report_link(&self, report: &mut LinkReport, state: &LinkState) -> Result<()> {
        let frames = report.frames(state, self.user());
        for frame in frames {
            match frame {
                Payload::Connected(_) => self.connected().await?,
                other => self.send(other).await?,
            }
        }
        Ok(())
    }

    /// Reports every state of a link (its [`Link::watch`](crate::gateway::link::Link::watch))
    /// from a task of its own, until the link gives up or is closed, or the
    /// session ends.
    pub fn follow_link(
        &self,
        mut states: watch::Receiver<LinkState>,
        mut report: LinkReport,
    ) -> JoinHandle<()> {
        let ctx = self.clone();
        let span = tracing::Span::current();
        tokio::spawn(
            async move {
                loop {
                    let state = states.borrow_and_update().clone();
                    if let Err(e) = ctx.report_link(&mut report, &state).await {
                        tracing::debug!("link state not reported: {e}");
                        return;
                    }
                    if matches!(state, LinkState::GaveUp { .. } | LinkState::Closed) {
                        return;
                    }
                    tokio::select! {
                        changed = states.changed() => if changed.is_err() { return },
                        () = ctx.ended() => return,
                    }
                }
            }
            .instrument(span),
        )
    }
}
