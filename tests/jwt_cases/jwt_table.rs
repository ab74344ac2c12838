//! JWT operator mode wire cases (MEMORY resolver, preloaded accounts), each with the
//! exact bytes nats-server 2.15.1 answers. Placeholders are filled from
//! [`crate::world::World::test_keys`]: every user JWT is for the test user key, so
//! `{sig}` is a good nonce signature and `{stranger_sig}` a bad one. The answers do not
//! depend on the claims version: the same table runs on worlds of version 2, version 1
//! and mixed JWTs.

use crate::script::{closes, listen, talk, ScriptCase};
use crate::world::{OPERATOR_CONFIG, V1_ONLY_CONFIG};

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

/// The greeting in operator mode: auth required, with a nonce.
const GREETING: &str = crate::script::NKEY_GREETING;

pub const JWT_CASES: &[ScriptCase] = &[
    ScriptCase {
        name: "jwt_user_signed_nonce_accepted",
        why: "a user JWT of a preloaded account plus the nonce signed by the user's seed",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_a_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "jwt_user_issued_by_account_signing_key",
        why: "a user signed by one of the account's signing keys, naming issuer_account",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_by_signer_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "jwt_user_wrong_nonce_signature",
        why: "the nonce signed by another key does not verify against the JWT's subject",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"jwt\":\"{user_a_jwt}\"", "\"sig\":\"{stranger_sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_user_without_signature",
        why: "a non-bearer user JWT needs sig",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"jwt\":\"{user_a_jwt}\""), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_missing_user_jwt",
        why: "in operator mode an nkey and signature without a JWT are not enough",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(connect!("\"nkey\":\"{nkey}\"", "\"sig\":\"{sig}\""), "PING"),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_user_of_unknown_account",
        why: "a user signed by an account that is not preloaded",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"jwt\":\"{user_unknown_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_user_expired",
        why: "a user JWT past its exp",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"jwt\":\"{user_expired_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_user_permissions_enforced",
        why: "the user JWT's pub allow and sub deny become the connection's permissions",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_limited_jwt}\"", "\"sig\":\"{sig}\""),
                "SUB allowed.x 1",
                "SUB secret 2",
                "PUB other 2",
                "hi",
                "PUB allowed.x 2",
                "ok",
                "PING"
            ),
            concat!(
                "-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n",
                "-ERR 'Permissions Violation for Publish to \"other\"'\r\n",
                "MSG allowed.x 1 2\r\nok\r\n",
                "PONG\r\n"
            ),
        )],
    },
    ScriptCase {
        name: "jwt_account_connection_limit",
        why: "account C's JWT allows one connection; the second is refused",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[
            talk(
                0,
                lines!(
                    connect!("\"jwt\":\"{user_c_jwt}\"", "\"sig\":\"{sig}\""),
                    "PING"
                ),
                "PONG\r\n",
            ),
            closes(
                1,
                lines!(
                    connect!("\"jwt\":\"{user_c_jwt}\"", "\"sig\":\"{sig}\""),
                    "PING"
                ),
                "-ERR 'maximum account active connections exceeded'\r\n",
            ),
        ],
    },
    ScriptCase {
        name: "jwt_accounts_are_isolated",
        why: "a publish in account B does not reach a subscriber in A; one in A does",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[
            talk(
                0,
                lines!(
                    connect!("\"jwt\":\"{user_a_jwt}\"", "\"sig\":\"{sig}\""),
                    "SUB shared 1",
                    "PING"
                ),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    connect!("\"jwt\":\"{user_b_jwt}\"", "\"sig\":\"{sig}\""),
                    "PUB shared 4",
                    "from",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, ""),
            talk(
                2,
                lines!(
                    connect!("\"jwt\":\"{user_a_jwt}\"", "\"sig\":\"{sig}\""),
                    "PUB shared 4",
                    "same",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, "MSG shared 1 4\r\nsame\r\n"),
        ],
    },
    ScriptCase {
        name: "jwt_user_forged_signature",
        why: "a user JWT naming account A as issuer but signed by another key",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"jwt\":\"{user_forged_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_user_signed_over_the_other_versions_text",
        why: "version 1 signs the payload alone, version 2 header.payload; the other's \
              text does not verify",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!(
                    "\"jwt\":\"{user_other_signed_text_jwt}\"",
                    "\"sig\":\"{sig}\""
                ),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_user_revoked_by_account",
        why: "account D's revocations name the user, issued before the revocation time",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!("\"jwt\":\"{user_d_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            VIOLATION,
        )],
    },
    ScriptCase {
        name: "jwt_account_signed_by_operator_signing_key",
        why: "account B is signed by a signing key the operator JWT lists",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_b_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "jwt_account_subscription_limit",
        why: "account C's JWT allows one subscription; the second is refused, the \
              connection stays",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_c_jwt}\"", "\"sig\":\"{sig}\""),
                "SUB one 1",
                "SUB two 2",
                "PING"
            ),
            concat!("-ERR 'maximum subscriptions exceeded'\r\n", "PONG\r\n"),
        )],
    },
    ScriptCase {
        name: "jwt_stream_export_imported",
        why: "account A exports the stream feed.>, B imports it: B's subscriber gets A's \
              publish",
        config: OPERATOR_CONFIG,
        greeting: GREETING,
        steps: &[
            talk(
                0,
                lines!(
                    connect!("\"jwt\":\"{user_b_jwt}\"", "\"sig\":\"{sig}\""),
                    "SUB feed.x 1",
                    "PING"
                ),
                "PONG\r\n",
            ),
            talk(
                1,
                lines!(
                    connect!("\"jwt\":\"{user_a_jwt}\"", "\"sig\":\"{sig}\""),
                    "PUB feed.x 4",
                    "news",
                    "PING"
                ),
                "PONG\r\n",
            ),
            listen(0, "MSG feed.x 1 4\r\nnews\r\n"),
        ],
    },
];

