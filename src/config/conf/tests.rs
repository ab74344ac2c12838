//! Table tests for the conf parser: each snippet with the tree it must produce or the
//! error (nats-server's text, our line:column) it must fail with. Every expected message
//! here was checked against nats-server 2.15.1 with `nats-server -t -c`.

use super::*;
use std::path::Path;

const ORIGIN: &str = "/nonexistent/ringnats-test.conf";

fn tree(text: &str) -> String {
    match parse_str(text, Path::new(ORIGIN)) {
        Ok(map) => map.to_string(),
        Err(error) => panic!("{text:?} failed: {error:#}"),
    }
}

fn failure(text: &str) -> String {
    match parse_str(text, Path::new(ORIGIN)) {
        Ok(map) => panic!("{text:?} parsed as {map}"),
        Err(error) => format!("{}:{}: {}", error.line, error.column, error.message),
    }
}

fn check_trees(cases: &[(&str, &str)]) {
    for (text, expected) in cases {
        assert_eq!(tree(text), *expected, "input {text:?}");
    }
}

fn check_failures(cases: &[(&str, &str)]) {
    if std::env::var_os("RINGNATS_CONF_PRINT").is_some() {
        for (text, _) in cases {
            println!("PRINT {text:?} => {:?}", failure(text));
        }
    }
    for (text, expected) in cases {
        assert_eq!(failure(text), *expected, "input {text:?}");
    }
}

#[test]
fn key_value_separators_and_terminators() {
    check_trees(&[
        ("port = 4567", "{port: 4567}"),
        ("port: 4567", "{port: 4567}"),
        ("port 4567", "{port: 4567}"),
        ("port=4567;", "{port: 4567}"),
        ("port\n= 4567", "{port: 4567}"),
        ("\"port\" = 1", "{port: 1}"),
        ("'port' = 1", "{port: 1}"),
        ("\"a b\" = 1", "{\"a b\": 1}"),
        ("a = 1; b = 2, c = 3", "{a: 1, b: 2, c: 3}"),
        ("a:1,b:2", "{a: 1, b: 2}"),
        ("a = 1\r\nb = 2\r\n", "{a: 1, b: 2}"),
        ("a = 1}", "{a: 1}"),
        ("", "{}"),
        ("# only a comment", "{}"),
        ("a =", "{a: \"\"}"),
    ]);
}

#[test]
fn comments() {
    check_trees(&[
        ("# c\na = 1 # t\n// x\nb = 2 // y", "{a: 1, b: 2}"),
        ("a = [1, # c\n 2 ]", "{a: [1, 2]}"),
        ("a { b = 1 // c\n c = 2 }", "{a: {b: 1, c: 2}}"),
        ("a = 1 /", "{a: 1}"),
        // A `#` right after a value is part of a bare string, not a comment.
        ("a = x#y", "{a: \"x#y\"}"),
        ("a = 1#c", "{a: \"1#c\"}"),
    ]);
}

#[test]
fn maps_and_arrays() {
    check_trees(&[
        ("a { b = 1, c: [1, 2 ] }", "{a: {b: 1, c: [1, 2]}}"),
        ("a {\n b {\n c = x\n }\n}", "{a: {b: {c: \"x\"}}}"),
        ("a = {}", "{a: {}}"),
        ("a = []", "{a: []}"),
        ("a = [\n 1\n 2\n]", "{a: [1, 2]}"),
        ("a = [\n 1,\n 2,\n]", "{a: [1, 2]}"),
        ("a = [ 'x', \"y\", z ]", "{a: [\"x\", \"y\", \"z\"]}"),
        ("a = [[1 ],[2 ]]", "{a: [[1], [2]]}"),
        ("a = [{b = 1}, {c = 2}]", "{a: [{b: 1}, {c: 2}]}"),
        ("a = [1k]", "{a: [1000]}"),
        ("m { '' = 1 }", "{m: {\"\": 1}}"),
        // nats-server quirks, kept on purpose: a key with no value inside a map stores the
        // map under that key and leaves the outer key unused; a lone `/` before a map key
        // is dropped.
        ("a { b }", "{b: {}}"),
        ("m {/a = 1}", "{m: {a: 1}}"),
        (
            "{\"port\": 4567, \"a\": {\"b\": [1, \"x\"]}}",
            "{port: 4567, a: {b: [1, \"x\"]}}",
        ),
        ("{\n  port = 1\n}\nb = 2", "{port: 1, b: 2}"),
        ("{{a = 1}}", "{a: 1}"),
    ]);
}

