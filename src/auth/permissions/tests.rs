//! Permission matrices taken from nats-server's own tests (`server/client_test.go`,
//! `test/user_authorization_test.go` with `test/configs/auths.conf`) and from runs of
//! the 2.15.1 binary, plus property tests against a naive model.

use super::*;
use crate::auth::SubjectPermission;
use crate::subject::validate::subject_matches;
use proptest::prelude::*;

fn list(entries: &[&str]) -> Option<Vec<String>> {
    Some(entries.iter().map(|entry| entry.to_string()).collect())
}

fn subject_permission(allow: &[&str], deny: &[&str]) -> SubjectPermission {
    SubjectPermission {
        allow: if allow.is_empty() { None } else { list(allow) },
        deny: if deny.is_empty() { None } else { list(deny) },
    }
}

fn subscribe_only(allow: &[&str], deny: &[&str]) -> CompiledPermissions {
    CompiledPermissions::new(&Permissions {
        subscribe: Some(subject_permission(allow, deny)),
        ..Permissions::default()
    })
}

fn publish_only(allow: &[&str], deny: &[&str]) -> CompiledPermissions {
    CompiledPermissions::new(&Permissions {
        publish: Some(subject_permission(allow, deny)),
        ..Permissions::default()
    })
}

/// nats-server's `TestQueueSubscribePermissions`: (allow, deny, subject, queue, allowed).
#[test]
fn queue_subscribe_permissions_match_nats_server() {
    type Case = (
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
        &'static str,
        bool,
    );
    let cases: &[Case] = &[
        (&["foo"], &[], "foo", "", true),
        (&["foo bar"], &[], "foo", "bar", true),
        (&["foo bar.*"], &[], "foo", "bar.fizz", true),
        (&["> bar.>"], &[], "whizz", "bar.bang", true),
        (&["> bar.>"], &[], "whizz", "", false),
        (&[">"], &["foo"], "foo", "bar", false),
        (&[">"], &["foo"], "bar", "", true),
        (&[">"], &[">"], "foo", "bar", false),
        (&["> v1.>"], &[], "foo", "v1.prod", true),
        (&[">"], &["> >"], "foo", "", true),
        (&[], &["> >"], "foo", "bar", false),
        (&[], &["> *.dev", "> *.stg"], "foo", "bar", true),
        (&["> *.dev", "> *.stg"], &[], "foo", "bar", false),
        (&[], &["foo >"], "foo", "bar", false),
        (&["foo bar"], &[], "foo", "fizz", false),
        (&["foo"], &[], "foo", "bar", true),
        (
            &[">"],
            &["admin.>", "> restricted"],
            "admin.secret",
            "workers",
            false,
        ),
    ];
    for &(allow, deny, subject, queue, expected) in cases {
        let permissions = subscribe_only(allow, deny);
        let queue = (!queue.is_empty()).then_some(queue.as_bytes());
        assert_eq!(
            permissions.can_subscribe(subject.as_bytes(), queue),
            expected,
            "allow {allow:?} deny {deny:?}: SUB {subject} {queue:?}"
        );
    }
}

/// The `NEW_STYLE` role of nats-server's `test/configs/auths.conf`, driven as
/// `TestUserAuthorizationProto` drives it.
#[test]
fn new_style_role_matches_user_authorization_proto() {
    let permissions = CompiledPermissions::new(&Permissions {
        publish: Some(subject_permission(&["*.*"], &["SYS.*", "bar.baz", "foo.*"])),
        subscribe: Some(subject_permission(
            &["foo.*", "SYS.TEST.>"],
            &["foo.baz", "SYS.*"],
        )),
        response: None,
    });
    for subject in ["SANDBOX.foo", "baz.bar", "baz.foo"] {
        assert!(permissions.can_publish(subject.as_bytes()), "PUB {subject}");
    }
    for subject in ["foo", "bar", "foo.bar", "foo.bar.baz", "SYS.1"] {
        assert!(
            !permissions.can_publish(subject.as_bytes()),
            "PUB {subject}"
        );
    }
    for subject in ["foo.bar", "foo.foo", "foo.*", "SYS.TEST.foo"] {
        assert!(
            permissions.can_subscribe(subject.as_bytes(), None),
            "SUB {subject}"
        );
    }
    assert!(permissions.can_subscribe(b"foo.*", Some(b"bar")));
    for subject in ["foo", "foo.baz", "foo.bar.baz", ">", "SYS.>", "SYS.bar"] {
        assert!(
            !permissions.can_subscribe(subject.as_bytes(), None),
            "SUB {subject}"
        );
    }
    // `SUB foo.*` is allowed, but `foo.baz` must not be delivered to it.
    assert!(permissions.subscription_needs_delivery_filter(b"foo.*"));
    assert!(permissions.delivery_denied(b"foo.baz"));
    assert!(!permissions.delivery_denied(b"foo.bar"));
    assert!(permissions.delivery_denied_to_queue(b"foo.baz", Some(b"bar")));
}

