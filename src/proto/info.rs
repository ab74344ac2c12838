//! INFO: the server's self-description, sent first on every connection and again (with
//! `connect_info`) after the first PONG to protocol-1 clients.
//!
//! Field order is nats-server's `Info` struct order, because some tools compare bytes;
//! the line ends in `} \r\n` (a space before CRLF), as nats-server's does. The constant
//! part is rendered once at start-up; only `client_id` and `client_ip` vary.

use std::net::IpAddr;

/// The nats-server version whose behaviour ringnats matches; clients gate features on it.
pub const COMPATIBLE_VERSION: &str = "2.15.1";
/// nats-server's protocol level.
pub const PROTOCOL_LEVEL: u32 = 1;
/// nats-server 2.15.1's API level, advertised as `api_lvl`.
pub const API_LEVEL: u32 = 5;
/// ringnats's own version, carried in the extra `ringnats` INFO field.
pub const RINGNATS_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit ringnats was built from (set by build.rs, "unknown" outside git).
pub const GIT_COMMIT: &str = env!("RINGNATS_GIT_COMMIT");

/// What goes into every INFO this server sends.
#[derive(Clone, Debug)]
pub struct ServerIdentity {
    /// A 56-character nkey server public key.
    pub server_id: String,
    /// `server_name`; the id when not configured.
    pub server_name: String,
    /// The configured listen host, as nats-server reports it.
    pub host: String,
    /// The bound client port.
    pub port: u16,
    /// Whether headers are supported (`no_header_support` turns them off).
    pub headers: bool,
    /// `max_payload`.
    pub payload_bytes_max: u32,
    /// Clients must authenticate (`auth_required`).
    pub auth_required: bool,
    /// `no_auth_user` is set: the greeting leaves `auth_required` out (clients without
    /// credentials get in), the INFO after CONNECT keeps it, as nats-server does.
    pub no_auth_user: bool,
    /// A curve public key, advertised as `xkey` like nats-server does.
    pub xkey: String,
}

/// Which INFO a client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoKind<'a> {
    /// The first line on a new connection, with the nonce to sign when nkeys are in use.
    Greeting {
        /// The connection's nonce (`nonce`), if the server requires one.
        nonce: Option<&'a [u8]>,
    },
    /// The async INFO after the first PONG that follows CONNECT (protocol 1 clients).
    AfterConnect {
        /// The client's account name (`remote_account`).
        account: &'a str,
        /// The account is the system account (`acc_is_sys`).
        system: bool,
    },
    /// The async INFO announcing lame-duck mode (`"ldm":true`).
    LameDuck,
}

/// The pre-rendered pieces of INFO.
#[derive(Clone, Debug)]
pub struct InfoTemplate {
    /// What the template was rendered from (kept to re-render on reload).
    identity: ServerIdentity,
    /// `INFO {"server_id":...,"auth_required":true,` up to `max_payload`, which may be
    /// the client's own (an account limit).
    prefix: String,
    /// `"api_lvl":5,...} \r\n`.
    suffix: String,
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialize")
}

impl InfoTemplate {
    /// Renders the constant parts once.
    pub fn new(identity: &ServerIdentity) -> Self {
        let mut prefix = String::from("INFO {");
        prefix += &format!("\"server_id\":{},", json_string(&identity.server_id));
        prefix += &format!("\"server_name\":{},", json_string(&identity.server_name));
        prefix += &format!("\"version\":\"{COMPATIBLE_VERSION}\",\"proto\":{PROTOCOL_LEVEL},");
        prefix += &format!("\"git_commit\":{},", json_string(GIT_COMMIT));
        prefix += &format!(
            "\"go\":{},",
            json_string(&format!("ringnats{RINGNATS_VERSION}"))
        );
        prefix += &format!(
            "\"host\":{},\"port\":{},",
            json_string(&identity.host),
            identity.port
        );
        if identity.headers {
            prefix += "\"headers\":true,";
        }

        let suffix = format!(
            "\"api_lvl\":{API_LEVEL},\"xkey\":{},\"ringnats\":\"{RINGNATS_VERSION}\"}} \r\n",
            json_string(&identity.xkey)
        );
        Self {
            identity: identity.clone(),
            prefix,
            suffix,
        }
    }

    /// The same INFO with a reloaded `max_payload`.
    pub fn with_payload_max(&self, payload_bytes_max: u32) -> Self {
        Self::new(&ServerIdentity {
            payload_bytes_max,
            ..self.identity.clone()
        })
    }

    /// The same INFO with reloaded `auth_required` and `no_auth_user`.
    pub fn with_auth(&self, auth_required: bool, no_auth_user: bool) -> Self {
        Self::new(&ServerIdentity {
            auth_required,
            no_auth_user,
            ..self.identity.clone()
        })
    }

    /// Appends the INFO line of `kind` for one client.
    pub fn encode(&self, out: &mut Vec<u8>, client: &ClientFields, kind: InfoKind<'_>) {
        use std::io::Write;
        out.extend_from_slice(self.prefix.as_bytes());
        let greeting = matches!(kind, InfoKind::Greeting { .. });
        if self.identity.auth_required && !(greeting && self.identity.no_auth_user) {
            out.extend_from_slice(b"\"auth_required\":true,");
        }
        let _ = write!(
            out,
            "\"max_payload\":{},\"client_id\":{},\"client_ip\":\"{}\",",
            client.payload_max, client.client_id, client.client_ip
        );
        match kind {
            InfoKind::Greeting { nonce } => {
                if let Some(nonce) = nonce {
                    out.extend_from_slice(b"\"nonce\":\"");
                    out.extend_from_slice(nonce);
                    out.extend_from_slice(b"\",");
                }
            }
            // `ldm` sits before `connect_info` in nats-server's Info struct.
            InfoKind::LameDuck => out.extend_from_slice(b"\"ldm\":true,"),
            InfoKind::AfterConnect { account, system } => {
                let _ = write!(
                    out,
                    "\"connect_info\":true,\"remote_account\":{},",
                    json_string(account)
                );
                if system {
                    out.extend_from_slice(b"\"acc_is_sys\":true,");
                }
            }
        }
        out.extend_from_slice(self.suffix.as_bytes());
    }
}

/// The per-client fields of INFO.
#[derive(Clone, Copy, Debug)]
pub struct ClientFields {
    /// `client_id`.
    pub client_id: u64,
    /// `client_ip`.
    pub client_ip: IpAddr,
    /// `max_payload` for this client (the server's, or its account's if lower).
    pub payload_max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_has_nats_server_field_order_and_trailing_space() {
        let identity = ServerIdentity {
            server_id: "NID".into(),
            server_name: "NID".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            payload_bytes_max: 1048576,
            auth_required: false,
            no_auth_user: false,
            xkey: "XKEY".into(),
        };
        let mut out = Vec::new();
        let client = ClientFields {
            client_id: 5,
            client_ip: "127.0.0.1".parse().unwrap(),
            payload_max: 1048576,
        };
        InfoTemplate::new(&identity).encode(
            &mut out,
            &client,
            InfoKind::AfterConnect {
                account: "$G",
                system: false,
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("INFO {\"server_id\":\"NID\",\"server_name\":\"NID\",\"version\":\"2.15.1\",\"proto\":1,"));
        assert!(text.contains(",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\"max_payload\":1048576,\"client_id\":5,\"client_ip\":\"127.0.0.1\",\"connect_info\":true,\"remote_account\":\"$G\",\"api_lvl\":5,"));
        assert!(text.ends_with("} \r\n"));
        let json = &text[5..text.len() - 3];
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(value["ringnats"], RINGNATS_VERSION);
    }
}