#[test]
fn strings() {
    check_trees(&[
        ("a = hello", "{a: \"hello\"}"),
        (
            "a = \"x\\ty\\n\\r\\\"\\\\\\x41\"",
            "{a: \"x\\ty\\n\\r\\\"\\\\A\"}",
        ),
        ("a = a\\tb", "{a: \"a\\tb\"}"),
        ("a = 'x\\ty'", "{a: \"x\\\\ty\"}"),
        ("a = \"$b\"", "{a: \"$b\"}"),
        ("a = \"true\"", "{a: \"true\"}"),
        ("a = 'a\nb'", "{a: \"a\\nb\"}"),
        ("a = \u{e9}t\u{e9}", "{a: \"\u{e9}t\u{e9}\"}"),
        ("a = 127.0.0.1:4222", "{a: \"127.0.0.1:4222\"}"),
        ("a = 10.0.0.1", "{a: \"10.0.0.1\"}"),
        ("a = 1x", "{a: \"1x\"}"),
        ("a = 1kx", "{a: \"1kx\"}"),
        ("a = 1k5", "{a: \"1k5\"}"),
        ("a = 4e2abc", "{a: \"4e2abc\"}"),
        ("a = 1]", "{a: \"1]\"}"),
        ("a = include", "{a: \"include\"}"),
        ("a = nats://host:4222", "{a: \"nats://host:4222\"}"),
    ]);
}

#[test]
fn raw_blocks() {
    check_trees(&[
        ("a = (\nline1\n line2\n)\n", "{a: \"\\nline1\\n line2\\n\"}"),
        ("a = (\nx)y\n)\nb = 1", "{a: \"\\nx)y\\n\", b: 1}"),
        // At the very end of the file nats-server keeps the closing "\n)".
        ("a = (\nx\n)", "{a: \"\\nx\\n)\"}"),
    ]);
}

#[test]
fn booleans() {
    check_trees(&[(
        "a = true, b = FALSE, c = Yes, d = off, e = On, f = no, g = tRuE",
        "{a: true, b: false, c: true, d: false, e: true, f: false, g: true}",
    )]);
}

#[test]
fn numbers_and_sizes() {
    check_trees(&[
        ("a = 0, b = 007, c = -12", "{a: 0, b: 7, c: -12}"),
        ("a = 9223372036854775807", "{a: 9223372036854775807}"),
        ("a = -9223372036854775808", "{a: -9223372036854775808}"),
        (
            "a = 1k, b = 1K, c = 1kb, d = 1KiB, e = 1Ki",
            "{a: 1000, b: 1000, c: 1024, d: 1024, e: 1024}",
        ),
        (
            "a = 2m, b = 2MB, c = 2mib, d = 2Mi",
            "{a: 2000000, b: 2097152, c: 2097152, d: 2097152}",
        ),
        ("a = 1g, b = 1gb", "{a: 1000000000, b: 1073741824}"),
        ("a = 1t, b = 1TiB", "{a: 1000000000000, b: 1099511627776}"),
        (
            "a = 1p, b = 1pb",
            "{a: 1000000000000000, b: 1125899906842624}",
        ),
        (
            "a = 1e, b = 1eb",
            "{a: 1000000000000000000, b: 1152921504606846976}",
        ),
        ("a = -5k", "{a: -5000}"),
        // Go's int64 multiplication wraps.
        ("a = 8eb", "{a: -9223372036854775808}"),
        // An unknown suffix stores nothing; nats-server accepts the file.
        ("a = 1kbb\nb = 2", "{b: 2}"),
        ("a = 1.5, b = -0.25", "{a: 1.5, b: -0.25}"),
        ("a = 2020-02-29T23:59:59Z", "{a: @2020-02-29T23:59:59Z}"),
    ]);
}

