//! Account table cases, most from nats-server's `server/accounts_test.go` and runs of
//! the 2.15.1 binary.

use super::*;
use crate::auth::{Export, Import};

fn stream_export(subject: &str, accounts: Option<&[&str]>) -> Export {
    Export {
        kind: ExportKind::Stream,
        subject: subject.to_string(),
        accounts: accounts.map(|names| names.iter().map(|name| name.to_string()).collect()),
        response_type: ResponseType::Singleton,
        account_token_position: None,
        response_threshold: None,
    }
}

fn service_export(subject: &str, accounts: Option<&[&str]>, response_type: ResponseType) -> Export {
    Export {
        kind: ExportKind::Service,
        response_type,
        ..stream_export(subject, accounts)
    }
}

fn stream_import(account: &str, subject: &str, prefix: Option<&str>, to: Option<&str>) -> Import {
    Import {
        kind: ExportKind::Stream,
        account: account.to_string(),
        subject: subject.to_string(),
        prefix: prefix.map(str::to_string),
        to: to.map(str::to_string),
        share: false,
    }
}

fn service_import(account: &str, subject: &str, to: Option<&str>) -> Import {
    Import {
        kind: ExportKind::Service,
        ..stream_import(account, subject, None, to)
    }
}

fn account(name: &str, exports: Vec<Export>, imports: Vec<Import>) -> AccountConfig {
    AccountConfig {
        name: name.to_string(),
        exports,
        imports,
        ..AccountConfig::default()
    }
}

fn table(accounts: Vec<AccountConfig>) -> AccountTable {
    AccountTable::new(&AuthConfig {
        accounts,
        ..AuthConfig::default()
    })
}

fn streams(table: &AccountTable, exporter: &str, subject: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    table.stream_targets(table.id(exporter).unwrap(), subject.as_bytes(), &mut out);
    out.into_iter()
        .map(|(id, subject)| {
            (
                table.name(id).to_string(),
                String::from_utf8(subject).unwrap(),
            )
        })
        .collect()
}

fn service(table: &AccountTable, importer: &str, subject: &str) -> Option<(String, String)> {
    table
        .service_target(table.id(importer).unwrap(), subject.as_bytes())
        .map(|target| {
            (
                table.name(target.exporter).to_string(),
                String::from_utf8(target.subject).unwrap(),
            )
        })
}

#[test]
fn ids_put_global_then_system_then_configured() {
    let table = table(vec![
        account("A", vec![], vec![]),
        account("B", vec![], vec![]),
        account("A", vec![], vec![]),
    ]);
    assert_eq!(table.len(), 4);
    assert_eq!(table.name(AccountId::GLOBAL), "$G");
    assert_eq!(table.system(), Some(AccountId(1)));
    assert_eq!(table.name(AccountId(1)), "$SYS");
    assert_eq!(table.id("A"), Some(AccountId(2)));
    assert_eq!(table.id("B"), Some(AccountId(3)));
    assert_eq!(table.id("C"), None);
    assert_eq!(AccountId(3).index(), 3);
}

#[test]
fn system_account_choice_follows_nats_server() {
    let named = AccountTable::new(&AuthConfig {
        accounts: vec![account("A", vec![], vec![]), account("SYS", vec![], vec![])],
        system_account: Some("SYS".to_string()),
        ..AuthConfig::default()
    });
    assert_eq!(named.system(), Some(AccountId(1)));
    assert_eq!(named.name(AccountId(1)), "SYS");
    assert_eq!(named.id("A"), Some(AccountId(2)));
    assert_eq!(named.len(), 3);

    let none = AccountTable::new(&AuthConfig {
        no_system_account: true,
        ..AuthConfig::default()
    });
    assert_eq!(none.system(), None);
    assert_eq!(none.len(), 1);

    // A configured `$SYS` is the system account even with `no_system_account`.
    let configured = AccountTable::new(&AuthConfig {
        accounts: vec![
            account("A", vec![], vec![]),
            account("$SYS", vec![], vec![]),
        ],
        no_system_account: true,
        ..AuthConfig::default()
    });
    assert_eq!(configured.system(), Some(AccountId(1)));
    assert_eq!(configured.name(AccountId(1)), "$SYS");
}

#[test]
fn limits_come_from_the_account_config() {
    let limited = AccountConfig {
        limits: AccountLimits {
            connections_max: Some(2),
            ..AccountLimits::default()
        },
        ..account("A", vec![], vec![])
    };
    let table = table(vec![limited]);
    assert_eq!(
        table.limits(table.id("A").unwrap()).connections_max,
        Some(2)
    );
    assert_eq!(table.limits(AccountId::GLOBAL), AccountLimits::default());
}

