//! A Matrix client for the few client-server API endpoints this backend
//! uses, written as serde types over `reqwest`.
//!
//! This module knows nothing of Spectrum 2. Every answer is read with a size
//! limit ([`Limits`]): a server that sends more is refused before the rest
//! is read, so memory stays bounded whatever it sends. A revoked token is a
//! distinct error ([`Error::UnknownToken`]) so the caller can ask for a new
//! login instead of retrying.

mod error;
pub mod room;
pub mod types;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use error::{Error, Result};
use room::RoomState;
use types::{Event, Profile, Session, SyncRequest, SyncResponse, WhoAmI};

/// Characters left as they are in a path segment; everything else
/// (`#`, `!`, `:`, `/`, `?`...) is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Size and time limits of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON answer accepted (a sync answer included).
    pub response_bytes: usize,
    /// Largest media file downloaded or uploaded.
    pub media_bytes: usize,
    /// Time allowed for a request that is not a long poll.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            response_bytes: 16 << 20,
            media_bytes: 32 << 20,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Error answers are read only this far.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// A connection to one homeserver, logged in or not.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    /// The homeserver's base URL, without a trailing slash.
    base: String,
    session: Option<Session>,
    limits: Limits,
    /// Prefix of transaction IDs: unique per client.
    txn_prefix: String,
    txn: AtomicU64,
}

#[derive(Deserialize)]
struct MatrixError {
    #[serde(default)]
    errcode: String,
    #[serde(default)]
    error: String,
}

/// A file downloaded from the homeserver or elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The `Content-Type` the server gave, if any.
    pub content_type: Option<String>,
}

