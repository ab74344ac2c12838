//! The `$JS.API` JSON and the stream-configuration rules of nats-server 2.15.1.
//! (Being built.)
