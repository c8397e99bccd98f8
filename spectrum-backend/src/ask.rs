//! [`Ctx::ask`]: a question to the XMPP user from a pseudo-contact, and
//! the wait for the answer (a one-time code, a captcha).

use std::future::IntoFuture;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::ctx::Ctx;
use crate::prompt::AskError;

/// The pseudo-contact that asks, unless [`Ask::from`] names another.
pub const DEFAULT_ASK_CONTACT: &str = "transport";

/// How long the user has to answer, unless [`Ask::timeout`] says otherwise.
pub const DEFAULT_ASK_TIMEOUT: Duration = Duration::from_secs(300);

impl Ctx {
    /// Asks the XMPP user `question` in a message from a pseudo-contact
    /// ([`DEFAULT_ASK_CONTACT`] unless [`Ask::from`] names another) and
    /// resolves to the text of the user's next message to that contact.
    /// That message goes to the question, not to the message handler; it
    /// is taken even while the Login handler runs, so a two-factor login
    /// can ask from there.
    ///
    /// Spectrum 2 drops messages for a user it does not consider
    /// connected: asking sends CONNECTED first if it was not sent yet.
    ///
    /// ```no_run
    /// # use spectrum_backend::prelude::*;
    /// # use std::time::Duration;
    /// # async fn f(ctx: &Ctx) -> Result<()> {
    /// let code = ctx
    ///     .ask("Enter the code the network sent you")
    ///     .timeout(Duration::from_secs(120))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn ask(&self, question: impl Into<String>) -> Ask<'_> {
        Ask {
            ctx: self,
            question: question.into(),
            contact: DEFAULT_ASK_CONTACT.to_owned(),
            timeout: DEFAULT_ASK_TIMEOUT,
        }
    }
}

/// A question to the user; await it for the answer. See [`Ctx::ask`].
#[must_use = "a question is asked only when awaited"]
#[derive(Debug)]
pub struct Ask<'a> {
    ctx: &'a Ctx,
    question: String,
    contact: String,
    timeout: Duration,
}

impl<'a> Ask<'a> {
    /// The pseudo-contact that asks (and that the user answers).
    pub fn from(mut self, contact: impl Into<String>) -> Self {
        self.contact = contact.into();
        self
    }

    /// How long the user has to answer.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = after;
        self
    }

    async fn run(self) -> Result<String, AskError> {
        let Ask {
            ctx,
            question,
            contact,
            timeout,
        } = self;
        // Open before asking: the answer may come back at once.
        let answer = ctx.prompts().open(&contact);
        let asked = async {
            ctx.connected().await?;
            ctx.message(contact.as_str(), question).await
        };
        if let Err(e) = asked.await {
            ctx.prompts().close(&contact);
            return Err(AskError::NotSent(e.to_string()));
        }
        let outcome = tokio::select! {
            answer = tokio::time::timeout(timeout, answer) => match answer {
                Ok(Ok(text)) => Ok(text),
                Ok(Err(_)) => Err(AskError::Ended { contact: contact.clone() }),
                Err(_) => Err(AskError::Timeout { contact: contact.clone(), after: timeout }),
            },
            () = ctx.ended() => Err(AskError::Ended { contact: contact.clone() }),
        };
        ctx.prompts().close(&contact);
        outcome
    }
}

impl<'a> IntoFuture for Ask<'a> {
    type Output = Result<String, AskError>;
    type IntoFuture = BoxFuture<'a, Result<String, AskError>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
