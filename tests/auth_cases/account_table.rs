//! Account wire cases: isolation between accounts and `$G`, stream and service
//! exports/imports (with `prefix`, `to`, and exports restricted to named accounts), reply
//! routing back through a service import, account `limits`, the system account and
//! `no_auth_user` in an account. Same format and conventions as `auth_table.rs`; checked
//! against nats-server 2.15.1 and compared with ringnats by `tests/accounts.rs`.
//!
//! On ringnats consecutive connection numbers sit on different shards (see `script.rs`),
//! so in every case below the publisher and the subscribers it reaches are on different
//! cores.
//!
//! Reference behaviour worth knowing, all confirmed on nats-server 2.15.1:
//! - A service import hands the responder a reply subject `_R_.<random>.<random>`; the
//!   tables show it masked as `_R_.*` and the responder answers it with `{reply}`.
//! - Account `limits { max_subscriptions }` is applied to each connection of the account
//!   (it becomes the client's own limit), not to the account's total.
//! - Account `limits { max_payload }` shows in the INFO sent after CONNECT
//!   (`"max_payload":8`), not in the greeting, which is sent before the account is known.
//! - With `no_auth_user`, the greeting has no `auth_required`, but the INFO pushed after
//!   CONNECT has `"auth_required":true`.
//! - `max_connections` counts the account's connections across all its users, and the
//!   refusal is `-ERR 'maximum account active connections exceeded'` and a close.
//! - A config that imports an export it is not named in does not start at all (see
//!   `tests/accounts.rs::unauthorized_import_is_refused_at_startup`).

use crate::script::{closes, listen, talk, ScriptCase, AUTH_GREETING, NO_AUTH_GREETING};

/// The masked INFO nats-server pushes after the first PONG to a `protocol:1` client once
/// it knows the account: `$max_payload` and the account members (`remote_account`, then
/// `acc_is_sys` for the system account) vary. Note `auth_required` is there even when the
/// greeting left it out for `no_auth_user`.
macro_rules! connect_info {
    ($max_payload:literal, $account_members:literal) => {
        concat!(
            "INFO {\"server_id\":\"*\",\"server_name\":\"*\",\"version\":\"2.15.1\",",
            "\"proto\":1,\"git_commit\":\"*\",\"go\":\"*\",\"host\":\"*\",\"port\":*,",
            "\"headers\":true,\"auth_required\":true,\"max_payload\":",
            $max_payload,
            ",\"client_id\":*,\"client_ip\":\"*\",\"connect_info\":true,",
            $account_members,
            ",\"api_lvl\":5,\"xkey\":\"*\"} \r\n"
        )
    };
}

/// Accounts A (exporter), B and C (importers), and a `$G` user `g`; every password is `p`.
const ACCOUNTS: &str = r#"
authorization { users = [ {user: g, password: p} ] }
accounts {
  A: {
    users: [{user: a, password: p}]
    exports: [
      {stream: "events.>"}
      {stream: "priv.>", accounts: [B]}
      {service: "help.>"}
      {service: "psvc", accounts: [B]}
    ]
  }
  B: {
    users: [{user: b, password: p}]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {stream: {account: A, subject: "priv.>"}}
      {service: {account: A, subject: "help.>"}, to: "ask.>"}
      {service: {account: A, subject: "psvc"}}
    ]
  }
  C: {
    users: [{user: c, password: p}]
    imports: [
      {stream: {account: A, subject: "events.>"}, to: "ev.>"}
      {service: {account: A, subject: "help.me"}}
    ]
  }
}
"#;

/// An account with small limits, two users.
const LIMITS: &str = r#"
accounts {
  L: {
    users: [{user: l, password: p}, {user: l2, password: p}]
    limits: { max_connections: 2, max_subscriptions: 2, max_payload: 8 }
  }
}
"#;

/// A named system account with a user, next to an ordinary account.
const SYSTEM: &str = r#"
accounts {
  A: { users: [{user: a, password: p}] }
  SYS: { users: [{user: sys, password: p}] }
}
system_account: SYS
"#;

/// The default system account `$SYS` given a user directly.
const DEFAULT_SYSTEM: &str = r#"
accounts {
  A: { users: [{user: a, password: p}] }
  $SYS: { users: [{user: admin, password: p}] }
}
"#;

