//! A roster tracker.
//!
//! [`Contacts`] remembers what was last sent to Spectrum 2 about each
//! contact of the legacy roster and gives a BUDDY_CHANGED only when
//! something changed, addressed to the user, with every field set (an
//! absent status would read as "online"). Avatars are kept as their hash
//! ([`icon_hash`]).
//!
//! Spectrum 2 stores the roster itself; with `features.send_buddies_on_login`
//! it sends what it has (BUDDIES) after LOGIN: [`Contacts::known_from_main`]
//! takes it, so that the login batch ([`Contacts::roster`]) carries only the
//! contacts that differ.
//!
//! ```
//! use spectrum_backend::StatusType;
//! use spectrum_backend::gateway::contacts::{Contact, Contacts};
//!
//! let mut contacts = Contacts::new("alice@example.org");
//! // At login: the whole legacy roster, written as one batch.
//! let batch = contacts.roster([("bob", Contact::new().alias("Bob"))]);
//! assert_eq!(batch.len(), 1);
//! // Later: only changes give a frame.
//! assert!(contacts.status_changed("bob", StatusType::StatusOnline, "").is_none());
//! assert!(contacts.status_changed("bob", StatusType::StatusAway, "lunch").is_some());
//! ```

mod contact;

use std::collections::{BTreeMap, btree_map};

use spectrum_proto::{self as proto, Payload, StatusType};

pub use contact::{Contact, icon_hash};

#[derive(Debug, Clone)]
struct Entry {
    /// The contact's name as first given (Spectrum 2 matches it without case).
    name: String,
    contact: Contact,
    /// Named by the legacy network (not only by Spectrum 2's BUDDIES).
    confirmed: bool,
}

/// The contacts of one user's session; see the [module](self) documentation.
#[derive(Debug, Clone)]
pub struct Contacts {
    user: String,
    /// By lower-cased name, as Spectrum 2 compares them.
    entries: BTreeMap<String, Entry>,
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

/// A BUDDY_CHANGED or BUDDY_REMOVED body with every field set.
fn buddy(user: &str, name: &str, c: &Contact) -> proto::Buddy {
    let reply = crate::reply::Buddy::new(name)
        .alias(c.alias.as_str())
        .status(c.status)
        .status_message(c.status_message.as_str())
        .icon_hash(c.icon_hash.as_str())
        .blocked(c.blocked);
    c.groups
        .iter()
        .fold(reply, |b, g| b.group(g.as_str()))
        .into_proto(user)
}

impl Contacts {
    /// No contact yet, for `user` (the XMPP bare JID every frame is
    /// addressed to).
    pub fn new(user: impl Into<String>) -> Contacts {
        Contacts {
            user: user.into(),
            entries: BTreeMap::new(),
        }
    }

    /// The XMPP bare JID the frames are addressed to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// What Spectrum 2 stores (the BUDDIES after LOGIN): remembered as
    /// offline contacts, so that only what differs is sent.
    pub fn known_from_main(&mut self, buddies: &proto::Buddies) {
        for b in &buddies.buddy {
            let contact = Contact {
                alias: b.alias.clone().unwrap_or_default(),
                groups: b.group.clone(),
                status: StatusType::StatusNone,
                status_message: String::new(),
                icon_hash: b.icon_hash.clone().unwrap_or_default(),
                blocked: b.blocked.unwrap_or(false),
            };
            self.entries.insert(
                key(&b.buddy_name),
                Entry {
                    name: b.buddy_name.clone(),
                    contact,
                    confirmed: false,
                },
            );
        }
    }

    /// The legacy roster at login: a BUDDY_CHANGED for every contact that
    /// differs from what Spectrum 2 has, to be written together.
    pub fn roster<N: Into<String>>(
        &mut self,
        contacts: impl IntoIterator<Item = (N, Contact)>,
    ) -> Vec<Payload> {
        contacts
            .into_iter()
            .filter_map(|(name, contact)| self.update(&name.into(), contact))
            .collect()
    }

