//! Authentication and permission wire cases: each is a config file and a short script on
//! one or more connections, with the exact bytes nats-server 2.15.1 answers (checked by
//! `tests/auth.rs::wire_table::reference_matches_table`, compared with ringnats by
//! `tests/auth.rs::wire_table::ringnats_matches_reference`).
//!
//! Conventions (see `script.rs` for the placeholders and the read rules):
//! - CONNECTs turn verbose and pedantic off unless the case is about `+OK`.
//! - A step that leaves its connection open ends with `PING` and expects a final `PONG`,
//!   except listen steps, which prove what arrives (or that nothing does) within a quiet
//!   period.
//! - Deliveries are read on a listen step after the publisher's PONG, never inside another
//!   step's answer, so their timing relative to other replies cannot matter.
//!
//! Reference behaviour worth knowing, all confirmed on nats-server 2.15.1:
//! - With auth on, any op before CONNECT (even PING) gets `-ERR 'Authorization
//!   Violation'` and a close, unless `no_auth_user` names an existing user: then the
//!   connection is that user at once, with verbose still at its default (on), and the
//!   greeting INFO leaves `auth_required` out altogether.
//! - A CONNECT whose JSON does not parse, or has a wrong type for a known field, closes
//!   the connection with no `-ERR` at all, auth or not.
//! - Sending any credential (even an `auth_token` when only users exist) turns
//!   `no_auth_user` off for that connection.
//! - `"account":"X"` in CONNECT is an authorization violation (client.go: account
//!   designation is an error now).
//! - Permission lists are matched against the subscription's subject as literal tokens, so
//!   `allow: "foo.*"` lets a client subscribe to `foo.>` (the `>` token matches `*`), and
//!   a queue entry `"foo.* q1"` allows `SUB foo.> q1`.

use crate::script::{
    closes, listen, pause, talk, ScriptCase, AUTH_GREETING, NKEY_GREETING, NO_AUTH_GREETING,
};

/// `-ERR 'Authorization Violation'`, the answer to every failed authentication.
const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

/// One token for everyone.
const TOKEN: &str = "authorization { token: s3cr3t }";

/// One user with a plain password.
const SINGLE_USER: &str = "authorization { user: alice, password: wonder }";

/// `bcrypt-pass` hashed with cost 11. Made with libxcrypt (glibc `crypt`), here through
/// Python: `crypt.crypt("bcrypt-pass", "$2a$11$" + crypt.mksalt(crypt.METHOD_BLOWFISH,
/// rounds=2**11)[7:])`; `htpasswd -bnBC 11 "" bcrypt-pass` makes an equivalent `$2y$`
/// hash. nats-server treats a password as bcrypt when it matches `^\$2[abxy]\$\d{2}\$`.
pub const BCRYPT_HASH: &str = "$2a$11$fmgYKAUpA1gfcXKCdDDhKeBheGqbF9b.aEUVQ/B9sNt9qIGrUvYMK";
/// The password [`BCRYPT_HASH`] was made from.
pub const BCRYPT_PASSWORD: &str = "bcrypt-pass";

/// A user list with a bcrypt'd password and a bcrypt'd token elsewhere.
const BCRYPT_USERS: &str = r#"authorization { users = [
  {user: b, password: "$2a$11$fmgYKAUpA1gfcXKCdDDhKeBheGqbF9b.aEUVQ/B9sNt9qIGrUvYMK"}
] }"#;
const BCRYPT_TOKEN: &str =
    "authorization { token: \"$2a$11$fmgYKAUpA1gfcXKCdDDhKeBheGqbF9b.aEUVQ/B9sNt9qIGrUvYMK\" }";

/// A default user `anon` who may only publish under `anon.>`.
const NO_AUTH_USER: &str = r#"authorization { users = [
  {user: anon, password: p, permissions: { publish: "anon.>" }}
  {user: named, password: p}
] }
no_auth_user: anon"#;

/// A token with a one-second authentication timeout.
const AUTH_TIMEOUT: &str = "authorization { timeout: 1, token: s3cr3t }";

/// One nkey user (the run's `{nkey}`).
const NKEY_USER: &str = "authorization { users = [ {nkey: \"{nkey}\"} ] }";