/// Reads a body, refusing it once it grows past `limit`.
async fn read_limited(mut response: Response, limit: usize, what: &'static str) -> Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(Error::TooLarge { what, limit });
    }
    let capacity = response
        .content_length()
        .map_or(0, |len| usize::try_from(len).unwrap_or(limit).min(limit));
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| Error::Unreachable { what, source })?
    {
        if body.len() + chunk.len() > limit {
            return Err(Error::TooLarge { what, limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Installs rustls' ring provider once per process (reqwest is built
/// without a provider of its own).
fn install_crypto() {
    // Fails only if a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// A client for the homeserver at `base_url` (such as
    /// `https://matrix.example.org`), not logged in.
    pub fn new(base_url: &str, limits: Limits) -> Result<Client, reqwest::Error> {
        install_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("spectrum-matrix/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            session: None,
            limits,
            txn_prefix: format!("sb{nanos:x}"),
            txn: AtomicU64::new(0),
        })
    }

    /// A client that uses an existing session (a stored access token).
    pub fn with_session(
        base_url: &str,
        limits: Limits,
        session: Session,
    ) -> Result<Client, reqwest::Error> {
        let mut client = Client::new(base_url, limits)?;
        client.session = Some(session);
        Ok(client)
    }

    /// The session, once logged in.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The logged-in user's ID ("" before login).
    pub fn user_id(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.user_id.as_str())
    }

    /// The homeserver's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(self.limits.request_timeout);
        match &self.session {
            Some(s) => builder.bearer_auth(&s.access_token),
            None => builder,
        }
    }

    fn client_path(&self, path: &str) -> String {
        format!("/_matrix/client/v3{path}")
    }

    /// Sends a request and decodes its JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        builder: RequestBuilder,
        what: &'static str,
    ) -> Result<T> {
        let body = self
            .send_bytes(builder, self.limits.response_bytes, what)
            .await?
            .bytes;
        serde_json::from_slice(&body).map_err(|source| Error::Malformed { what, source })
    }

    /// Sends a request; the answer's body (up to `limit`) if it succeeded,
    /// the Matrix error otherwise.
    async fn send_bytes(
        &self,
        builder: RequestBuilder,
        limit: usize,
        what: &'static str,
    ) -> Result<Download> {
        let response = builder
            .send()
            .await
            .map_err(|source| Error::Unreachable { what, source })?;
        let status = response.status();
        if status.is_success() {
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = read_limited(response, limit, what).await?;
            return Ok(Download {
                bytes,
                content_type,
            });
        }
        let body = read_limited(response, ERROR_BODY_LIMIT, what)
            .await
            .unwrap_or_default();
        let parsed: Option<MatrixError> = serde_json::from_slice(&body).ok();
        let (errcode, message) = match parsed {
            Some(e) => (e.errcode, e.error),
            None => (
                String::new(),
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            ),
        };
        if errcode == "M_UNKNOWN_TOKEN" {
            return Err(Error::UnknownToken { message });
        }
        Err(Error::Refused {
            what,
            status: status.as_u16(),
            errcode,
            message,
        })
    }

    fn own_id(&self) -> Result<&str> {
        self.session
            .as_ref()
            .map(|s| s.user_id.as_str())
            .ok_or(Error::NotLoggedIn)
    }

    fn next_txn(&self) -> String {
        let n = self.txn.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", self.txn_prefix)
    }

    /// Whether `txn` is a transaction ID this client made: the event is an
    /// echo of something sent through it.
    pub fn is_own_transaction(&self, txn: &str) -> bool {
        txn.strip_prefix(&self.txn_prefix)
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// Checks that the server answers the client API at all.
    pub async fn versions(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Versions {
            #[serde(default)]
            versions: Vec<String>,
        }
        let v: Versions = self
            .call(
                self.request(Method::GET, "/_matrix/client/versions"),
                "versions",
            )
            .await?;
        Ok(v.versions)
    }

    /// Logs in with a user ID (or localpart) and password; keeps the
    /// session.
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
        device_name: &str,
    ) -> Result<&Session> {
        let body = json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": user },
            "password": password,
            "initial_device_display_name": device_name,
        });
        self.session = None;
        let session: Session = self
            .call(
                self.request(Method::POST, &self.client_path("/login"))
                    .json(&body),
                "login",
            )
            .await?;
        Ok(self.session.insert(session))
    }

    /// Ends the session on the server: the token becomes invalid and the
    /// device is removed.
    pub async fn logout(&self) -> Result<()> {
        let _: Value = self
            .call(
                self.request(Method::POST, &self.client_path("/logout"))
                    .json(&json!({})),
                "logout",
            )
            .await?;
        Ok(())
    }

    /// Who the token belongs to; [`Error::UnknownToken`] if it was revoked.
    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.own_id()?;
        self.call(
            self.request(Method::GET, &self.client_path("/account/whoami")),
            "whoami",
        )
        .await
    }

    /// One `/sync`: waits up to `request.timeout` for something new.
    pub async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse> {
        self.own_id()?;
        let mut query: Vec<(&str, String)> =
            vec![("timeout", request.timeout.as_millis().to_string())];
        if let Some(since) = &request.since {
            query.push(("since", since.clone()));
        }
        if let Some(filter) = &request.filter {
            query.push(("filter", filter.clone()));
        }
        if let Some(presence) = request.set_presence {
            query.push(("set_presence", presence.to_owned()));
        }
        if request.full_state {
            query.push(("full_state", "true".to_owned()));
        }
        let builder = self
            .request(Method::GET, &self.client_path("/sync"))
            .query(&query)
            // The server holds the request for `timeout`: allow for it.
            .timeout(request.timeout + self.limits.request_timeout);
        let answer: SyncResponse = self.call(builder, "sync").await?;
        if answer.next_batch.is_empty() {
            return Err(Error::Refused {
                what: "sync",
                status: 200,
                errcode: String::new(),
                message: "the answer has no next_batch".into(),
            });
        }
        Ok(answer)
    }

    /// Sends an event of `kind` with `content` to a room; its event ID.
    pub async fn send_event(&self, room_id: &str, kind: &str, content: &Value) -> Result<String> {
        #[derive(Deserialize)]
        struct Sent {
            event_id: String,
        }
        let path = self.client_path(&format!(
            "/rooms/{}/send/{}/{}",
            segment(room_id),
            segment(kind),
            segment(&self.next_txn())
        ));
        let sent: Sent = self
            .call(
                self.request(Method::PUT, &path).json(content),
                "sending a message",
            )
            .await?;
        Ok(sent.event_id)
    }

    /// Sends an `m.room.message` (see [`types::message_content`] and
    /// [`types::media_content`]); its event ID.
    pub async fn send_message(&self, room_id: &str, content: &Value) -> Result<String> {
        self.send_event(room_id, "m.room.message", content).await
    }

    /// Starts (for `timeout`) or stops showing the user as typing in a room.
    pub async fn typing(&self, room_id: &str, typing: bool, timeout: Duration) -> Result<()> {
        let me = self.own_id()?;
        let path = self.client_path(&format!(
            "/rooms/{}/typing/{}",
            segment(room_id),
            segment(me)
        ));
        let mut body = json!({ "typing": typing });
        if typing {
            body["timeout"] = (timeout.as_millis() as u64).into();
        }
        let _: Value = self
            .call(self.request(Method::PUT, &path).json(&body), "typing")
            .await?;
        Ok(())
    }

    /// Marks everything up to `event_id` as read (a public `m.read` receipt).
    pub async fn read_receipt(&self, room_id: &str, event_id: &str) -> Result<()> {
        let path = self.client_path(&format!(
            "/rooms/{}/receipt/m.read/{}",
            segment(room_id),
            segment(event_id)
        ));
        let _: Value = self
            .call(
                self.request(Method::POST, &path).json(&json!({})),
                "a read receipt",
            )
            .await?;
        Ok(())
    }

    /// Joins a room by alias (`#room:server`) or ID (`!id:server`); the room ID.
    pub async fn join(&self, room: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Joined {
            room_id: String,
        }
        let path = self.client_path(&format!("/join/{}", segment(room)));
        let joined: Joined = self
            .call(
                self.request(Method::POST, &path).json(&json!({})),
                "joining a room",
            )
            .await?;
        Ok(joined.room_id)
    }

    /// Leaves a room.
    pub async fn leave(&self, room_id: &str) -> Result<()> {
        let path = self.client_path(&format!("/rooms/{}/leave", segment(room_id)));
        let _: Value = self
            .call(
                self.request(Method::POST, &path).json(&json!({})),
                "leaving a room",
            )
            .await?;
        Ok(())
    }

    /// Invites a user to a room.
    pub async fn invite(&self, room_id: &str, user_id: &str) -> Result<()> {
        let path = self.client_path(&format!("/rooms/{}/invite", segment(room_id)));
        let _: Value = self
            .call(
                self.request(Method::POST, &path)
                    .json(&json!({ "user_id": user_id })),
                "an invitation",
            )
            .await?;
        Ok(())
    }

    /// Creates a room from a `/createRoom` body; the room ID.
    pub async fn create_room(&self, body: &Value) -> Result<String> {
        #[derive(Deserialize)]
        struct Created {
            room_id: String,
        }
        let created: Created = self
            .call(
                self.request(Method::POST, &self.client_path("/createRoom"))
                    .json(body),
                "creating a room",
            )
            .await?;
        Ok(created.room_id)
    }

    /// The IDs of the rooms the user is in.
    pub async fn joined_rooms(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Joined {
            #[serde(default)]
            joined_rooms: Vec<String>,
        }
        let joined: Joined = self
            .call(
                self.request(Method::GET, &self.client_path("/joined_rooms")),
                "the joined rooms",
            )
            .await?;
        Ok(joined.joined_rooms)
    }

    /// A room's full current state.
    pub async fn room_state(&self, room_id: &str) -> Result<RoomState> {
        let path = self.client_path(&format!("/rooms/{}/state", segment(room_id)));
        let events: Vec<Event> = self
            .call(self.request(Method::GET, &path), "the room state")
            .await?;
        Ok(RoomState::from_events(&events))
    }

    /// Sets a state event (the topic is `m.room.topic` with key "").
    pub async fn set_state(
        &self,
        room_id: &str,
        kind: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<String> {
        #[derive(Deserialize)]
        struct Sent {
            event_id: String,
        }
        let path = self.client_path(&format!(
            "/rooms/{}/state/{}/{}",
            segment(room_id),
            segment(kind),
            segment(state_key)
        ));
        let sent: Sent = self
            .call(
                self.request(Method::PUT, &path).json(content),
                "setting room state",
            )
            .await?;
        Ok(sent.event_id)
    }

    /// A user's profile.
    pub async fn profile(&self, user_id: &str) -> Result<Profile> {
        let path = self.client_path(&format!("/profile/{}", segment(user_id)));
        self.call(self.request(Method::GET, &path), "a profile")
            .await
    }

    /// Sets the user's own display name.
    pub async fn set_display_name(&self, name: &str) -> Result<()> {
        let me = self.own_id()?;
        let path = self.client_path(&format!("/profile/{}/displayname", segment(me)));
        let _: Value = self
            .call(
                self.request(Method::PUT, &path)
                    .json(&json!({ "displayname": name })),
                "setting the display name",
            )
            .await?;
        Ok(())
    }

    /// Sets the user's own avatar to an `mxc://` URI.
    pub async fn set_avatar(&self, mxc: &str) -> Result<()> {
        let me = self.own_id()?;
        let path = self.client_path(&format!("/profile/{}/avatar_url", segment(me)));
        let _: Value = self
            .call(
                self.request(Method::PUT, &path)
                    .json(&json!({ "avatar_url": mxc })),
                "setting the avatar",
            )
            .await?;
        Ok(())
    }

    /// Sets the user's presence.
    pub async fn set_presence(&self, presence: &str, status_msg: &str) -> Result<()> {
        let me = self.own_id()?;
        let path = self.client_path(&format!("/presence/{}/status", segment(me)));
        let body = json!({ "presence": presence, "status_msg": status_msg });
        let _: Value = self
            .call(self.request(Method::PUT, &path).json(&body), "presence")
            .await?;
        Ok(())
    }

    /// Global account data of `kind`; `None` if never set.
    pub async fn account_data(&self, kind: &str) -> Result<Option<Value>> {
        let me = self.own_id()?;
        let path = self.client_path(&format!(
            "/user/{}/account_data/{}",
            segment(me),
            segment(kind)
        ));
        match self
            .call(self.request(Method::GET, &path), "account data")
            .await
        {
            Ok(value) => Ok(Some(value)),
            Err(Error::Refused { errcode, .. }) if errcode == "M_NOT_FOUND" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets global account data of `kind`.
    pub async fn set_account_data(&self, kind: &str, content: &Value) -> Result<()> {
        let me = self.own_id()?;
        let path = self.client_path(&format!(
            "/user/{}/account_data/{}",
            segment(me),
            segment(kind)
        ));
        let _: Value = self
            .call(
                self.request(Method::PUT, &path).json(content),
                "setting account data",
            )
            .await?;
        Ok(())
    }

    /// The direct-message partners (`m.direct`): user ID to room IDs.
    pub async fn direct_rooms(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        Ok(self
            .account_data("m.direct")
            .await?
            .map(|v| parse_direct(&v))
            .unwrap_or_default())
    }

    /// Uploads a file to the media repository; its `mxc://` URI.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        filename: &str,
    ) -> Result<String> {
        #[derive(Deserialize)]
        struct Uploaded {
            content_uri: String,
        }
        if bytes.len() > self.limits.media_bytes {
            return Err(Error::TooLarge {
                what: "an upload",
                limit: self.limits.media_bytes,
            });
        }
        let builder = self
            .request(Method::POST, "/_matrix/media/v3/upload")
            .query(&[("filename", filename)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        let uploaded: Uploaded = self.call(builder, "an upload").await?;
        Ok(uploaded.content_uri)
    }

    /// The public download URL of an `mxc://` URI (served without a token by
    /// servers that allow unauthenticated media).
    pub fn download_url(&self, mxc: &str) -> Option<String> {
        let (server, id) = parse_mxc(mxc)?;
        Some(format!(
            "{}/_matrix/media/v3/download/{}/{}",
            self.base,
            segment(server),
            segment(id)
        ))
    }

    /// The public URL of a scaled thumbnail of an `mxc://` URI.
    pub fn thumbnail_url(&self, mxc: &str, width: u32, height: u32) -> Option<String> {
        let (server, id) = parse_mxc(mxc)?;
        Some(format!(
            "{}/_matrix/media/v3/thumbnail/{}/{}?width={width}&height={height}&method=scale",
            self.base,
            segment(server),
            segment(id)
        ))
    }

    /// Downloads an `mxc://` URI with the access token (authenticated
    /// media), up to the media limit.
    pub async fn download(&self, mxc: &str) -> Result<Download> {
        self.download_at_most(mxc, self.limits.media_bytes).await
    }

    /// Downloads an `mxc://` URI with the access token, refusing it past
    /// `limit` bytes (or the media limit, if lower).
    pub async fn download_at_most(&self, mxc: &str, limit: usize) -> Result<Download> {
        let (server, id) = parse_mxc(mxc).ok_or_else(|| Error::Refused {
            what: "a download",
            status: StatusCode::BAD_REQUEST.as_u16(),
            errcode: "M_INVALID_PARAM".into(),
            message: format!("not an mxc URI: {mxc}"),
        })?;
        let path = format!(
            "/_matrix/client/v1/media/download/{}/{}",
            segment(server),
            segment(id)
        );
        self.send_bytes(
            self.request(Method::GET, &path),
            limit.min(self.limits.media_bytes),
            "a download",
        )
        .await
    }

    /// Downloads any URL (no token sent), up to the media limit.
    pub async fn fetch(&self, url: &str) -> Result<Download> {
        let builder = self.http.get(url).timeout(self.limits.request_timeout);
        self.send_bytes(builder, self.limits.media_bytes, "a download")
            .await
    }
}

/// `mxc://server/id` → (server, id).
pub fn parse_mxc(mxc: &str) -> Option<(&str, &str)> {
    let (server, id) = mxc.strip_prefix("mxc://")?.split_once('/')?;
    let valid = |s: &str| !s.is_empty() && !s.contains(['/', '?', '#']);
    (valid(server) && valid(id)).then_some((server, id))
}

/// The content of `m.direct`: user ID → room IDs; malformed entries are
/// skipped.
pub fn parse_direct(content: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
    content
        .as_object()
        .map(|users| {
            users
                .iter()
                .filter_map(|(user, rooms)| {
                    let rooms: Vec<String> = rooms
                        .as_array()?
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    Some((user.clone(), rooms))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mxc_uris_split_into_server_and_id() {
        assert_eq!(
            parse_mxc("mxc://example.org/abc123"),
            Some(("example.org", "abc123"))
        );
        for bad in [
            "mxc://example.org",
            "mxc:///abc",
            "http://x/y",
            "mxc://a/b/c",
            "mxc://a/",
        ] {
            assert_eq!(parse_mxc(bad), None, "{bad}");
        }
    }

    #[test]
    fn path_segments_encode_sigils_and_separators() {
        assert_eq!(segment("#room:example.org"), "%23room%3Aexample.org");
        assert_eq!(segment("!a/b?c"), "%21a%2Fb%3Fc");
    }

    #[test]
    fn direct_partners_skip_malformed_entries() {
        let direct = parse_direct(&json!({"@a:x": ["!r:x", 3], "@b:x": "oops"}));
        assert_eq!(direct.len(), 1);
        assert_eq!(direct["@a:x"], ["!r:x"]);
        assert!(parse_direct(&json!([1])).is_empty());
    }

    #[test]
    fn only_this_clients_transactions_are_its_own() -> Result<(), reqwest::Error> {
        let a = Client::new("http://127.0.0.1:1", Limits::default())?;
        let b = Client::new("http://127.0.0.1:1", Limits::default())?;
        let txn = a.next_txn();
        assert!(a.is_own_transaction(&txn));
        assert!(!a.is_own_transaction("other.1"));
        // Two clients made in the same nanosecond are not told apart; any
        // later one is.
        if a.txn_prefix != b.txn_prefix {
            assert!(!b.is_own_transaction(&txn));
        }
        Ok(())
    }
}
