//! [`BackendCtx`]: what every session shares (config, shared state) and the
//! messages that are not about one user (ROOM_LIST for all, QUERY).

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use spectrum_proto::{self as proto, Payload};
use tokio::sync::oneshot;

use crate::outbox::Outbox;
use crate::{Config, Result, SendError};

/// The config key naming the state database's directory, when it is not
/// `service.working_dir`.
#[cfg(feature = "store")]
pub const STORE_DIR_KEY: &str = "backend.store_dir";

/// Backend-wide context, shared by every session: the config, shared
/// state, and messages that are not about one user.
#[derive(Clone)]
pub struct BackendCtx {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    backend_id: Option<String>,
    state: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    out: Outbox,
    queries: Mutex<VecDeque<oneshot::Sender<String>>>,
    /// The state database, opened on first use.
    #[cfg(feature = "store")]
    store: Mutex<Option<crate::gateway::store::Store>>,
}

impl std::fmt::Debug for BackendCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendCtx")
            .field("backend_id", &self.shared.backend_id)
            .finish_non_exhaustive()
    }
}

impl BackendCtx {
    pub(crate) fn new(
        config: Config,
        backend_id: Option<String>,
        state: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
        out: Outbox,
    ) -> Self {
        BackendCtx {
            shared: Arc::new(Shared {
                config,
                backend_id,
                state,
                out,
                queries: Mutex::new(VecDeque::new()),
                #[cfg(feature = "store")]
                store: Mutex::new(None),
            }),
        }
    }

    /// The transport config file.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The process's state database ([`Store`](crate::gateway::store::Store)),
    /// opened on first use in the directory named by the config key
    /// `backend.store_dir` or else `service.working_dir` (the backend's
    /// working directory in Spectrum 2), as the file
    /// [`FILE_NAME`](crate::gateway::store::FILE_NAME). A failed open is
    /// tried again at the next call: an operator may fix the directory
    /// meanwhile.
    #[cfg(feature = "store")]
    pub fn store(
        &self,
    ) -> std::result::Result<crate::gateway::store::Store, crate::gateway::store::StoreError> {
        use crate::gateway::store::{Store, StoreError};
        let mut slot = crate::locks::lock(&self.shared.store);
        if let Some(store) = &*slot {
            return Ok(store.clone());
        }
        let config = &self.shared.config;
        let dir = config
            .get(STORE_DIR_KEY)
            .or_else(|| config.get("service.working_dir"))
            .ok_or(StoreError::NoDirectory { key: STORE_DIR_KEY })?;
        let store = Store::open(dir)?;
        tracing::info!(path = %store.path().display(), "state database opened");
        *slot = Some(store.clone());
        Ok(store)
    }

    /// The id the main instance gave this process (`--service.backend_id`).
    pub fn backend_id(&self) -> Option<&str> {
        self.shared.backend_id.as_deref()
    }

    /// Shared state registered with [`Runtime::with_state`](crate::Runtime::with_state).
    ///
    /// # Panics
    /// If no value of type `T` was registered.
    pub fn state<T: Send + Sync + 'static>(&self) -> &T {
        self.try_state().unwrap_or_else(|| {
            panic!(
                "no shared state of type `{}`: register it with Runtime::with_state",
                std::any::type_name::<T>()
            )
        })
    }

    /// Shared state of type `T`, if registered.
    pub fn try_state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.shared
            .state
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
    }

    pub(crate) fn outbox(&self) -> &Outbox {
        &self.shared.out
    }

    /// ROOM_LIST for every user of the transport: `(room, display name)` pairs.
    pub async fn room_list<R, N>(&self, rooms: impl IntoIterator<Item = (R, N)>) -> Result<()>
    where
        R: Into<String>,
        N: Into<String>,
    {
        self.send_room_list(None, rooms).await
    }

    pub(crate) async fn send_room_list<R, N>(
        &self,
        user: Option<String>,
        rooms: impl IntoIterator<Item = (R, N)>,
    ) -> Result<()>
    where
        R: Into<String>,
        N: Into<String>,
    {
        let (room, name) = rooms.into_iter().map(|(r, n)| (r.into(), n.into())).unzip();
        let list = proto::RoomList {
            room,
            name,
            user: Some(user.unwrap_or_default()),
        };
        Ok(self.shared.out.send(&Payload::RoomList(list)).await?)
    }

    /// Runs an admin command on the main instance (QUERY) and returns its
    /// output, e.g. `query("online_users_count")`.
    ///
    /// Answers carry no id; the main instance answers in order, so do we.
    pub async fn query(&self, command: impl Into<String>) -> Result<String> {
        let payload = Payload::Query(proto::BackendConfig {
            config: command.into(),
        });
        let frame = self
            .shared
            .out
            .encode_frames(std::slice::from_ref(&payload))?;
        let slot = self.shared.out.reserve().await?;
        let (tx, rx) = oneshot::channel();
        {
            // One step: the frame and its waiter are queued together, in the
            // same order for every caller, or not at all. The reader takes
            // answers under the same lock.
            let mut queries = crate::locks::lock(&self.shared.queries);
            slot.put(frame);
            queries.push_back(tx);
        }
        Ok(rx.await.map_err(|_| SendError::NoAnswer)?)
    }

    pub(crate) fn answer_query(&self, output: String) {
        let waiting = crate::locks::lock(&self.shared.queries).pop_front();
        match waiting {
            Some(tx) => {
                let _ = tx.send(output);
            }
            None => tracing::warn!("QUERY answer with no query waiting; ignored"),
        }
    }
}