/// The `REQUESTOR`, `BENCH_DENY` and default roles of `auths.conf`.
#[test]
fn old_style_roles_match_user_authorization_proto() {
    let requestor = CompiledPermissions::new(&Permissions {
        publish: Some(subject_permission(&["req.foo", "req.bar"], &[])),
        subscribe: Some(subject_permission(&["_INBOX.*"], &[])),
        response: None,
    });
    assert!(!requestor.can_subscribe(b"foo", None));
    assert!(!requestor.can_publish(b"foo"));
    assert!(requestor.can_subscribe(b"_INBOX.abcd", None));
    assert!(requestor.can_publish(b"req.foo"));
    assert!(requestor.can_publish(b"req.bar"));

    let default = CompiledPermissions::new(&Permissions {
        publish: Some(subject_permission(&["SANDBOX.*"], &[])),
        subscribe: Some(subject_permission(&["PUBLIC.>", "_INBOX.>"], &[])),
        response: None,
    });
    assert!(!default.can_subscribe(b"foo.bar.*", None));
    assert!(!default.can_publish(b"foo.bar.baz"));
    assert!(default.can_subscribe(b"_INBOX.abcd", None));
    assert!(default.can_subscribe(b"PUBLIC.abcd", None));
    assert!(default.can_publish(b"SANDBOX.foo"));
    // Only a partial wildcard: too many tokens.
    assert!(!default.can_publish(b"SANDBOX.foo.bar"));

    let bench_deny = subscribe_only(&["foo", "*"], &["foo.bar"]);
    assert!(bench_deny.can_subscribe(b"foo", None));
    assert!(bench_deny.can_subscribe(b"*", None));
    assert!(!bench_deny.can_subscribe(b"foo.bar", None));
    // Observed on 2.15.1: `SUB >` passes `*`, as one literal token; `SUB *.>` does not.
    assert!(bench_deny.can_subscribe(b">", None));
    assert!(!bench_deny.can_subscribe(b"*.>", None));
}

/// Observed on the 2.15.1 binary: `allow: ["foo.*", "bar.> q.*"], deny: ["foo.x"]`.
#[test]
fn subscribed_wildcards_are_literal_tokens_as_observed() {
    let permissions = subscribe_only(&["foo.*", "bar.> q.*"], &["foo.x"]);
    let cases: &[(&str, Option<&str>, bool)] = &[
        ("foo.>", None, true),
        ("foo.*", None, true),
        (">", None, false),
        ("bar.y", None, false),
        ("bar.y", Some("q.1"), true),
        ("bar.y", Some("q"), false),
        ("foo.x", None, false),
        ("foo.*", Some("q"), true),
    ];
    for &(subject, queue, expected) in cases {
        assert_eq!(
            permissions.can_subscribe(subject.as_bytes(), queue.map(str::as_bytes)),
            expected,
            "SUB {subject} {queue:?}"
        );
    }
}

