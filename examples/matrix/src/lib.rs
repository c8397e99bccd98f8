//! A Spectrum 2 backend for Matrix.
//!
//! [`matrix`] is the network side: a client for the client-server API
//! endpoints the backend needs, with no knowledge of Spectrum 2.

pub mod matrix;
