//! The stream store: nats-server's file-store format and an in-memory store with the
//! same interface. (Being built.)
