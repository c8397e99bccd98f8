//! A line protocol's login before the link takes the connection over.

use std::fmt::Display;
use std::io::Cursor;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, Chain, Join, ReadHalf, WriteHalf};
use tokio_util::codec::Framed;

use super::{ConnectError, Line, LineCodec};

/// A connection of any kind (plain TCP, TLS), as a link's connect step
/// returns it when the kind is chosen at run time.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A boxed [`Io`].
pub type Connection = Box<dyn Io>;

/// The lines a login exchanges inside a link's connect step (IRC's
/// registration, a POP3-like greeting), on the codec the link then uses.
/// [`Handshake::finish`] hands the connection over with whatever the peer
/// sent after the last line read, so that nothing is lost between the
/// login and the link.
///
/// Errors are [`ConnectError::retry`]s naming the peer: a connection that
/// broke during the login is tried again after the backoff.
///
/// ```no_run
/// use spectrum_backend::gateway::link::{ConnectError, Handshake, LineCodec};
///
/// # async fn login(tcp: tokio::net::TcpStream) -> Result<(), ConnectError> {
/// let mut handshake = Handshake::new(tcp, LineCodec::new(512), "pop.example.net");
/// let greeting = handshake.next_line().await?;
/// handshake.send("USER alice".to_owned()).await?;
/// let connection = handshake.finish();
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Handshake<T> {
    framed: Framed<T, LineCodec>,
    peer: String,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Handshake<T> {
    /// A login on `io` with `codec`, with `peer` (a server's name) in the
    /// errors.
    pub fn new(io: T, codec: LineCodec, peer: impl Display) -> Handshake<T> {
        Handshake {
            framed: Framed::new(io, codec),
            peer: peer.to_string(),
        }
    }

    /// Writes one line.
    pub async fn send(&mut self, line: String) -> Result<(), ConnectError> {
        (self.framed.send(line).await)
            .map_err(|e| ConnectError::retry(format!("{}: cannot send: {e}", self.peer)))
    }

    /// The next line; a line over the codec's maximum is skipped.
    pub async fn next_line(&mut self) -> Result<Bytes, ConnectError> {
        loop {
            match self.framed.next().await {
                Some(Ok(Line::Text(line))) => return Ok(line),
                Some(Ok(Line::TooLong)) => continue,
                Some(Err(e)) => return Err(ConnectError::retry(format!("{}: {e}", self.peer))),
                None => {
                    return Err(ConnectError::retry(format!(
                        "{}: closed the connection during the login",
                        self.peer
                    )));
                }
            }
        }
    }

    /// The connection for the link: what was read past the last line
    /// comes first, then the connection itself.
    pub fn finish(self) -> Join<Chain<Cursor<BytesMut>, ReadHalf<T>>, WriteHalf<T>> {
        let parts = self.framed.into_parts();
        let (reader, writer) = tokio::io::split(parts.io);
        tokio::io::join(Cursor::new(parts.read_buf).chain(reader), writer)
    }
}
