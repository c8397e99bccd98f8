//! What a link's states mean for Spectrum 2 and for the user:
//! CONNECTED, DISCONNECTED with its code, and messages from the network's
//! pseudo-contact while it reconnects.

use spectrum_proto::Payload;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::ctx::Ctx;
use crate::gateway::link::{LinkSender, LinkState, LinkStates};
use crate::reply::{Disconnect, Message, Reply as _};
use crate::{Error, Result};

/// Turns [`LinkState`]s into what Spectrum 2 and the user are told:
///
/// * `Up` the first time: CONNECTED;
/// * `Retrying`: a message from the pseudo-contact (the network's name
///   unless [`LinkReport::contact`] says otherwise) saying why and when the
///   next try comes;
/// * `Up` after `Retrying`: a message saying the link is back;
/// * `GaveUp`: DISCONNECTED with the state's code and reason (or, for a
///   link that is not the whole session, a message: [`LinkReport::keeps_session`]).
///
/// Use it through [`Ctx::report_link`] or [`Ctx::follow_link`];
/// [`LinkReport::frames`] gives the frames without sending them. A login
/// that waits for the link's first outcome takes [`LinkReport::login`].
#[derive(Debug)]
pub struct LinkReport {
    network: String,
    contact: String,
    was_up: bool,
    retrying: bool,
    keeps_session: bool,
    login: Option<oneshot::Sender<Result<()>>>,
}

/// The first outcome of a link, for the login handler that opened it: see
/// [`LinkReport::login`].
#[derive(Debug)]
pub struct LinkLogin(oneshot::Receiver<Result<()>>);

impl LinkLogin {
    /// `Ok` once the link is up and CONNECTED was sent; the error the link
    /// gave up with before that (return it from the login: the runtime
    /// sends it as DISCONNECTED), or an error if the link's reporting ended
    /// first.
    pub async fn wait(self) -> Result<()> {
        self.0
            .await
            .unwrap_or_else(|_| Err(Error::network("the connection ended before the login")))
    }
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
            keeps_session: false,
            login: None,
        }
    }

    /// Answers a login from this report's states ([`Ctx::report_link`]
    /// only): the link's first `Up` (after CONNECTED is sent) or its
    /// `GaveUp`, which is then not reported but handed to the login to
    /// return, so that DISCONNECTED goes out once, as the login's error.
    pub fn login(&mut self) -> LinkLogin {
        let (tx, rx) = oneshot::channel();
        self.login = Some(tx);
        LinkLogin(rx)
    }

    /// The link is one of several of the session (a gateway connected to
    /// several networks at once): when it gives up, the user is told by a
    /// message and the session goes on, instead of DISCONNECTED.
    pub fn keeps_session(mut self) -> Self {
        self.keeps_session = true;
        self
    }

    /// The link now goes to `network` (a list of servers tried in turn):
    /// later messages name it.
    pub fn set_network(&mut self, network: impl Into<String>) {
        self.network = network.into();
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
                // Told "trying again" (also before the first Up): told it is
                // back.
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
                let text = state.describe(&self.network);
                vec![match self.keeps_session {
                    true => Message::new(self.contact.as_str(), text).into_payload(user),
                    false => Disconnect::new(*code, text).into_payload(user),
                }]
            }
            LinkState::Connecting { .. } | LinkState::Closed => Vec::new(),
        }
    }
}

impl Ctx {
    /// Tells Spectrum 2 and the user about `state` (see [`LinkReport`]).
    /// CONNECTED goes through [`Ctx::connected`], so it is sent once per
    /// session whoever sends it first.
    ///
    /// With a [`LinkReport::login`] pending, the first `Up` answers it after
    /// CONNECTED, and a `GaveUp` before it goes to it instead.
    pub async fn report_link(&self, report: &mut LinkReport, state: &LinkState) -> Result<()> {
        if let LinkState::GaveUp { code, .. } = state
            && let Some(login) = report.login.take()
        {
            let _ = login.send(Err(Error::new(*code, state.describe(&report.network))));
            return Ok(());
        }
        let frames = report.frames(state, self.user());
        for frame in frames {
            match frame {
                Payload::Connected(_) => self.connected().await?,
                other => self.send(other).await?,
            }
        }
        if *state == LinkState::Up
            && let Some(login) = report.login.take()
        {
            let _ = login.send(Ok(()));
        }
        Ok(())
    }

    /// Queues `item` on a link that is up ([`LinkSender::send_if_up`]);
    /// while it is down, tells the user instead, from `network`'s
    /// pseudo-contact, that `what` was not sent (a handler should not wait
    /// minutes for a reconnect). Returns whether it was queued.
    pub async fn send_or_tell<Out>(
        &self,
        sender: &LinkSender<Out>,
        item: Out,
        network: &str,
        what: &str,
    ) -> Result<bool> {
        if sender.send_if_up(item).await.is_ok() {
            return Ok(true);
        }
        let text = format!("Not connected to {network} right now: {what} was not sent.");
        self.send(Message::new(network, text)).await.map(|()| false)
    }

    /// Reports every state of a link (its [`Link::states`](crate::gateway::link::Link::states),
    /// every transition in order: a drop and a quick reconnect are both
    /// told) from a task of its own, until the link gives up or is closed,
    /// or the session ends.
    pub fn follow_link(&self, mut states: LinkStates, mut report: LinkReport) -> JoinHandle<()> {
        let ctx = self.clone();
        let span = tracing::Span::current();
        tokio::spawn(
            async move {
                loop {
                    let state = tokio::select! {
                        state = states.next() => match state {
                            Some(state) => state,
                            None => return,
                        },
                        () = ctx.ended() => return,
                    };
                    if let Err(e) = ctx.report_link(&mut report, &state).await {
                        tracing::debug!("link state not reported: {e}");
                        return;
                    }
                    if matches!(state, LinkState::GaveUp { .. } | LinkState::Closed) {
                        return;
                    }
                }
            }
            .instrument(span),
        )
    }
}