/// nats-server's `TestImportAuthorized`, through stream imports.
#[test]
fn stream_import_authorization_matches_nats_server() {
    let authorized = |exports: Vec<Export>, subject: &str, importer: &str| {
        let table = table(vec![
            account("foo", exports, vec![]),
            account(
                "bar",
                vec![],
                vec![stream_import("foo", subject, None, None)],
            ),
            account(
                "baz",
                vec![],
                vec![stream_import("foo", subject, None, None)],
            ),
        ]);
        let id = table.id(importer).unwrap();
        !table
            .import_errors()
            .iter()
            .any(|error| table.id(&error.account) == Some(id))
    };
    for subject in ["foo", "*", ">", "foo.*", "foo.>"] {
        assert!(!authorized(vec![], subject, "bar"), "{subject}");
    }
    let public_foo = || vec![stream_export("foo", None)];
    assert!(authorized(public_foo(), "foo", "bar"));
    assert!(!authorized(public_foo(), "bar", "bar"));
    assert!(!authorized(public_foo(), "*", "bar"));

    let star_for_bar = || {
        vec![
            stream_export("foo", None),
            stream_export("*", Some(&["bar"])),
        ]
    };
    for (subject, expected) in [
        ("foo", true),
        ("bar", true),
        ("baz", true),
        ("foo.bar", false),
        (">", false),
        ("*", true),
        ("foo.*", false),
        ("*.*", false),
        ("*.>", false),
    ] {
        assert_eq!(
            authorized(star_for_bar(), subject, "bar"),
            expected,
            "{subject}"
        );
    }
    assert!(!authorized(star_for_bar(), "bar", "baz"));

    for subject in ["foo", "bar", "foo.bar", ">", "*", "foo.*", "*.*", "*.>"] {
        assert!(
            authorized(vec![stream_export(">", None)], subject, "bar"),
            "{subject}"
        );
    }

    let nested = || vec![stream_export("foo.*.baz.>", Some(&["bar"]))];
    for (subject, expected) in [
        ("foo.bar.baz.1", true),
        ("foo.bar.baz.*", true),
        ("foo.*.baz.1.1", true),
        ("foo.22.baz.22", true),
        ("foo.bar.baz", false),
        ("foo.bar.*.*", false),
    ] {
        assert_eq!(authorized(nested(), subject, "bar"), expected, "{subject}");
    }
    assert!(!authorized(nested(), "foo.bar.baz.1", "baz"));
}