/// Users covering the permission matrix; every password is `p`.
const PERMISSIONS: &str = r#"authorization { users = [
  {user: admin, password: p}
  {user: pubonly, password: p, permissions: { publish: ["foo.*", "bar.>"], subscribe: { deny: ">" } } }
  {user: subonly, password: p, permissions: { publish: { deny: ">" }, subscribe: ["foo.*", "_INBOX.>"] } }
  {user: mixed, password: p, permissions: { publish: { allow: ">", deny: ["secret.>", "foo.x"] }, subscribe: { allow: "foo.>", deny: "foo.secret" } } }
  {user: queue, password: p, permissions: { subscribe: ["foo.* q1", "bar", "baz.> q2"] } }
  {user: qdeny, password: p, permissions: { subscribe: { allow: ">", deny: ["foo.* q1"] } } }
  {user: webonly, password: p, allowed_connection_types: ["WEBSOCKET"]}
]}"#;

/// A requester and responders that may only answer through `allow_responses`.
const RESPONSES: &str = r#"authorization { users = [
  {user: req, password: p, permissions: { publish: "svc.>", subscribe: "_INBOX.>" } }
  {user: resp, password: p, permissions: { subscribe: "svc.>", allow_responses: true } }
  {user: resp2, password: p, permissions: { subscribe: "svc.>", allow_responses: { max: 2 } } }
  {user: resp3, password: p, permissions: { publish: "log.>", subscribe: "svc.>", allow_responses: { max: 2, expires: "1m" } } }
  {user: resp4, password: p, permissions: { subscribe: "svc.>", allow_responses: { max: 5, expires: "1s" } } }
]}"#;

/// `default_permissions` for users without their own.
const DEFAULT_PERMISSIONS: &str = r#"authorization {
  default_permissions: { publish: "pub.>", subscribe: { deny: "secret.>" } }
  users = [ {user: d, password: p}, {user: own, password: p, permissions: { publish: "own.>" } } ]
}"#;

