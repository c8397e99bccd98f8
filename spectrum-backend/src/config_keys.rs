//! Single config keys read as the type a backend wants, with the error a
//! login returns for a wrong value (INVALID_SETTINGS naming the key).

use std::str::FromStr;

use crate::config::Config;
use crate::error::{Error, Result};

impl Config {
    /// `key` as a number (surrounding blanks ignored), or `default` when
    /// the key is absent.
    ///
    /// ```
    /// # use spectrum_backend::Config;
    /// let config = Config::parse("[service]\nirc_keepalive = 90\nbad = x\n").unwrap();
    /// assert_eq!(config.number("service.irc_keepalive", 30).unwrap(), 90u64);
    /// assert_eq!(config.number("service.absent", 30).unwrap(), 30u64);
    /// assert!(config.number::<u64>("service.bad", 30).is_err());
    /// ```
    pub fn number<T: FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => (v.trim().parse())
                .map_err(|_| Error::invalid_settings(format!("{key} = {v} is not a whole number"))),
        }
    }

    /// [`Config::number`], refusing a value under `min` (a size that the
    /// backend cannot work with).
    ///
    /// ```
    /// # use spectrum_backend::Config;
    /// let config = Config::parse("[service]\nbuffer = 65536\ntiny = 10\n").unwrap();
    /// assert_eq!(config.number_at_least("service.buffer", 4096, 1024).unwrap(), 65536u64);
    /// assert_eq!(config.number_at_least("service.absent", 4096, 1024).unwrap(), 4096u64);
    /// assert!(config.number_at_least::<u64>("service.tiny", 4096, 1024).is_err());
    /// ```
    pub fn number_at_least<T: FromStr + PartialOrd + std::fmt::Display>(
        &self,
        key: &str,
        default: T,
        min: T,
    ) -> Result<T> {
        let n = self.number(key, default)?;
        if n < min {
            return Err(Error::invalid_settings(format!(
                "{key} = {n} is too small: {min} at least"
            )));
        }
        Ok(n)
    }

    /// `key` as a boolean, spelled as [`Config::get_bool`] reads it, or
    /// `default` when the key is absent.
    ///
    /// ```
    /// # use spectrum_backend::Config;
    /// let config = Config::parse("[service]\nsend_pass = yes\nbad = maybe\n").unwrap();
    /// assert!(config.boolean("service.send_pass", false).unwrap());
    /// assert!(!config.boolean("service.absent", false).unwrap());
    /// assert!(config.boolean("service.bad", false).is_err());
    /// ```
    pub fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => self
                .get_bool(key)
                .ok_or_else(|| Error::invalid_settings(format!("{key} = {v} is not a boolean"))),
        }
    }
}