/// `no_auth_user` in an account whose default permissions beat the top-level ones.
const NO_AUTH_ACCOUNT: &str = r#"
authorization { default_permissions: { publish: "top.>" } }
accounts {
  A: {
    default_permissions: { publish: "a.>" }
    users: [ {user: a, password: p}, {user: a2, password: p, permissions: { publish: "b.>" }} ]
  }
}
no_auth_user: a
"#;

pub const ACCOUNT_CASES: &[ScriptCase] = &[
    // ---- isolation ----
    ScriptCase {
        name: "accounts_isolate_subjects",
        why: "the same subject in A, B and $G are three different subjects: a publish reaches \
              only its own account's subscribers",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(0, lines!(user!("a", "p"), "SUB foo 1", "PING"), "PONG\r\n"),
            talk(1, lines!(user!("b", "p"), "SUB foo 1", "PING"), "PONG\r\n"),
            talk(2, lines!(user!("g", "p"), "SUB foo 1", "PING"), "PONG\r\n"),
            talk(
                1,
                lines!("PUB foo 2", "hi", "PING"),
                lines!("MSG foo 1 2", "hi", "PONG"),
            ),
            talk(
                2,
                lines!("PUB foo 2", "yo", "PING"),
                lines!("MSG foo 1 2", "yo", "PONG"),
            ),
            listen(0, ""),
            listen(1, ""),
            talk(
                0,
                lines!("PUB foo 2", "ay", "PING"),
                lines!("MSG foo 1 2", "ay", "PONG"),
            ),
            listen(1, ""),
            listen(2, ""),
        ],
    },
    ScriptCase {
        name: "accounts_unexported_subject_stays_home",
        why: "A's subjects that are not exported never reach an importer, even one importing \
              other subjects from A",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(0, lines!(user!("b", "p"), "SUB > 1", "PING"), "PONG\r\n"),
            talk(
                1,
                lines!(user!("a", "p"), "PUB other.thing 1", "x", "PING"),
                "PONG\r\n",
            ),
            listen(0, ""),
        ],
    },
    // ---- stream imports ----
    ScriptCase {
        name: "stream_import_with_prefix",
        why: "a stream import with prefix delivers A's events.x as fromA.events.x in B, and \
              not under the original name",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(
                    user!("b", "p"),
                    "SUB fromA.events.> 1",
                    "SUB events.> 2",
                    "PING"
                ),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(user!("a", "p"), "PUB events.x 2", "hi", "PING"),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG fromA.events.x 1 2", "hi")),
        ],
    },
    ScriptCase {
        name: "stream_import_with_to",
        why: "a stream import with `to` maps events.> onto ev.> in C",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("c", "p"), "SUB ev.> 1", "SUB events.> 2", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(user!("a", "p"), "PUB events.x 2", "hi", "PING"),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG ev.x 1 2", "hi")),
        ],
    },
    ScriptCase {
        name: "stream_export_restricted_to_named_account",
        why: "priv.> is exported to B only: B's import delivers it, C (not named, no import) \
              gets nothing",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("b", "p"), "SUB priv.> 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                2,
                lines!(user!("c", "p"), "SUB priv.> 1", "SUB > 2", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(user!("a", "p"), "PUB priv.y 2", "ho", "PING"),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG priv.y 1 2", "ho")),
            listen(2, ""),
        ],
    },
    ScriptCase {
        name: "stream_import_is_one_way",
        why: "an importer publishing on the imported subject does not reach the exporter",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("a", "p"), "SUB events.> 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("b", "p"),
                    "PUB events.x 1",
                    "x",
                    "PUB fromA.events.x 1",
                    "y",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, ""),
        ],
    },
    // ---- service imports ----
    ScriptCase {
        name: "service_import_routes_reply_to_requester",
        why: "B's request on ask.me reaches A's responder as help.me with a `_R_.` reply; the \
              answer to that reply comes back to B's inbox",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("a", "p"), "SUB help.> 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("b", "p"),
                    "SUB _INBOX.b 7",
                    "PUB ask.me _INBOX.b 2",
                    "q?",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG help.me 1 _R_.* 2", "q?")),
            talk(0, lines!("PUB {reply} 2", "ok", "PING"), "PONG\r\n"),
            listen(1, lines!("MSG _INBOX.b 7 2", "ok")),
        ],
    },
    ScriptCase {
        name: "service_import_singleton_reply_used_once",
        why: "a singleton service reply is removed after the first answer: a second answer is \
              dropped without an error",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("a", "p"), "SUB help.> 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("b", "p"),
                    "SUB _INBOX.b 7",
                    "PUB ask.me _INBOX.b 2",
                    "q?",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG help.me 1 _R_.* 2", "q?")),
            talk(
                0,
                lines!("PUB {reply} 2", "a1", "PUB {reply} 2", "a2", "PING"),
                "PONG\r\n",
            ),
            listen(1, lines!("MSG _INBOX.b 7 2", "a1")),
        ],
    },
    ScriptCase {
        name: "service_import_without_to",
        why: "a service import without `to` keeps the exported subject in the importer",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("a", "p"), "SUB help.> 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    user!("c", "p"),
                    "SUB _INBOX.c 3",
                    "PUB help.me _INBOX.c 1",
                    "?",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG help.me 1 _R_.* 1", "?")),
            talk(0, lines!("PUB {reply} 1", "!", "PING"), "PONG\r\n"),
            listen(1, lines!("MSG _INBOX.c 3 1", "!")),
        ],
    },
    ScriptCase {
        name: "service_export_restricted_to_named_account",
        why: "psvc is exported to B only; B's import reaches A's responder and the answer \
              comes back",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(0, lines!(user!("a", "p"), "SUB psvc 1", "PING"), "PONG\r\n"),
            talk(
                1,
                lines!(
                    user!("b", "p"),
                    "SUB _INBOX.b 7",
                    "PUB psvc _INBOX.b 1",
                    "?",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, lines!("MSG psvc 1 _R_.* 1", "?")),
            talk(0, lines!("PUB {reply} 1", "!", "PING"), "PONG\r\n"),
            listen(1, lines!("MSG _INBOX.b 7 1", "!")),
        ],
    },
    ScriptCase {
        name: "service_not_imported_stays_home",
        why: "C did not import psvc: its request reaches no one in A",
        config: ACCOUNTS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(0, lines!(user!("a", "p"), "SUB psvc 1", "PING"), "PONG\r\n"),
            talk(
                1,
                lines!(
                    user!("c", "p"),
                    "SUB _INBOX.c 3",
                    "PUB psvc _INBOX.c 1",
                    "?",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, ""),
        ],
    },
    // ---- limits ----
    ScriptCase {
        name: "account_max_connections",
        why: "limits { max_connections: 2 } counts the account's connections over all its \
              users; the third is refused after CONNECT",
        config: LIMITS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(0, lines!(user!("l", "p"), "PING"), "PONG\r\n"),
            talk(1, lines!(user!("l2", "p"), "PING"), "PONG\r\n"),
            closes(
                2,
                lines!(user!("l", "p"), "PING"),
                "-ERR 'maximum account active connections exceeded'\r\n",
            ),
            talk(0, lines!("PING"), "PONG\r\n"),
        ],
    },
    ScriptCase {
        name: "account_max_subscriptions_per_connection",
        why: "limits { max_subscriptions: 2 } refuses a connection's third subscription \
              (the connection stays open); an UNSUB frees a slot; another connection of \
              the account has its own two",
        config: LIMITS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(
                    user!("l", "p"),
                    "SUB a 1",
                    "SUB b 2",
                    "SUB c 3",
                    "UNSUB 1",
                    "SUB d 4",
                    "PING"
                ),
                lines!("-ERR 'maximum subscriptions exceeded'", "PONG"),
            ),
            talk(
                1,
                lines!(user!("l2", "p"), "SUB e 1", "SUB f 2", "PING"),
                "PONG\r\n",
            ),
        ],
    },
    ScriptCase {
        name: "account_max_payload",
        why: "limits { max_payload: 8 } is the account's connections' max_payload: 8 bytes \
              pass, 9 close the connection",
        config: LIMITS,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("l", "p"), "PUB a 8", "12345678", "PING"),
                "PONG\r\n",
            ),
            closes(
                1,
                lines!(user!("l2", "p"), "PUB a 9", "123456789", "PING"),
                "-ERR 'Maximum Payload Violation'\r\n",
            ),
        ],
    },
    ScriptCase {
        name: "account_max_payload_counts_headers",
        why: "an HPUB's size against the account max_payload is headers plus payload",
        config: LIMITS,
        greeting: AUTH_GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"headers\":true", "\"user\":\"l\"", "\"pass\":\"p\""),
                "HPUB a 12 14",
                "NATS/1.0",
                "",
                "12",
                "PING"
            ),
            "-ERR 'Maximum Payload Violation'\r\n",
        )],
    },
    ScriptCase {
        name: "account_max_payload_in_connect_info",
        why: "the INFO pushed after CONNECT (protocol 1) carries the account's max_payload \
              and the account's name",
        config: LIMITS,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"protocol\":1", "\"user\":\"l\"", "\"pass\":\"p\""),
                "PING"
            ),
            concat!("PONG\r\n", connect_info!(8, "\"remote_account\":\"L\"")),
        )],
    },
    // ---- system account ----
    ScriptCase {
        name: "system_account_user_in_connect_info",
        why: "a user of the system account is told so in the INFO after CONNECT \
              (remote_account, acc_is_sys)",
        config: SYSTEM,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"protocol\":1", "\"user\":\"sys\"", "\"pass\":\"p\""),
                "PING"
            ),
            concat!(
                "PONG\r\n",
                connect_info!(1048576, "\"remote_account\":\"SYS\",\"acc_is_sys\":true")
            ),
        )],
    },
    ScriptCase {
        name: "ordinary_account_in_connect_info",
        why: "an ordinary account's user sees its account in remote_account and no acc_is_sys",
        config: SYSTEM,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"protocol\":1", "\"user\":\"a\"", "\"pass\":\"p\""),
                "PING"
            ),
            concat!(
                "PONG\r\n",
                connect_info!(1048576, "\"remote_account\":\"A\"")
            ),
        )],
    },
    ScriptCase {
        name: "system_account_isolated",
        why: "the system account is an account like others for client traffic: its users and \
              other accounts' users do not see each other's messages",
        config: SYSTEM,
        greeting: AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(user!("sys", "p"), "SUB foo 1", "PING"),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(user!("a", "p"), "SUB foo 1", "PUB foo 1", "x", "PING"),
                lines!("MSG foo 1 1", "x", "PONG"),
            ),
            listen(0, ""),
            talk(
                0,
                lines!("PUB foo 1", "y", "PING"),
                lines!("MSG foo 1 1", "y", "PONG"),
            ),
            listen(1, ""),
        ],
    },
    ScriptCase {
        name: "default_system_account_user",
        why: "users listed under the default `$SYS` account log in to the system account",
        config: DEFAULT_SYSTEM,
        greeting: AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"protocol\":1", "\"user\":\"admin\"", "\"pass\":\"p\""),
                "PING"
            ),
            concat!(
                "PONG\r\n",
                connect_info!(1048576, "\"remote_account\":\"$SYS\",\"acc_is_sys\":true")
            ),
        )],
    },
    // ---- no_auth_user in an account ----
    ScriptCase {
        name: "no_auth_user_lands_in_its_account",
        why: "a client without credentials becomes the no_auth_user, in that user's account",
        config: NO_AUTH_ACCOUNT,
        greeting: NO_AUTH_GREETING,
        steps: &[talk(
            0,
            lines!(connect!("\"protocol\":1"), "PING"),
            concat!(
                "PONG\r\n",
                connect_info!(1048576, "\"remote_account\":\"A\"")
            ),
        )],
    },
    ScriptCase {
        name: "account_default_permissions_beat_top_level",
        why: "an account's default_permissions apply to its users without permissions, \
              instead of the authorization block's; a user's own permissions beat both",
        config: NO_AUTH_ACCOUNT,
        greeting: NO_AUTH_GREETING,
        steps: &[
            talk(
                0,
                lines!(connect!(), "PUB a.x 1", "x", "PUB top.x 1", "x", "PING"),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"top.x\"'",
                    "PONG"
                ),
            ),
            talk(
                1,
                lines!(user!("a2", "p"), "PUB a.x 1", "x", "PUB b.x 1", "x", "PING"),
                lines!(
                    "-ERR 'Permissions Violation for Publish to \"a.x\"'",
                    "PONG"
                ),
            ),
        ],
    },
];