/// nats-server's `TestClientSubscribeDenyWildcardOverlapBlocksDelivery` (queue
/// subscription `workers`).
#[test]
fn wildcard_overlap_with_deny_switches_the_delivery_filter_on() {
    let cases = [
        ("*.secret", "foo.*", "foo.secret", "foo.public"),
        ("foo.*.bar", "foo.baz.*", "foo.baz.bar", "foo.baz.qux"),
        ("*.*.bar", "foo.*.*", "foo.baz.bar", "foo.baz.qux"),
        ("a.>", "*.b", "a.b", "z.b"),
    ];
    for (deny, sub, blocked, allowed) in cases {
        let permissions = subscribe_only(&[">"], &[deny]);
        assert!(permissions.can_subscribe(sub.as_bytes(), Some(b"workers")));
        assert!(permissions.subscription_needs_delivery_filter(sub.as_bytes()));
        assert!(permissions.delivery_denied_to_queue(blocked.as_bytes(), Some(b"workers")));
        assert!(!permissions.delivery_denied_to_queue(allowed.as_bytes(), Some(b"workers")));
    }
    let permissions = subscribe_only(&[">"], &["foo.secret"]);
    assert!(!permissions.subscription_needs_delivery_filter(b"bar.*"));
    assert!(!permissions.subscription_needs_delivery_filter(b"foo.public"));
}

/// nats-server's `TestClientQueueScopedSubscribeDenyBlocksOnlyMatchingQueue`.
#[test]
fn queue_scoped_deny_blocks_only_the_matching_queue() {
    let cases = [
        ("admin.secret workers", "workers", "auditors"),
        ("admin.secret work.*", "work.prod", "audit.prod"),
    ];
    for (deny, denied_queue, allowed_queue) in cases {
        let permissions = subscribe_only(&[">"], &[deny]);
        for queue in [denied_queue, allowed_queue] {
            assert!(permissions.can_subscribe(b"admin.*", Some(queue.as_bytes())));
            assert!(permissions
                .subscription_needs_delivery_filter_in_queue(b"admin.*", Some(queue.as_bytes())));
        }
        assert!(permissions.can_subscribe(b"admin.*", None));
        assert!(
            permissions.delivery_denied_to_queue(b"admin.secret", Some(denied_queue.as_bytes()))
        );
        assert!(
            !permissions.delivery_denied_to_queue(b"admin.secret", Some(allowed_queue.as_bytes()))
        );
        assert!(!permissions.delivery_denied(b"admin.secret"));
        // A queue subscription without wildcard also switches the filter on (2.15.1).
        assert!(
            permissions.subscription_needs_delivery_filter_in_queue(b"admin.secret", Some(b"x"))
        );
        assert!(!permissions.subscription_needs_delivery_filter(b"admin.secret"));
    }
}

/// nats-server's `TestClientSetPermissionsPublishDenyQueueQualifierFailsClosed`.
#[test]
fn publish_deny_with_a_queue_keeps_its_subject() {
    let permissions = publish_only(&[], &["admin.secret workers"]);
    assert!(!permissions.can_publish(b"admin.secret"));
    assert!(permissions.can_publish(b"admin.other"));
}

#[test]
fn deny_wins_and_no_allow_list_allows() {
    let permissions = publish_only(&[], &["secret.>"]);
    assert!(permissions.can_publish(b"foo"));
    assert!(!permissions.can_publish(b"secret.x"));
    let permissions = publish_only(&["foo.>"], &["foo.bar"]);
    assert!(permissions.can_publish(b"foo.baz"));
    assert!(!permissions.can_publish(b"foo.bar"));
    assert!(!permissions.can_publish(b"bar"));
    let open = CompiledPermissions::new(&Permissions::default());
    assert!(!open.restricts_publish());
    assert!(open.can_publish(b"anything"));
    assert!(open.can_subscribe(b">", Some(b"q")));
}

/// Observed on 2.15.1: `publish: []` and `subscribe: []` (and `allow: []`) allow
/// everything, while `allow_responses` without a publish allow list turns publishing off.
#[test]
fn empty_lists_are_no_lists_unless_allow_responses() {
    let empty = CompiledPermissions::new(&Permissions {
        publish: Some(SubjectPermission {
            allow: list(&[]),
            deny: list(&["x"]),
        }),
        subscribe: Some(SubjectPermission {
            allow: list(&[]),
            deny: list(&["y"]),
        }),
        response: None,
    });
    assert!(empty.can_publish(b"a"));
    assert!(!empty.can_publish(b"x"));
    assert!(empty.can_subscribe(b"a", None));
    assert!(!empty.can_subscribe(b"y", None));

    let responder = CompiledPermissions::new(&Permissions {
        publish: Some(SubjectPermission {
            allow: None,
            deny: list(&["x"]),
        }),
        subscribe: None,
        response: Some(ResponsePermission {
            msgs_max: 0,
            expires: Duration::ZERO,
        }),
    });
    assert!(!responder.can_publish(b"a"));
    assert!(!responder.can_publish(b"x"));
    assert_eq!(responder.response().map(|r| r.msgs_max), Some(1));
}