#[test]
fn variables() {
    check_trees(&[
        ("a = 1\nb = $a", "{a: 1, b: 1}"),
        (
            "a = 1\nm { a = 2, b = $a }\nc = $a",
            "{a: 1, m: {a: 2, b: 2}, c: 1}",
        ),
        ("a = 1\nm { b = $a }", "{a: 1, m: {b: 1}}"),
        ("a = 1\nl = [ $a ]", "{a: 1, l: [1]}"),
        ("m { a = 1 }\nb = $m", "{m: {a: 1}, b: {a: 1}}"),
        ("a = 1\na = 2\nb = $a", "{a: 2, b: 2}"),
        ("p = $2a$11$abc", "{p: \"$2a$11$abc\"}"),
    ]);
    let map = parse_str("a = 1\nb = $a\nc = 2", Path::new(ORIGIN)).unwrap();
    assert!(map.get("a").unwrap().used_as_variable);
    assert!(!map.get("b").unwrap().used_as_variable);
    assert!(!map.get("c").unwrap().used_as_variable);
}

#[test]
fn environment_variables() {
    // Names are unique to this test; std's environment lock makes this safe beside others.
    let cases: &[(&str, &str)] = &[
        ("RINGNATS_CONF_TEST_SIZE", "1k"),
        ("RINGNATS_CONF_TEST_MAP", "{a = 1}"),
        ("RINGNATS_CONF_TEST_SPACE", "hello world"),
        ("RINGNATS_CONF_TEST_SELF", "$RINGNATS_CONF_TEST_SELF"),
        ("RINGNATS_CONF_TEST_FILE", "$from_file"),
        ("RINGNATS_CONF_TEST_CHAIN", "$RINGNATS_CONF_TEST_SIZE"),
    ];
    for (name, value) in cases {
        std::env::set_var(name, value);
    }
    check_trees(&[
        ("a = $RINGNATS_CONF_TEST_SIZE", "{a: 1000}"),
        ("a = $RINGNATS_CONF_TEST_MAP", "{a: {a: 1}}"),
        ("a = $RINGNATS_CONF_TEST_CHAIN", "{a: 1000}"),
        // The file wins over the environment.
        (
            "RINGNATS_CONF_TEST_SIZE = 5\na = $RINGNATS_CONF_TEST_SIZE",
            "{RINGNATS_CONF_TEST_SIZE: 5, a: 5}",
        ),
        (
            "a = \"$RINGNATS_CONF_TEST_SIZE\"",
            "{a: \"$RINGNATS_CONF_TEST_SIZE\"}",
        ),
    ]);
    check_failures(&[
        (
            "a = $RINGNATS_CONF_TEST_SPACE",
            "1:5: variable reference for 'RINGNATS_CONF_TEST_SPACE' on line 1 could not be \
             parsed: Parse error on line 1: 'Expected a top-level value to end with a new line, \
             comment or EOF, but got 'w' instead.'",
        ),
        (
            "a = $RINGNATS_CONF_TEST_SELF",
            "1:5: variable reference for 'RINGNATS_CONF_TEST_SELF' on line 1 could not be \
             parsed: variable reference for 'RINGNATS_CONF_TEST_SELF' on line 1 could not be \
             parsed: variable reference cycle for 'RINGNATS_CONF_TEST_SELF'",
        ),
        (
            "from_file = 1\na = $RINGNATS_CONF_TEST_FILE",
            "2:5: variable reference for 'RINGNATS_CONF_TEST_FILE' on line 2 could not be \
             parsed: variable reference for 'from_file' on line 1 can not be found",
        ),
    ]);
    // A value from the environment points at the reference.
    let map = parse_str("\n  a = $RINGNATS_CONF_TEST_MAP", Path::new(ORIGIN)).unwrap();
    let Value::Map(inner) = &map.get("a").unwrap().value else {
        panic!("not a map");
    };
    let position = &inner.get("a").unwrap().position;
    assert_eq!((position.line, position.column), (2, 7));
    for (name, _) in cases {
        std::env::remove_var(name);
    }
}