    /// Contacts Spectrum 2 listed in BUDDIES that the legacy network has not
    /// named since: candidates for [`Contacts::removed`].
    pub fn unconfirmed(&self) -> impl Iterator<Item = &str> {
        self.entries
            .values()
            .filter(|e| !e.confirmed)
            .map(|e| e.name.as_str())
    }

    /// `name` is now `contact`: a BUDDY_CHANGED if it is new or changed.
    pub fn update(&mut self, name: &str, contact: Contact) -> Option<Payload> {
        let entry = match self.entries.entry(key(name)) {
            btree_map::Entry::Occupied(known) => {
                let entry = known.into_mut();
                entry.confirmed = true;
                if entry.contact == contact {
                    return None;
                }
                entry.contact = contact;
                entry
            }
            btree_map::Entry::Vacant(new) => new.insert(Entry {
                name: name.to_owned(),
                contact,
                confirmed: true,
            }),
        };
        Some(Payload::BuddyChanged(buddy(
            &self.user,
            &entry.name,
            &entry.contact,
        )))
    }

    /// `name`'s presence changed: a BUDDY_CHANGED if it did. An unknown
    /// contact is added with this presence.
    pub fn status_changed(
        &mut self,
        name: &str,
        status: StatusType,
        message: &str,
    ) -> Option<Payload> {
        let current = self.get(name).cloned().unwrap_or_default();
        self.update(name, current.status(status, message))
    }

    /// `name`'s avatar image is now `image` (empty: none): a BUDDY_CHANGED if
    /// its hash changed.
    pub fn avatar_changed(&mut self, name: &str, image: &[u8]) -> Option<Payload> {
        let current = self.get(name).cloned().unwrap_or_default();
        self.update(name, current.avatar(image))
    }

    /// `name` is gone from the legacy roster: a BUDDY_REMOVED if it was
    /// known.
    pub fn removed(&mut self, name: &str) -> Option<Payload> {
        let entry = self.entries.remove(&key(name))?;
        Some(Payload::BuddyRemoved(buddy(
            &self.user,
            &entry.name,
            &entry.contact,
        )))
    }

    /// The user added or renamed a contact (M→B BUDDY_CHANGED): Spectrum 2
    /// already shows its alias and groups, so they are remembered as sent.
    pub fn changed_by_user(&mut self, buddy: &proto::Buddy) {
        let entry = self
            .entries
            .entry(key(&buddy.buddy_name))
            .or_insert_with(|| Entry {
                name: buddy.buddy_name.clone(),
                contact: Contact::new().status(StatusType::StatusNone, ""),
                confirmed: false,
            });
        if let Some(alias) = buddy.alias.as_ref().filter(|a| !a.is_empty()) {
            entry.contact.alias.clone_from(alias);
        }
        if !buddy.group.is_empty() {
            entry.contact.groups.clone_from(&buddy.group);
        }
    }

    /// The user removed a contact (M→B BUDDY_REMOVED): forgotten, nothing
    /// to send.
    pub fn removed_by_user(&mut self, name: &str) {
        self.entries.remove(&key(name));
    }

    /// The legacy network is unreachable: every contact not already offline
    /// goes offline, one BUDDY_CHANGED each.
    pub fn all_offline(&mut self) -> Vec<Payload> {
        let names: Vec<String> = self
            .entries
            .values()
            .filter(|e| e.contact.status != StatusType::StatusNone)
            .map(|e| e.name.clone())
            .collect();
        names
            .iter()
            .filter_map(|n| self.status_changed(n, StatusType::StatusNone, ""))
            .collect()
    }

    /// What was last sent about `name`.
    pub fn get(&self, name: &str) -> Option<&Contact> {
        self.entries.get(&key(name)).map(|e| &e.contact)
    }

    /// Every contact, with its name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Contact)> {
        self.entries.values().map(|e| (e.name.as_str(), &e.contact))
    }
}

#[cfg(test)]
mod tests;