pub const AUTH_CASES: &[ScriptCase] = &[
    // ---- before CONNECT ----
    ScriptCase {
        name: "ping_before_connect_is_a_violation",
        why: "with auth required only CONNECT may come first (parser.go: authSet -> authErr)",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("PING"), VIOLATION)],
    },
    ScriptCase {
        name: "sub_before_connect_is_a_violation",
        why: "SUB before CONNECT with auth on is refused and closed",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("SUB foo 1"), VIOLATION)],
    },
    ScriptCase {
        name: "pub_before_connect_is_a_violation",
        why: "PUB before CONNECT with auth on is refused and closed",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("PUB foo 1", "x"), VIOLATION)],
    },
    // ---- token ----
    ScriptCase {
        name: "token_accepted",
        why: "the right auth_token logs in",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(connect!("\"auth_token\":\"s3cr3t\""), "PING"),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "token_accepted_verbose",
        why: "a CONNECT without verbose:false is acknowledged with +OK once authenticated",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!("CONNECT {\"auth_token\":\"s3cr3t\"}", "PING"),
            lines!("+OK", "PONG"),
        )],
    },
    ScriptCase {
        name: "token_wrong",
        why: "a wrong token is an authorization violation and a close; the PING is never answered",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"auth_token\":\"nope\""), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "token_missing",
        why: "a CONNECT without credentials is refused when a token is required",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!(connect!(), "PING"), VIOLATION)],
    },
    ScriptCase {
        name: "token_sent_as_password",
        why: "the token is only read from auth_token, not from user/pass",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(user!("s3cr3t", "s3cr3t"), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "second_connect_is_checked_again",
        why: "a later CONNECT re-runs authentication; bad credentials then close the connection",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"auth_token\":\"s3cr3t\""),
                "PING",
                connect!("\"auth_token\":\"bad\""),
                "PING"
            ),
            lines!("PONG", "-ERR 'Authorization Violation'"),
        )],
    },
    ScriptCase {
        name: "connect_naming_an_account_is_a_violation",
        why: "client.go processConnect: an `account` designation in CONNECT is an error now",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"auth_token\":\"s3cr3t\"", "\"account\":\"A\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    // ---- garbage in CONNECT ----
    ScriptCase {
        name: "connect_not_json_closes_silently",
        why: "json.Unmarshal fails in processConnect: the parse error closes with no -ERR",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("CONNECT foo", "PING"), "")],
    },
    ScriptCase {
        name: "connect_truncated_json_closes_silently",
        why: "a CONNECT whose JSON stops mid-object closes with no -ERR",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("CONNECT {\"auth_token\":", "PING"), "")],
    },
    ScriptCase {
        name: "connect_without_arguments_closes_silently",
        why: "a bare CONNECT line is a parse error: closed with no -ERR",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("CONNECT", "PING"), "")],
    },
    ScriptCase {
        name: "connect_token_of_wrong_type_closes_silently",
        why: "auth_token must be a string; a number fails json.Unmarshal and closes silently",
        config: TOKEN,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!("CONNECT {\"auth_token\":1}", "PING"), "")],
    },
    // ---- user and password ----
    ScriptCase {
        name: "user_password_accepted",
        why: "the single configured user logs in",
        config: SINGLE_USER,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(user!("alice", "wonder"), "PING"),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "user_password_wrong",
        why: "a wrong password is refused",
        config: SINGLE_USER,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(user!("alice", "wrong"), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "user_without_password",
        why: "a user name alone is refused",
        config: SINGLE_USER,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"user\":\"alice\""), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "user_unknown",
        why: "an unknown user with the right password is refused",
        config: SINGLE_USER,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(user!("mallory", "wonder"), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "password_sent_as_token",
        why: "a password is only read from pass, not from auth_token",
        config: SINGLE_USER,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"auth_token\":\"wonder\""), "PING"),
            VIOLATION,
        )],
    },
    // ---- bcrypt ----
    ScriptCase {
        name: "bcrypt_password_accepted",
        why: "a user whose configured password is a bcrypt hash logs in with the clear password",
        config: BCRYPT_USERS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(user!("b", "bcrypt-pass"), "PING"),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "bcrypt_hash_itself_is_not_the_password",
        why: "sending the configured hash as the password must fail",
        config: BCRYPT_USERS,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(
                user!(
                    "b",
                    "$2a$11$fmgYKAUpA1gfcXKCdDDhKeBheGqbF9b.aEUVQ/B9sNt9qIGrUvYMK"
                ),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "bcrypt_password_wrong",
        why: "a wrong clear password against a bcrypt hash is refused",
        config: BCRYPT_USERS,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(user!("b", "bcrypt-pasS"), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "bcrypt_token_accepted",
        why: "a token may be a bcrypt hash too (auth.go isBcrypt applies to tokens)",
        config: BCRYPT_TOKEN,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(connect!("\"auth_token\":\"bcrypt-pass\""), "PING"),
            "PONG\r\n",
        )],
    },
    // ---- no_auth_user ----
    ScriptCase {
        name: "no_auth_user_allows_ops_before_connect",
        why: "with no_auth_user the first op may be anything (telnet demos); verbose is still \
              on by default, and the default user's permissions apply",
        config: NO_AUTH_USER,
        greeting: NO_AUTH_GREETING,
        steps: &[talk(
            0,
            lines!("PUB anon.x 1", "x", "PUB other 1", "x", "PING"),
            lines!(
                "+OK",
                "-ERR 'Permissions Violation for Publish to \"other\"'",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "no_auth_user_connect_without_credentials",
        why: "a CONNECT without credentials becomes the no_auth_user",
        config: NO_AUTH_USER,
        greeting: NO_AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(connect!(), "PUB other 1", "x", "PING"),
            lines!(
                "-ERR 'Permissions Violation for Publish to \"other\"'",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "no_auth_user_named_user_still_logs_in",
        why: "other users log in as themselves, with their own (unlimited) permissions",
        config: NO_AUTH_USER,
        greeting: NO_AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(user!("named", "p"), "PUB other 1", "x", "PING"),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "no_auth_user_wrong_password_still_refused",
        why: "credentials that fail do not fall back to the no_auth_user",
        config: NO_AUTH_USER,
        greeting: NO_AUTH_GREETING,
        steps: &[closes(0, lines!(user!("named", "bad"), "PING"), VIOLATION)],
    },
    ScriptCase {
        name: "no_auth_user_token_counts_as_credentials",
        why: "an auth_token is a credential too, so the no_auth_user does not apply",
        config: NO_AUTH_USER,
        greeting: NO_AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"auth_token\":\"zz\""), "PING"),
            VIOLATION,
        )],
    },
    // ---- authentication timeout ----
    ScriptCase {
        name: "auth_timeout_when_silent",
        why: "authorization { timeout: 1 }: a client that says nothing gets \
              -ERR 'Authentication Timeout' after a second, then a close",
        config: AUTH_TIMEOUT,
        greeting: AUTH_GREETING,
        steps: &[closes(0, "", "-ERR 'Authentication Timeout'\r\n")],
    },
    ScriptCase {
        name: "auth_timeout_with_half_a_connect",
        why: "an unfinished CONNECT line does not stop the authentication timer",
        config: AUTH_TIMEOUT,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            "CONNECT {\"auth_",
            "-ERR 'Authentication Timeout'\r\n",
        )],
    },
    ScriptCase {
        name: "auth_timeout_cleared_by_connect",
        why: "a successful CONNECT stops the timer: the connection outlives the timeout",
        config: AUTH_TIMEOUT,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(connect!("\"auth_token\":\"s3cr3t\""), "PING"),
                "PONG\r\n",
            ),
            pause(1500),
            talk(0, lines!("PING"), "PONG\r\n"),
        ],
    },
    // ---- nkeys ----
    ScriptCase {
        name: "nkey_signed_nonce_accepted",
        why: "an nkey user signs the INFO nonce; a good signature logs in",
        config: NKEY_USER,
        greeting: NKEY_GREETING,
        steps: &[talk(
            0,
            lines!(connect!("\"nkey\":\"{nkey}\"", "\"sig\":\"{sig}\""), "PING"),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "nkey_signed_by_another_key",
        why: "a signature by a different key does not verify",
        config: NKEY_USER,
        greeting: NKEY_GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"nkey\":\"{nkey}\"", "\"sig\":\"{stranger_sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "nkey_without_signature",
        why: "an nkey without sig is refused",
        config: NKEY_USER,
        greeting: NKEY_GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"nkey\":\"{nkey}\""), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "nkey_signature_not_base64",
        why: "a sig that is not base64 is refused",
        config: NKEY_USER,
        greeting: NKEY_GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"nkey\":\"{nkey}\"", "\"sig\":\"!!not base64!!\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "nkey_unknown_key",
        why: "a correct signature by a key that is not configured is refused",
        config: NKEY_USER,
        greeting: NKEY_GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"nkey\":\"{stranger_nkey}\"", "\"sig\":\"{stranger_sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    // ---- permissions ----
    ScriptCase {
        name: "permissions_publish_allow_list",
        why: "publish allow list: foo.* is one token, bar.> any depth; a denied SUB and PUB \
              each get their own -ERR and the connection stays open",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"pubonly\",\"pass\":\"p\"}",
                "PUB foo.a 1",
                "x",
                "PUB foo.a.b 1",
                "x",
                "PUB bar.a.b 1",
                "x",
                "PUB baz 1",
                "x",
                "SUB foo.a 1",
                "PING"
            ),
            lines!(
                "+OK",
                "+OK",
                "-ERR 'Permissions Violation for Publish to \"foo.a.b\"'",
                "+OK",
                "-ERR 'Permissions Violation for Publish to \"baz\"'",
                "-ERR 'Permissions Violation for Subscription to \"foo.a\"'",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "permissions_subscribe_allow_list",
        why: "subscribe allow list; `foo.>` passes `allow: foo.*` because the allow list is \
              matched with the subject's tokens as literals (surprising, but the reference)",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"subonly\",\"pass\":\"p\"}",
                "PUB foo.a 1",
                "x",
                "SUB foo.a 1",
                "SUB foo.a.b 2",
                "SUB foo.* 3",
                "SUB foo.> 4",
                "SUB > 5",
                "SUB foo.a qq 6",
                "PING"
            ),
            lines!(
                "+OK",
                "-ERR 'Permissions Violation for Publish to \"foo.a\"'",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"foo.a.b\"'",
                "+OK",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \">\"'",
                "+OK",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "permissions_allow_and_deny",
        why: "deny wins over allow, for publish and subscribe",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"mixed\",\"pass\":\"p\"}",
                "PUB secret.a 1",
                "x",
                "PUB foo.x 1",
                "x",
                "PUB foo.y 1",
                "x",
                "PUB secret 1",
                "x",
                "SUB foo.secret 1",
                "SUB foo.* 2",
                "SUB bar 3",
                "PING"
            ),
            lines!(
                "+OK",
                "-ERR 'Permissions Violation for Publish to \"secret.a\"'",
                "-ERR 'Permissions Violation for Publish to \"foo.x\"'",
                "+OK",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"foo.secret\"'",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"bar\"'",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "permissions_queue_scoped_allow",
        why: "\"foo.* q1\" allows only queue q1 on foo.*, no plain sub; a plain entry allows \
              any queue; the -ERR names the queue",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"queue\",\"pass\":\"p\"}",
                "SUB foo.a 1",
                "SUB foo.a q1 2",
                "SUB foo.a q2 3",
                "SUB bar 4",
                "SUB bar qz 5",
                "SUB baz.x q2 6",
                "SUB baz.x 7",
                "SUB foo.* q1 8",
                "SUB foo.> q1 9",
                "PING"
            ),
            lines!(
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"foo.a\"'",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"foo.a\" using queue \"q2\"'",
                "+OK",
                "+OK",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"baz.x\"'",
                "+OK",
                "+OK",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "permissions_queue_scoped_deny",
        why: "deny \"foo.* q1\" refuses that queue only; plain subs and other queues pass",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"qdeny\",\"pass\":\"p\"}",
                "SUB foo.a 1",
                "SUB foo.a q1 2",
                "SUB foo.a q2 3",
                "SUB foo.* q1 4",
                "PING"
            ),
            lines!(
                "+OK",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"foo.a\" using queue \"q1\"'",
                "+OK",
                "-ERR 'Permissions Violation for Subscription to \"foo.*\" using queue \"q1\"'",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "permissions_deny_applies_on_delivery",
        why: "a wildcard sub that overlaps a subscribe deny is allowed, but messages on the \
              denied subject are not delivered to it (client.go loadMsgDenyFilter)",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("mixed", "p"), "SUB foo.> 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("admin", "p"),
                    "PUB foo.secret 1",
                    "x",
                    "PUB foo.public 1",
                    "y",
                    "PUB foo.secret.x 1",
                    "z",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(
                0,
                lines!("MSG foo.public 1 1", "y", "MSG foo.secret.x 1 1", "z"),
            ),
        ],
    },
    ScriptCase {
        name: "connection_type_not_allowed",
        why: "allowed_connection_types without STANDARD refuses a plain client connection",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[closes(0, lines!(user!("webonly", "p"), "PING"), VIOLATION)],
    },
    ScriptCase {
        name: "reserved_reply_prefix_refused",
        why: "clients may not publish with a `_R_.` reply (service import replies, \
              client.go isReservedReply), whatever their permissions",
        config: PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(user!("admin", "p"), "PUB foo _R_.abc.def 1", "x", "PING"),
            lines!(
                "-ERR 'Permissions Violation for Publish with Reply of \"_R_.*\"'",
                "PONG"
            ),
        )],
    },
    // ---- allow_responses ----
    ScriptCase {
        name: "allow_responses_true_grants_one_reply",
        why: "allow_responses: true lets a responder publish once to the reply subject of a \
              request it received, and nowhere else; before the request it may not",
        config: RESPONSES,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(
                    user!("resp", "p"),
                    "SUB svc.a 1",
                    "PUB _INBOX.r 1",
                    "x",
                    "PING"
                ),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'",
                    "PONG"
                ),
            ),
            talk(
                1,
                lines!(
                    user!("req", "p"),
                    "SUB _INBOX.r 9",
                    "PUB svc.a _INBOX.r 3",
                    "req",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG svc.a 1 _INBOX.r 3", "req")),
            talk(
                0,
                lines!(
                    "PUB _INBOX.r 2",
                    "r1",
                    "PUB _INBOX.r 2",
                    "r2",
                    "PUB other 1",
                    "x",
                    "PING"
                ),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'",
                    "-ERR 'Permissions Violation for Publish to \"other\"'",
                    "PONG"
                ),
            ),
            listen(1, lines!("MSG _INBOX.r 9 2", "r1")),
        ],
    },
    ScriptCase {
        name: "allow_responses_max_two",
        why: "allow_responses { max: 2 } allows exactly two replies per request",
        config: RESPONSES,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("resp2", "p"), "SUB svc.a 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("req", "p"),
                    "SUB _INBOX.r 9",
                    "PUB svc.a _INBOX.r 3",
                    "req",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG svc.a 1 _INBOX.r 3", "req")),
            talk(
                0,
                lines!(
                    "PUB _INBOX.r 2",
                    "r1",
                    "PUB _INBOX.r 2",
                    "r2",
                    "PUB _INBOX.r 2",
                    "r3",
                    "PING"
                ),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'",
                    "PONG"
                ),
            ),
            listen(
                1,
                lines!("MSG _INBOX.r 9 2", "r1", "MSG _INBOX.r 9 2", "r2"),
            ),
        ],
    },
    ScriptCase {
        name: "allow_responses_beside_a_publish_list",
        why: "a publish allow list and response rights add up",
        config: RESPONSES,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("resp3", "p"), "SUB svc.a 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("req", "p"),
                    "SUB _INBOX.r 9",
                    "PUB svc.a _INBOX.r 3",
                    "req",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG svc.a 1 _INBOX.r 3", "req")),
            talk(
                0,
                lines!(
                    "PUB log.x 2",
                    "l1",
                    "PUB _INBOX.r 2",
                    "r1",
                    "PUB nope 1",
                    "x",
                    "PING"
                ),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"nope\"'",
                    "PONG"
                ),
            ),
            listen(1, lines!("MSG _INBOX.r 9 2", "r1")),
        ],
    },
    ScriptCase {
        name: "allow_responses_expire",
        why: "allow_responses { expires } ends the right to answer after that time, even with \
              replies left",
        config: RESPONSES,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("resp4", "p"), "SUB svc.a 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("req", "p"),
                    "SUB _INBOX.r 9",
                    "PUB svc.a _INBOX.r 3",
                    "req",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG svc.a 1 _INBOX.r 3", "req")),
            talk(0, lines!("PUB _INBOX.r 2", "r1", "PING"), "PONG\r\n"),
            pause(1200),
            talk(
                0,
                lines!("PUB _INBOX.r 2", "r2", "PING"),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'",
                    "PONG"
                ),
            ),
            listen(1, lines!("MSG _INBOX.r 9 2", "r1")),
        ],
    },
    // ---- default_permissions ----
    ScriptCase {
        name: "default_permissions_for_users_without_their_own",
        why: "authorization { default_permissions } applies to users with no permissions",
        config: DEFAULT_PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                user!("d", "p"),
                "PUB pub.x 1",
                "x",
                "PUB other 1",
                "x",
                "SUB secret.x 1",
                "SUB any 2",
                "PING"
            ),
            lines!(
                "-ERR 'Permissions Violation for Publish to \"other\"'",
                "-ERR 'Permissions Violation for Subscription to \"secret.x\"'",
                "PONG"
            ),
        )],
    },
    ScriptCase {
        name: "default_permissions_replaced_by_own",
        why: "a user's own permissions replace the defaults entirely (publish and subscribe)",
        config: DEFAULT_PERMISSIONS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                user!("own", "p"),
                "PUB pub.x 1",
                "x",
                "PUB own.x 1",
                "x",
                "SUB secret.x 1",
                "PING"
            ),
            lines!(
                "-ERR 'Permissions Violation for Publish to \"pub.x\"'",
                "PONG"
            ),
        )],
    },
];