#[test]
fn refused_imports_are_reported_with_nats_server_reasons() {
    let table = table(vec![
        account(
            "A",
            vec![
                stream_export("foo.>", Some(&["B"])),
                service_export("svc", None, ResponseType::Singleton),
            ],
            vec![],
        ),
        account(
            "B",
            vec![],
            vec![
                stream_import("nobody", "foo", None, None),
                stream_import("A", "bar", None, None),
                stream_import("A", "foo.>", Some("p.*"), None),
                stream_import("A", "foo.*", None, Some("x")),
                stream_import("A", "foo.>", None, None),
                stream_import("A", "foo.>", None, Some("again.>")),
                service_import("A", "other", None),
                service_import("A", "svc", None),
                service_import("A", "svc", None),
            ],
        ),
    ]);
    let reasons: Vec<(usize, &str)> = table
        .import_errors()
        .iter()
        .map(|error| (error.import, error.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 7, "{reasons:#?}");
    assert_eq!(
        reasons[0],
        (0, "\"nobody\" account not defined for stream import")
    );
    assert_eq!(
        reasons[1],
        (
            1,
            "Error adding stream import \"bar\": stream import not authorized"
        )
    );
    assert_eq!(
        reasons[2],
        (2, "Error adding stream import \"foo.>\": stream import prefix can not contain wildcard tokens")
    );
    assert!(
        reasons[3]
            .1
            .contains("not using all of the token wildcard(s)"),
        "{reasons:#?}"
    );
    assert_eq!(
        reasons[4],
        (
            5,
            "Error adding stream import \"foo.>\": stream import already exists"
        )
    );
    assert_eq!(
        reasons[5],
        (
            6,
            "Error adding service import \"other\": service import not authorized"
        )
    );
    // The second identical service import is a duplicate.
    assert_eq!(reasons[6].0, 8);
    assert!(
        reasons[6].1.contains("duplicate service import subject"),
        "{reasons:#?}"
    );
    assert!(table.has_service_imports(table.id("B").unwrap()));
}

#[test]
fn duplicate_service_import_is_refused() {
    let table = table(vec![
        account(
            "A",
            vec![service_export("svc", None, ResponseType::Singleton)],
            vec![],
        ),
        account(
            "B",
            vec![],
            vec![
                service_import("A", "svc", None),
                service_import("A", "svc", None),
            ],
        ),
    ]);
    assert_eq!(table.import_errors().len(), 1);
    assert!(table.import_errors()[0]
        .reason
        .contains("duplicate service import subject \"svc\""));
}

/// nats-server's `TestAccountImportsWithWildcardSupport`.
#[test]
fn wildcard_imports_map_tokens() {
    let table = table(vec![
        account(
            "foo",
            vec![
                service_export("request.*", None, ResponseType::Singleton),
                stream_export("events.>", None),
                stream_export("info.*.*.>", None),
            ],
            vec![],
        ),
        account(
            "bar",
            vec![],
            vec![
                service_import("foo", "request.*", Some("my.request.*")),
                stream_import("foo", "events.>", None, Some("foo.events.>")),
                stream_import("foo", "info.*.*.>", None, Some("foo.info.$2.$1.>")),
            ],
        ),
    ]);
    assert!(
        table.import_errors().is_empty(),
        "{:?}",
        table.import_errors()
    );
    assert_eq!(
        service(&table, "bar", "my.request.22"),
        Some(("foo".into(), "request.22".into()))
    );
    assert_eq!(service(&table, "bar", "request.22"), None);
    assert_eq!(
        streams(&table, "foo", "events.22"),
        vec![("bar".into(), "foo.events.22".into())]
    );
    assert_eq!(
        streams(&table, "foo", "info.11.22.bar"),
        vec![("bar".into(), "foo.info.22.11.bar".into())]
    );
    assert!(streams(&table, "foo", "other").is_empty());
    assert!(!table.has_stream_exports_imported(table.id("bar").unwrap()));
    assert!(table.has_stream_exports_imported(table.id("foo").unwrap()));
    assert!(!table.has_stream_exports_imported(AccountId::GLOBAL));
}

/// nats-server's `TestAccountImportsWithWildcardSupportStreamAndService`: `$` tokens
/// that are not placeholders stay literal.
#[test]
fn dollar_tokens_that_are_not_placeholders_stay_literal() {
    let table = table(vec![
        account(
            "foo",
            vec![
                service_export("$request.*.$in.*.>", None, ResponseType::Singleton),
                stream_export("$events.*.$in.*.>", None),
            ],
            vec![],
        ),
        account(
            "bar",
            vec![],
            vec![
                service_import("foo", "$request.*.$in.*.>", Some("my.request.$2.$1.>")),
                stream_import("foo", "$events.*.$in.*.>", None, Some("my.events.$2.$1.>")),
            ],
        ),
    ]);
    assert!(
        table.import_errors().is_empty(),
        "{:?}",
        table.import_errors()
    );
    assert_eq!(
        service(&table, "bar", "my.request.1.2.bar"),
        Some(("foo".into(), "$request.2.$in.1.bar".into()))
    );
    assert_eq!(
        streams(&table, "foo", "$events.1.$in.2.bar"),
        vec![("bar".into(), "my.events.2.1.bar".into())]
    );
}

/// nats-server's `TestImportSubscriptionPartialOverlapWithPrefix` and
/// `...WithTransform`: the renamed subject.
#[test]
fn prefix_and_to_rename_stream_subjects() {
    let prefixed = table(vec![
        account("X", vec![stream_export(">", None)], vec![]),
        account(
            "Y",
            vec![],
            vec![stream_import("X", ">", Some("myprefix"), None)],
        ),
    ]);
    assert_eq!(
        streams(&prefixed, "X", "test"),
        vec![("Y".into(), "myprefix.test".into())]
    );
    let transformed = table(vec![
        account("X", vec![stream_export("*.*.>", None)], vec![]),
        account(
            "Y",
            vec![],
            vec![stream_import("X", "*.*.>", None, Some("myprefix.$2.$1.>"))],
        ),
    ]);
    assert_eq!(
        streams(&transformed, "X", "1.2.test"),
        vec![("Y".into(), "myprefix.2.1.test".into())]
    );
    // A literal import subject is renamed as a whole; a prefix ending in `.` is kept.
    let literal = table(vec![
        account("X", vec![stream_export("foo", None)], vec![]),
        account(
            "Y",
            vec![],
            vec![stream_import("X", "foo", Some("p."), None)],
        ),
        account(
            "Z",
            vec![],
            vec![stream_import("X", "foo", None, Some("bar"))],
        ),
        account("W", vec![], vec![stream_import("X", "foo", None, None)]),
    ]);
    assert_eq!(
        streams(&literal, "X", "foo"),
        vec![
            ("Y".into(), "p.foo".into()),
            ("Z".into(), "bar".into()),
            ("W".into(), "foo".into())
        ]
    );
    // nats-server's `TestNoPrefixWildcardMapping`: `*` imported as is.
    let plain = table(vec![
        account("foo", vec![stream_export(">", Some(&["bar"]))], vec![]),
        account("bar", vec![], vec![stream_import("foo", "*", None, None)]),
    ]);
    assert_eq!(
        streams(&plain, "foo", "foo"),
        vec![("bar".into(), "foo".into())]
    );
    assert!(streams(&plain, "foo", "foo.bar").is_empty());
    // A published `*` token is literal: `foo.*` is not reached by a publish on `foo.>`.
    let literal_tokens = table(vec![
        account("X", vec![stream_export(">", None)], vec![]),
        account("Y", vec![], vec![stream_import("X", "a.b", None, None)]),
    ]);
    assert!(streams(&literal_tokens, "X", "a.*").is_empty());
}

/// nats-server's `TestServiceImportWithWildcards`.
#[test]
fn service_imports_need_a_covering_export() {
    let table = table(vec![
        account(
            "foo",
            vec![service_export("test.*", None, ResponseType::Stream)],
            vec![],
        ),
        account(
            "bar",
            vec![],
            vec![
                // The local subject is `test.*`, the imported `foo`: not exported.
                service_import("foo", "foo", Some("test.*")),
                service_import("foo", "test.>", None),
                service_import("foo", "test.*", None),
            ],
        ),
    ]);
    assert_eq!(table.import_errors().len(), 2);
    let target = table
        .service_target(table.id("bar").unwrap(), b"test.22")
        .unwrap();
    assert_eq!(target.subject, b"test.22");
    assert_eq!(target.response_type, ResponseType::Stream);
    assert_eq!(target.exporter, table.id("foo").unwrap());
}

#[test]
fn literal_service_import_maps_to_the_exported_subject() {
    let table = table(vec![
        account(
            "svc",
            vec![service_export(
                "help",
                Some(&["app"]),
                ResponseType::Chunked,
            )],
            vec![],
        ),
        account(
            "app",
            vec![],
            vec![service_import("svc", "help", Some("ask.*"))],
        ),
        account("other", vec![], vec![service_import("svc", "help", None)]),
    ]);
    assert_eq!(table.import_errors().len(), 1);
    assert_eq!(
        service(&table, "app", "ask.x"),
        Some(("svc".into(), "help".into()))
    );
    assert_eq!(service(&table, "app", "help"), None);
    assert!(!table.has_service_imports(table.id("other").unwrap()));
    assert_eq!(
        table
            .service_import_subjects(table.id("app").unwrap())
            .collect::<Vec<_>>(),
        vec![&b"ask.*"[..]]
    );
}

/// nats-server's `TestAccountMultipleServiceImportsWithSameSubjectFromDifferentAccounts`:
/// both imports fire.
#[test]
fn every_matching_service_import_fires() {
    let table = table(vec![
        account(
            "SVC-E",
            vec![service_export(
                "SvcReq.>",
                Some(&["CLIENTS"]),
                ResponseType::Singleton,
            )],
            vec![],
        ),
        account(
            "SVC-W",
            vec![service_export(
                "SvcReq.>",
                Some(&["CLIENTS"]),
                ResponseType::Singleton,
            )],
            vec![],
        ),
        account(
            "CLIENTS",
            vec![],
            vec![
                service_import("SVC-E", "SvcReq.>", None),
                service_import("SVC-W", "SvcReq.>", None),
            ],
        ),
    ]);
    assert!(table.import_errors().is_empty());
    let mut targets = Vec::new();
    table.service_targets(table.id("CLIENTS").unwrap(), b"SvcReq.Test", &mut targets);
    let exporters: Vec<&str> = targets
        .iter()
        .map(|target| table.name(target.exporter))
        .collect();
    assert_eq!(exporters, ["SVC-E", "SVC-W"]);
    assert!(targets
        .iter()
        .all(|target| target.subject == b"SvcReq.Test"));
    assert_eq!(
        service(&table, "CLIENTS", "SvcReq.Test").unwrap().0,
        "SVC-E"
    );
}

/// nats-server's `TestAccountImportOwnExport`.
#[test]
fn an_account_may_import_its_own_export() {
    let table = table(vec![account(
        "A",
        vec![service_export(
            "echo",
            Some(&["A"]),
            ResponseType::Singleton,
        )],
        vec![service_import("A", "echo", None)],
    )]);
    assert!(table.import_errors().is_empty());
    assert_eq!(
        service(&table, "A", "echo"),
        Some(("A".into(), "echo".into()))
    );
}

#[test]
fn service_import_cycles_are_refused() {
    let table = table(vec![
        account(
            "A",
            vec![service_export("foo", None, ResponseType::Singleton)],
            vec![service_import("B", "foo", None)],
        ),
        account(
            "B",
            vec![service_export("foo", None, ResponseType::Singleton)],
            vec![service_import("A", "foo", None)],
        ),
    ]);
    assert_eq!(table.import_errors().len(), 1);
    assert_eq!(table.import_errors()[0].account, "B");
    assert!(table.import_errors()[0]
        .reason
        .ends_with("import forms a cycle"));
    // nats-server's `TestAccountImportCycle` configuration is not a cycle.
    let table = self::table(vec![
        account(
            "CP",
            vec![
                service_export("q1.>", None, ResponseType::Singleton),
                service_export("q2.>", None, ResponseType::Singleton),
                service_export("q3.>", None, ResponseType::Singleton),
            ],
            vec![],
        ),
        account(
            "A",
            vec![],
            vec![
                service_import("CP", "q1.>", None),
                service_import("CP", "q2.>", None),
                service_import("CP", "q3.>", None),
            ],
        ),
    ]);
    assert!(table.import_errors().is_empty());
}

#[test]
fn stream_import_cycles_are_refused() {
    let table = table(vec![
        account(
            "A",
            vec![stream_export("foo", None)],
            vec![stream_import("B", "foo", None, None)],
        ),
        account(
            "B",
            vec![stream_export("foo", None)],
            vec![stream_import("A", "foo", None, None)],
        ),
    ]);
    assert_eq!(
        table.import_errors().len(),
        1,
        "{:?}",
        table.import_errors()
    );
    assert!(table.import_errors()[0]
        .reason
        .ends_with("import forms a cycle"));
    // Chains without a cycle are fine, and deliver one hop only.
    let table = self::table(vec![
        account("A", vec![stream_export("foo.>", None)], vec![]),
        account(
            "B",
            vec![stream_export("foo.>", None)],
            vec![stream_import("A", "foo.>", None, None)],
        ),
        account(
            "C",
            vec![],
            vec![stream_import("B", "foo.>", Some("c"), None)],
        ),
    ]);
    assert!(table.import_errors().is_empty());
    assert_eq!(
        streams(&table, "A", "foo.x"),
        vec![("B".into(), "foo.x".into())]
    );
    assert_eq!(
        streams(&table, "B", "foo.x"),
        vec![("C".into(), "c.foo.x".into())]
    );
}

#[test]
fn exports_merge_by_subject_and_unknown_names_approve_no_one() {
    let table = table(vec![
        account(
            "A",
            vec![
                stream_export("foo", Some(&["B"])),
                stream_export("foo", Some(&["C"])),
                stream_export("bar", Some(&["nobody"])),
                stream_export("empty", Some(&[])),
            ],
            vec![],
        ),
        account(
            "B",
            vec![],
            vec![
                stream_import("A", "foo", None, None),
                stream_import("A", "bar", None, None),
            ],
        ),
        account(
            "C",
            vec![],
            vec![
                stream_import("A", "foo", None, None),
                stream_import("A", "empty", None, None),
            ],
        ),
    ]);
    let refused: Vec<(&str, usize)> = table
        .import_errors()
        .iter()
        .map(|error| (error.account.as_str(), error.import))
        .collect();
    assert_eq!(refused, [("B", 1)]);
}

proptest::proptest! {
    /// A stream import of the exported subject with a prefix reaches the importer with
    /// the prefix for any subject the export covers, and nothing else.
    #[test]
    fn prefixed_stream_import_agrees_with_naive_model(
        tokens in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "*", ">"]), 1..4),
        subject in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c"]), 1..5),
    ) {
        let import_subject = tokens.join(".");
        proptest::prop_assume!(is_valid_config_subject(import_subject.as_bytes()));
        let subject = subject.join(".");
        let table = table(vec![
            account("X", vec![stream_export(">", None)], vec![]),
            account("Y", vec![], vec![stream_import("X", &import_subject, Some("p"), None)]),
        ]);
        proptest::prop_assert!(table.import_errors().is_empty());
        let expected: Vec<(String, String)> = if subject_matches(import_subject.as_bytes(), subject.as_bytes()) {
            vec![("Y".into(), format!("p.{subject}"))]
        } else {
            vec![]
        };
        proptest::prop_assert_eq!(streams(&table, "X", &subject), expected);
    }
}