/// Cases whose answer holds only when the account and user JWTs are version 1: claims
/// version 2 added (or moved) are not read from version 1 tokens.
pub const JWT_V1_ONLY_CASES: &[ScriptCase] = &[
    ScriptCase {
        name: "jwt_v1_account_ignores_version_2_claims",
        why: "default_permissions and mappings are not version 1 account fields: the \
              decoder drops them, so nothing is denied or mapped",
        config: V1_ONLY_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_e_jwt}\"", "\"sig\":\"{sig}\""),
                "SUB e.in 1",
                "PUB e.in 2",
                "hi",
                "PING"
            ),
            "MSG e.in 1 2\r\nhi\r\nPONG\r\n",
        )],
    },
    ScriptCase {
        name: "jwt_v1_user_ignores_allowed_connection_types",
        why: "allowed_connection_types is a version 2 user field; a version 1 user naming \
              only WEBSOCKET still logs in over plain TCP",
        config: V1_ONLY_CONFIG,
        greeting: GREETING,
        steps: &[talk(
            0,
            lines!(
                connect!("\"jwt\":\"{user_websocket_only_jwt}\"", "\"sig\":\"{sig}\""),
                "PING"
            ),
            "PONG\r\n",
        )],
    },
    ScriptCase {
        name: "jwt_v1_user_issuer_account_read_from_the_top_level",
        why: "version 1 kept issuer_account beside iss; inside nats it is not read, so a \
              user signed by A's signing key finds no account",
        config: V1_ONLY_CONFIG,
        greeting: GREETING,
        steps: &[closes(
            0,
            lines!(
                connect!(
                    "\"jwt\":\"{user_issuer_account_in_nats_jwt}\"",
                    "\"sig\":\"{sig}\""
                ),
                "PING"
            ),
            VIOLATION,
        )],
    },
];