#[test]
fn syntax_errors_name_line_and_column() {
    check_failures(&[
        (
            "port",
            "1:5: config is invalid (/nonexistent/ringnats-test.conf:1:4)",
        ),
        (
            "a = 1\nport\n",
            "3:1: config is invalid (/nonexistent/ringnats-test.conf:3:1)",
        ),
        (
            "a = 1\nb = \"abc",
            "2:9: Parse error on line 2: 'Unexpected EOF.'",
        ),
        (
            "a = [1",
            "1:7: Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'",
        ),
        (
            "a = [1, 2]",
            "1:11: Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'",
        ),
        (
            "a = [1]",
            "1:8: Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'",
        ),
        (
            "a {",
            "1:4: Parse error on line 1: 'Unexpected EOF processing map.'",
        ),
        (
            "a = \"\\q\"",
            "1:7: Parse error on line 1: 'Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'",
        ),
        (
            "a = \"\\x4g\"",
            "1:9: Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got '4g''",
        ),
        (
            "a = 99999999999999999999",
            "1:5: integer '99999999999999999999' is out of the range",
        ),
        (
            "a = 9223372036854775808",
            "1:5: integer '9223372036854775808' is out of the range",
        ),
        (
            "a = 2021-02-29T00:00:00Z",
            "1:5: expected Zulu formatted DateTime, but got '2021-02-29T00:00:00Z'",
        ),
        (
            "a = 2021-02-2",
            "1:14: Parse error on line 1: 'Expected digit in ISO8601 datetime, but found '\0' instead.'",
        ),
        (
            "a = 12-",
            "1:7: Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'",
        ),
        (
            "a = .5",
            "1:5: Parse error on line 1: 'Floats must start with a digit'",
        ),
        (
            "a = -x",
            "1:6: Parse error on line 1: 'Expected a digit but got 'x'.'",
        ),
        (
            "a = 1.x",
            "1:7: Parse error on line 1: 'Floats must have a digit after the '.', but got 'x' instead.'",
        ),
        (
            "a = 1.5e3",
            "1:8: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'e' instead.'",
        ),
        (
            "= 1",
            "1:1: Parse error on line 1: 'Unexpected key separator '=''",
        ),
        (
            "a = 1 b",
            "1:7: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead.'",
        ),
        (
            "a = (\nx",
            "2:2: Parse error on line 2: 'Unexpected EOF processing block.'",
        ),
        (
            "include\nx",
            "1:8: Parse error on line 2: 'Expected include value but found new line'",
        ),
        (
            "include \"x",
            "1:11: Parse error on line 1: 'Unexpected EOF in double quoted include'",
        ),
        (
            "a = foo'bar",
            "1:9: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead.'",
        ),
        (
            "a = [/b]",
            "1:7: Parse error on line 1: 'Unexpected array value terminator ','.'",
        ),
        (
            "a { b = 1 c }",
            "1:11: Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'c' instead.'",
        ),
        (
            "a {\n  b = \"x\n}",
            "3:2: Parse error on line 3: 'Unexpected EOF.'",
        ),
    ]);
}

#[test]
fn variable_errors() {
    check_failures(&[
        (
            "port = $NOPE_RINGNATS",
            "1:8: variable reference for 'NOPE_RINGNATS' on line 1 can not be found",
        ),
        (
            "b = $a\na = 1",
            "1:5: variable reference for 'a' on line 1 can not be found",
        ),
        (
            "m { a = 1 }\nb = $a",
            "2:5: variable reference for 'a' on line 2 can not be found",
        ),
        (
            "a = $",
            "1:5: variable reference for '' on line 1 can not be found",
        ),
    ]);
}

#[test]
fn positions() {
    let map = parse_str(
        "# c\nport = 4222\nm {\n  \u{e9}t\u{e9} = [1, x ]\n}",
        Path::new(ORIGIN),
    )
    .unwrap();
    let port = map.entry("port").unwrap();
    assert_eq!((port.key_position.line, port.key_position.column), (2, 1));
    assert_eq!((port.item.position.line, port.item.position.column), (2, 8));
    assert_eq!(&*port.item.position.file, Path::new(ORIGIN));
    let Value::Map(inner) = &map.get("m").unwrap().value else {
        panic!("not a map");
    };
    assert_eq!(
        (
            map.get("m").unwrap().position.line,
            map.get("m").unwrap().position.column
        ),
        (3, 3)
    );
    let array = inner.entry("\u{e9}t\u{e9}").unwrap();
    assert_eq!((array.key_position.line, array.key_position.column), (4, 3));
    let Value::Array(items) = &array.item.value else {
        panic!("not an array");
    };
    assert_eq!((items[1].position.line, items[1].position.column), (4, 13));
}