#[test]
fn invalid_entries_are_skipped() {
    let permissions = publish_only(&["foo..bar", "ok"], &[]);
    assert!(permissions.can_publish(b"ok"));
    assert!(!permissions.can_publish(b"foo..bar"));
    let permissions = subscribe_only(&["a b c", "ok"], &[]);
    assert!(permissions.can_subscribe(b"ok", None));
    assert!(!permissions.can_subscribe(b"a", Some(b"b")));
}

fn responder(msgs_max: i64, expires: Duration) -> CompiledPermissions {
    CompiledPermissions::new(&Permissions {
        subscribe: Some(subject_permission(&["request"], &[])),
        response: Some(ResponsePermission { msgs_max, expires }),
        ..Permissions::default()
    })
}

/// nats-server's `TestResponsePermissions`, with the clock passed in.
#[test]
fn reply_grants_follow_response_permissions() {
    let start = Instant::now();
    let ms = Duration::from_millis;

    // max_msgs: 2 of 10 replies pass.
    let permissions = responder(2, Duration::from_secs(3600));
    let mut grants = ReplyGrants::new(permissions.response().unwrap());
    grants.on_delivery(&permissions, b"reply", start);
    let passed = (0..10)
        .filter(|_| grants.publish_allowed(&permissions, b"reply", start))
        .count();
    assert_eq!(passed, 2);

    // No expiry (nats-server's -1ms; zero here): both pass 50ms apart.
    let permissions = responder(3, Duration::ZERO);
    let mut grants = ReplyGrants::new(permissions.response().unwrap());
    grants.on_delivery(&permissions, b"reply", start);
    assert!(grants.publish_allowed(&permissions, b"reply", start));
    assert!(grants.publish_allowed(&permissions, b"reply", start + ms(50)));

    // Expiry of 100ms, with a large or unlimited count: the second, 200ms later, fails.
    for msgs_max in [1000, -1] {
        let permissions = responder(msgs_max, ms(100));
        let mut grants = ReplyGrants::new(permissions.response().unwrap());
        grants.on_delivery(&permissions, b"reply", start);
        assert!(grants.publish_allowed(&permissions, b"reply", start));
        assert!(grants.publish_allowed(&permissions, b"reply", start + ms(100)));
        assert!(!grants.publish_allowed(&permissions, b"reply", start + ms(200)));
    }

    // Nothing granted, nothing allowed.
    assert!(!grants.publish_allowed(&permissions, b"other", start));
}

/// Observed on 2.15.1 with `allow_responses: true`: N requests with the same reply
/// subject, then one response: delivered for N = 1 and N = 3, refused for N = 2.
#[test]
fn repeated_reply_subject_uses_up_the_grant_like_nats_server() {
    let now = Instant::now();
    for (requests, delivered) in [(1, true), (2, false), (3, true)] {
        let permissions = responder(0, Duration::ZERO);
        let mut grants = ReplyGrants::new(permissions.response().unwrap());
        for _ in 0..requests {
            grants.on_delivery(&permissions, b"r", now);
        }
        assert_eq!(
            grants.publish_allowed(&permissions, b"r", now),
            delivered,
            "{requests} requests"
        );
    }
}

#[test]
fn reply_grants_are_not_made_for_subjects_already_allowed() {
    let permissions = CompiledPermissions::new(&Permissions {
        publish: Some(subject_permission(&["_INBOX.>"], &[])),
        response: Some(ResponsePermission::default()),
        ..Permissions::default()
    });
    let mut grants = ReplyGrants::new(permissions.response().unwrap());
    let now = Instant::now();
    grants.on_delivery(&permissions, b"_INBOX.x", now);
    grants.on_delivery(&permissions, b"", now);
    assert!(grants.is_empty());
    grants.on_delivery(&permissions, b"other.x", now);
    assert_eq!(grants.len(), 1);
}

