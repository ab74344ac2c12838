//! The NATS client protocol: the parser (client -> server ops), CONNECT and INFO, the
//! encoders for server -> client frames, and nats-server's exact `-ERR` texts.

pub mod connect;
pub mod encode;
pub mod errors;
pub mod headers;
pub mod info;
pub mod parser;
pub mod redact;