#[test]
fn duplicate_keys_keep_first_place_and_last_value() {
    let map = parse_str("a = 1\nb = 2\na = 3", Path::new(ORIGIN)).unwrap();
    assert_eq!(map.to_string(), "{a: 3, b: 2}");
    assert_eq!(map.entry("a").unwrap().key_position.line, 3);
    let keys: Vec<&str> = map.iter().map(|(key, _)| key).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(map.len(), 2);
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDirectory(std::path::PathBuf);

impl TempDirectory {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("ringnats-conf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn includes() {
    let directory = TempDirectory::new("includes");
    directory.write("sub.conf", "a = 1\nm2 { z = 9 }");
    directory.write("d/inner.conf", "include deeper.conf\nc = $b");
    directory.write("d/deeper.conf", "b = 2");
    directory.write("upper.conf", "INCLUDE 'sub.conf'");
    let main = directory.write(
        "main.conf",
        "include sub.conf\nx = $a\nm { include \"d/inner.conf\" }\ninclude upper.conf\n",
    );
    let map = parse_file(&main).unwrap();
    assert_eq!(map.to_string(), "{a: 1, m2: {z: 9}, x: 1, m: {b: 2, c: 2}}");
    let included = map.entry("a").unwrap();
    assert_eq!(
        &*included.item.position.file,
        directory.0.join("sub.conf").as_path()
    );
    assert_eq!(
        (included.key_position.line, included.key_position.column),
        (1, 1)
    );

    // nats-server joins even an absolute include path onto the including file's directory.
    let absolute = directory.write("absolute.conf", "include /sub.conf");
    assert_eq!(
        parse_file(&absolute).unwrap().to_string(),
        "{a: 1, m2: {z: 9}}"
    );
}

#[test]
fn include_errors() {
    let directory = TempDirectory::new("include-errors");
    let display = directory.0.display().to_string();
    let missing = directory.write("missing.conf", "\n  include nope.conf");
    let error = parse_file(&missing).unwrap_err();
    assert_eq!(
        error.message,
        format!("error parsing include file 'nope.conf', open {display}/nope.conf: no such file or directory")
    );
    assert_eq!((error.line, error.column), (2, 11));

    directory.write("bad.conf", "a = 1\nb = \"x");
    let broken = directory.write("broken.conf", "include bad.conf");
    let error = parse_file(&broken).unwrap_err();
    assert_eq!(
        error.message,
        "error parsing include file 'bad.conf', Parse error on line 2: 'Unexpected EOF.'"
    );
    assert_eq!(error.file, directory.0.join("bad.conf"));
    assert_eq!((error.line, error.column), (2, 7));
    assert_eq!(
        format!("{error:#}"),
        format!("{display}/bad.conf:2:7: error parsing include file 'bad.conf', Parse error on line 2: 'Unexpected EOF.'")
    );

    // nats-server recurses until its stack overflows; we stop at the cycle.
    let cycle = directory.write("cycle.conf", "include cycle.conf");
    let error = parse_file(&cycle).unwrap_err();
    assert!(error.message.contains("include cycle"), "{error}");

    let error = parse_file(&directory.0.join("absent.conf")).unwrap_err();
    assert_eq!(
        error.message,
        format!("open {display}/absent.conf: no such file or directory")
    );
    assert_eq!((error.line, error.column), (0, 0));
}

#[test]
fn nesting_is_limited() {
    let deep = format!("a = {}", "[".repeat(NESTING_DEPTH_MAX + 2));
    let error = parse_str(&deep, Path::new(ORIGIN)).unwrap_err();
    assert!(error.message.contains("nested deeper"), "{error}");
    let fine = format!("a = {}{}", "[".repeat(100), "]".repeat(100));
    assert!(parse_str(&fine, Path::new(ORIGIN)).is_ok());
}

#[test]
fn invalid_utf8_and_nul() {
    let map = parse_bytes(b"a = x\xffy", Path::new(ORIGIN)).unwrap();
    assert_eq!(map.to_string(), "{a: \"x\u{fffd}y\"}");
    // nats-server reads a NUL byte as the end of input, here as a value terminator.
    assert_eq!(tree("a = 1\0"), "{a: 1}");
    assert_eq!(
        failure("a = \"x\0\""),
        "1:7: Parse error on line 1: 'Unexpected EOF.'"
    );
}

#[test]
fn long_single_line_json_parses() {
    let entries: Vec<String> = (0..20_000)
        .map(|index| format!("\"k{index}\": {index}"))
        .collect();
    let text = format!("{{{}}}", entries.join(", "));
    let map = parse_str(&text, Path::new(ORIGIN)).unwrap();
    assert_eq!(map.len(), 20_000);
    let last = map.entry("k19999").unwrap();
    assert_eq!(last.key_position.line, 1);
    assert_eq!(
        last.key_position.column as usize,
        text.find("\"k19999\"").unwrap() + 2
    );
}