#[test]
fn reply_grants_are_pruned_and_bounded() {
    let permissions = responder(1, Duration::from_secs(120));
    let mut grants = ReplyGrants::new(permissions.response().unwrap());
    let start = Instant::now();
    grants.grant(b"a", start);
    assert!(grants.try_use(b"a", start));
    // A grant more than a second after the last prune prunes the used-up `a`.
    grants.grant(b"b", start + Duration::from_secs(2));
    assert_eq!(grants.len(), 1);
    // Expired grants go at the next prune too.
    grants.grant(b"c", start + Duration::from_secs(200));
    assert_eq!(grants.len(), 1);

    let now = start + Duration::from_secs(300);
    for index in 0..(REPLY_GRANTS_MAX + 10) {
        grants.grant(format!("r.{index}").as_bytes(), now);
        assert!(grants.len() <= REPLY_GRANTS_MAX);
    }
}

#[test]
fn publish_cache_is_bounded_and_consistent() {
    let permissions = publish_only(&["a.*"], &["a.x"]);
    let mut cache = PublishCache::new();
    for round in 0..3 {
        for index in 0..(4 * PUBLISH_CACHE_ENTRIES_MAX) {
            let subject = format!("a.{index}");
            assert!(
                permissions.can_publish_cached(&mut cache, subject.as_bytes()),
                "{round}"
            );
        }
        assert!(!permissions.can_publish_cached(&mut cache, b"a.x"));
        assert_eq!(cache.get(b"a.x"), Some(false));
        assert!(!permissions.can_publish_cached(&mut cache, b"b"));
    }
    assert!(cache.slots.len() == PUBLISH_CACHE_ENTRIES_MAX);
    cache.clear();
    assert_eq!(cache.get(b"a.x"), None);
    let mut unused = PublishCache::new();
    assert_eq!(unused.get(b"x"), None);
    unused.insert(b"", true);
    assert!(unused.slots.is_empty());
}

/// A naive model of the publish check: allow then deny, literal subject tokens.
fn naive_can_publish(
    allow: &Option<Vec<String>>,
    deny: &Option<Vec<String>>,
    subject: &str,
) -> bool {
    let matches = |patterns: &Vec<String>| {
        patterns
            .iter()
            .any(|p| subject_matches(p.as_bytes(), subject.as_bytes()))
    };
    let allow = allow.as_ref().filter(|list| !list.is_empty());
    let allowed = allow.is_none_or(matches);
    allowed && !deny.as_ref().is_some_and(matches)
}

fn token() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("a"), Just("b"), Just("*"), Just(">")]
}

fn pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(token(), 1..4)
        .prop_map(|tokens| tokens.join("."))
        .prop_filter("valid", |p| {
            crate::auth::pattern::is_valid_config_subject(p.as_bytes())
        })
}

fn pattern_list() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec(pattern(), 0..4))
}

proptest! {
    #[test]
    fn can_publish_agrees_with_naive_model(
        allow in pattern_list(),
        deny in pattern_list(),
        subject in proptest::collection::vec(token(), 1..4).prop_map(|t| t.join(".")),
    ) {
        let permissions = CompiledPermissions::new(&Permissions {
            publish: Some(SubjectPermission { allow: allow.clone(), deny: deny.clone() }),
            ..Permissions::default()
        });
        prop_assert_eq!(permissions.can_publish(subject.as_bytes()), naive_can_publish(&allow, &deny, &subject));
    }

    /// Without queue entries, subscribing is the publish check on the subscribed subject's
    /// literal tokens.
    #[test]
    fn plain_can_subscribe_agrees_with_naive_model(
        allow in pattern_list(),
        deny in pattern_list(),
        subject in pattern(),
    ) {
        let permissions = CompiledPermissions::new(&Permissions {
            subscribe: Some(SubjectPermission { allow: allow.clone(), deny: deny.clone() }),
            ..Permissions::default()
        });
        let expected = naive_can_publish(&allow, &deny, &subject);
        prop_assert_eq!(permissions.can_subscribe(subject.as_bytes(), None), expected);
        prop_assert_eq!(permissions.can_subscribe(subject.as_bytes(), Some(b"q")), expected);
    }
}
