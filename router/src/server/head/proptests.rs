//! Property tests of the request head parser: arbitrary bytes never panic it,
//! an accepted head re-serialises to the same message, and each ambiguity rule
//! (the ones `tests/it/smuggling.rs` checks end to end) holds whatever the
//! header order and the case of header names.

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::error::BodyError;
use crate::http1::body::proptests::{broken_chunked_body, chunked_body, decode};

/// Cases per property: a parse takes microseconds, so this stays well under a second each.
const CASES: u32 = 512;

/// Header names the validator reads; generated "other" headers avoid them.
const SPECIAL: [&str; 6] = ["host", "content-length", "transfer-encoding", "connection", "expect", "upgrade"];

// === Messages ===

/// A request head as parts: what is sent, and what the parser must hand back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    method: String,
    target: String,
    http11: bool,
    headers: Vec<(String, Vec<u8>)>,
}

impl Message {
    /// The head on the wire: `name: value` lines, CRLF everywhere.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.{}\r\n", self.method, self.target, u8::from(self.http11)).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// What a parsed head says, in the same terms.
    fn of(head: &RequestHead) -> Message {
        Message {
            method: head.method.as_str().to_owned(),
            target: head.uri.to_string(),
            http11: head.version == Version::HTTP_11,
            headers: head.headers.iter().map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec())).collect(),
        }
    }

    /// The fields as the parser hands them on: names lowercased, names in order of first
    /// appearance, each name's values in their order (RFC 9110 5.3 lets a proxy regroup
    /// same-name fields, never reorder their values).
    fn grouped(&self) -> Message {
        let mut names: Vec<String> = Vec::new();
        for (name, _) in &self.headers {
            let name = name.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let headers = names
            .iter()
            .flat_map(|n| self.headers.iter().filter(move |(m, _)| m.eq_ignore_ascii_case(n)))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        Message { headers, ..self.clone() }
    }
}

/// Flips the case of each letter of `s` whose bit in `seed` is set.
fn recase(s: &str, seed: u64) -> String {
    s.chars().enumerate().map(|(i, c)| if seed >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect()
}

/// A random permutation from Fisher-Yates draws (shrinks towards the original order).
fn shuffle<T>(items: &mut [T], draws: &[Index]) {
    for i in (1..items.len()).rev() {
        items.swap(i, draws[i % draws.len()].index(i + 1));
    }
}

// === Generators of valid parts ===

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
}

/// A header name the validator does not read; some repeat, to exercise same-name fields.
fn other_name() -> impl Strategy<Value = String> {
    // Underscored names are dropped by the parser (its own unit test covers that).
    let fresh = token().prop_filter("a name the validator reads", |n| {
        !n.contains('_') && !SPECIAL.iter().any(|s| n.eq_ignore_ascii_case(s))
    });
    prop_oneof![3 => fresh, 1 => prop::sample::select(vec!["X-Dup", "x-dup", "Accept", "Cookie"]).prop_map(String::from)]
}

/// A field value: visible ASCII, obs-text and inner whitespace (edges are never whitespace).
fn value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![4 => 0x21u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b' '), 1 => Just(b'\t')];
    prop::collection::vec(byte, 0..24).prop_map(|v| trim(&v).to_vec())
}

fn method() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]);
    prop_oneof![known.prop_map(String::from), token().prop_filter("CONNECT is refused", |m| m != "CONNECT")]
}

fn origin_form() -> impl Strategy<Value = String> {
    let path = "(/([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}){0,6}){1,4}";
    let query = prop::option::of("[A-Za-z0-9._~!$&'()*+,;=:@/?-]{0,12}");
    (path, query).prop_map(|(p, q)| match q {
        Some(q) => format!("{p}?{q}"),
        None => p,
    })
}

fn absolute_form() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["http", "https"]);
    let host = "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,2}";
    (scheme, host, prop::option::of(1u16..), origin_form()).prop_map(|(s, h, port, path)| match port {
        Some(port) => format!("{s}://{h}:{port}{path}"),
        None => format!("{s}://{h}{path}"),
    })
}

fn request_line() -> impl Strategy<Value = (String, String, bool)> {
    prop_oneof![
        (method(), origin_form(), any::<bool>()),
        (method(), absolute_form(), any::<bool>()),
        (Just("OPTIONS".to_owned()), Just("*".to_owned()), any::<bool>()),
    ]
}

/// The framing headers of a valid request.
#[derive(Debug, Clone)]
enum Body {
    None,
    /// `copies` equal `Content-Length` fields, or one field listing the value twice.
    Length {
        n: u64,
        copies: usize,
        list: bool,
    },
    Chunked,
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        (0u64..=999_999_999_999_999_999, 1usize..4, any::<bool>()).prop_map(|(n, copies, list)| Body::Length {
            n,
            copies,
            list
        }),
        Just(Body::Chunked),
    ]
}

/// A valid request and what its head must parse to.
#[derive(Debug, Clone)]
struct Valid {
    message: Message,
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
    wants_upgrade: bool,
}

prop_compose! {
    fn valid()(
        (method, target, http11) in request_line(),
        host in prop::option::weighted(0.9, value()),
        others in prop::collection::vec((other_name(), value()), 0..8),
        body in body(),
        connection in prop::collection::vec(prop::sample::select(vec!["close", "keep-alive", "upgrade", "te", "x-y"]), 0..3),
        expect in any::<bool>(),
        upgrade in any::<bool>(),
        draws in prop::collection::vec(any::<Index>(), 16),
        cases in prop::collection::vec(any::<u64>(), 16),
    ) -> Valid {
        // HTTP/1.1 requires a Host; chunked framing is HTTP/1.1 only.
        let host = if http11 { host.or(Some(b"x".to_vec())) } else { host };
        let body = if !http11 && matches!(body, Body::Chunked) { Body::None } else { body };
        // GET and HEAD with a body are refused (their own unit test covers that).
        let body = if matches!(method.as_str(), "GET" | "HEAD") { Body::None } else { body };
        let mut headers = others;
        headers.extend(host.map(|h| ("Host".to_owned(), h)));
        let framing = match body {
            Body::None => Framing::Length(0),
            Body::Length { n, list: true, .. } => {
                headers.push(("Content-Length".into(), format!("{n}, {n}").into_bytes()));
                Framing::Length(n)
            }
            Body::Length { n, copies, list: false } => {
                headers.extend((0..copies).map(|_| ("Content-Length".into(), n.to_string().into_bytes())));
                Framing::Length(n)
            }
            Body::Chunked => {
                headers.push(("Transfer-Encoding".into(), recase("chunked", cases[0]).into_bytes()));
                Framing::Chunked
            }
        };
        if !connection.is_empty() {
            headers.push(("Connection".into(), recase(&connection.join(", "), cases[1]).into_bytes()));
        }
        if expect {
            headers.push(("Expect".into(), recase("100-continue", cases[2]).into_bytes()));
        }
        if upgrade {
            headers.push(("Upgrade".into(), b"websocket".to_vec()));
        }
        shuffle(&mut headers, &draws);
        for (i, (name, _)) in headers.iter_mut().enumerate() {
            *name = recase(&name.to_ascii_lowercase(), cases[i % cases.len()]);
        }
        let has = |t: &str| connection.contains(&t);
        Valid {
            message: Message { method, target, http11, headers },
            framing,
            keep_alive: !has("close") && (http11 || has("keep-alive")),
            expect_continue: expect,
            wants_upgrade: has("upgrade") && http11 && upgrade,
        }
    }
}

// === Generators of ambiguous heads ===

/// One ambiguity rule of the parser, with the parts that break it.
#[derive(Debug, Clone)]
enum Rule {
    ContentLengthAndTransferEncoding { n: u64 },
    DifferingContentLengths { a: u64, b: u64 },
    DifferingContentLengthList { a: u64, b: u64 },
    MalformedContentLength(String),
    TransferEncodingNotChunked(String),
    ChunkedTwice,
    TransferEncodingInHttp10,
    ObsFold(char),
    WhitespaceBeforeColon(&'static str),
    ControlByteInValue(u8),
    InvalidHeaderName(String),
    DuplicateHost,
    MissingHost,
    UnsupportedExpect(String),
    InvalidTarget { method: String, target: String },
}

fn rule() -> impl Strategy<Value = Rule> {
    let differing = (0u64..1_000_000, 1u64..1000).prop_map(|(a, d)| (a, a + d));
    let bad_length = prop_oneof![
        "[+-][0-9]{1,5}",
        "0x[0-9a-f]{1,4}",
        "[0-9]{1,4} [0-9]{1,4}",
        "[0-9]{0,4}[a-zA-Z.][0-9]{0,4}",
        "[0-9]{19,22}",
        Just(String::new()),
    ];
    let not_chunked = prop_oneof![
        prop::sample::select(vec!["gzip", "identity", "x-chunked", "chunked;q=1", "chunkedx", ""])
            .prop_map(String::from),
        prop::sample::select(vec!["gzip, chunked", "chunked, gzip", "chunked, chunked", "chunked,", ", chunked"])
            .prop_map(String::from),
    ];
    let control = prop_oneof![0u8..9, 11u8..32, Just(127u8)];
    let separators = prop::sample::select(b"()<>@,;\\\"/[]?={} ".to_vec());
    let bad_name =
        ("[A-Za-z-]{0,6}", separators, "[A-Za-z-]{0,6}").prop_map(|(a, c, b)| format!("{a}{}{b}", c as char));
    let bad_expect = "[a-z0-9-]{0,14}".prop_filter("the one supported expectation", |v| v != "100-continue");
    let bad_target = prop_oneof![
        Just(("CONNECT".to_owned(), "web.test:443".to_owned())),
        (method(), "[a-z][a-z0-9./]{0,10}"),
        (method(), "(ftp|ws|HTTP)://[a-z]{1,8}/"),
        method().prop_filter("OPTIONS may ask for *", |m| m != "OPTIONS").prop_map(|m| (m, "*".to_owned())),
    ];
    prop_oneof![
        (0u64..1_000_000).prop_map(|n| Rule::ContentLengthAndTransferEncoding { n }),
        differing.clone().prop_map(|(a, b)| Rule::DifferingContentLengths { a, b }),
        differing.prop_map(|(a, b)| Rule::DifferingContentLengthList { a, b }),
        bad_length.prop_map(Rule::MalformedContentLength),
        not_chunked.prop_map(Rule::TransferEncodingNotChunked),
        Just(Rule::ChunkedTwice),
        Just(Rule::TransferEncodingInHttp10),
        prop::sample::select(vec![' ', '\t']).prop_map(Rule::ObsFold),
        prop::sample::select(vec![" : ", "\t: ", "  : ", " \t:"]).prop_map(Rule::WhitespaceBeforeColon),
        control.prop_map(Rule::ControlByteInValue),
        bad_name.prop_map(Rule::InvalidHeaderName),
        Just(Rule::DuplicateHost),
        Just(Rule::MissingHost),
        bad_expect.prop_map(Rule::UnsupportedExpect),
        bad_target.prop_map(|(method, target)| Rule::InvalidTarget { method, target }),
    ]
}

/// A well-formed HTTP/1.1 request without framing headers, to break one rule in.
#[derive(Debug, Clone)]
struct Base {
    method: String,
    target: String,
    others: Vec<(String, Vec<u8>)>,
}

prop_compose! {
    fn base()(
        // A body under GET or HEAD is refused for that alone.
        method in method().prop_filter("a method that may carry a body", |m| m != "GET" && m != "HEAD"),
        target in origin_form(),
        others in prop::collection::vec((other_name(), value()), 0..6),
    ) -> Base {
        Base { method, target, others }
    }
}

/// How the head is laid out: header order, name case, where a fold or bad separator goes.
#[derive(Debug, Clone)]
struct Layout {
    draws: Vec<Index>,
    cases: Vec<u64>,
    at: Index,
}

fn layout() -> impl Strategy<Value = Layout> {
    (prop::collection::vec(any::<Index>(), 16), prop::collection::vec(any::<u64>(), 16), any::<Index>())
        .prop_map(|(draws, cases, at)| Layout { draws, cases, at })
}

/// The head bytes of `base` with `rule` broken (or, with `rule: None`, the well-formed control).
fn broken_head(base: &Base, rule: Option<&Rule>, layout: &Layout) -> Vec<u8> {
    let (mut method, mut target, mut http11) = (base.method.clone(), base.target.clone(), true);
    let mut lines: Vec<(String, &str, Vec<u8>)> =
        base.others.iter().map(|(n, v)| (n.clone(), ": ", v.clone())).collect();
    let mut host = true;
    let te = |v: &str| ("transfer-encoding".to_owned(), ": ", recase(v, layout.cases[15]).into_bytes());
    let cl = |v: String| ("content-length".to_owned(), ": ", v.into_bytes());
    match rule {
        None | Some(Rule::ObsFold(_) | Rule::WhitespaceBeforeColon(_)) => {}
        Some(Rule::ContentLengthAndTransferEncoding { n }) => lines.extend([cl(n.to_string()), te("chunked")]),
        Some(Rule::DifferingContentLengths { a, b }) => lines.extend([cl(a.to_string()), cl(b.to_string())]),
        Some(Rule::DifferingContentLengthList { a, b }) => lines.push(cl(format!("{a}, {b}"))),
        Some(Rule::MalformedContentLength(v)) => lines.push(cl(v.clone())),
        Some(Rule::TransferEncodingNotChunked(v)) => lines.push(te(v)),
        Some(Rule::ChunkedTwice) => lines.extend([te("chunked"), te("chunked")]),
        Some(Rule::TransferEncodingInHttp10) => {
            http11 = false;
            lines.push(te("chunked"));
        }
        Some(Rule::ControlByteInValue(c)) => lines.push(("x-bad".into(), ": ", vec![b'a', *c, b'b'])),
        Some(Rule::InvalidHeaderName(name)) => lines.push((name.clone(), ": ", b"1".to_vec())),
        Some(Rule::DuplicateHost) => lines.push(("host".into(), ": ", b"other.test".to_vec())),
        Some(Rule::MissingHost) => host = false,
        Some(Rule::UnsupportedExpect(v)) => lines.push(("expect".into(), ": ", v.clone().into_bytes())),
        Some(Rule::InvalidTarget { method: m, target: t }) => (method, target) = (m.clone(), t.clone()),
    }
    if host {
        lines.push(("host".into(), ": ", b"web.test".to_vec()));
    }
    shuffle(&mut lines, &layout.draws);
    for (i, (name, _, _)) in lines.iter_mut().enumerate() {
        *name = recase(&name.to_ascii_lowercase(), layout.cases[i % 15]);
    }
    if let Some(Rule::WhitespaceBeforeColon(separator)) = rule {
        let at = layout.at.index(lines.len());
        lines[at].1 = separator;
    }
    let mut out = format!("{method} {target} HTTP/1.{}\r\n", u8::from(http11)).into_bytes();
    let fold_after = layout.at.index(lines.len().max(1));
    for (i, (name, sep, value)) in lines.iter().enumerate() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(sep.as_bytes());
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        if let (Some(Rule::ObsFold(ws)), true) = (rule, i == fold_after) {
            out.extend_from_slice(format!("{ws}folded").as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

// === Properties ===

/// Checks that `head` re-serialises to a message that parses back to itself.
fn reserialises(head: &RequestHead) -> Result<(), TestCaseError> {
    let message = Message::of(head);
    let bytes = message.to_bytes();
    let again = parse(&bytes, MAX_HEADER_SLOTS);
    let Ok(Some((again, len))) = again else {
        return Err(TestCaseError::fail(format!("re-serialised head refused: {:?}", String::from_utf8_lossy(&bytes))));
    };
    prop_assert_eq!(len, bytes.len());
    prop_assert_eq!(Message::of(&again), message);
    prop_assert_eq!(
        (again.framing, again.keep_alive, again.expect_continue, again.wants_upgrade),
        (head.framing, head.keep_alive, head.expect_continue, head.wants_upgrade)
    );
    Ok(())
}

/// Byte fragments of request heads, so random input reaches validation, not just the tokenizer.
fn head_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let start =
        prop::sample::select(vec!["GET / HTTP/1.1\r\n", "POST /a?b HTTP/1.0\r\n", "OPTIONS * HTTP/1.1\r\n", ""]);
    let fragment = prop::sample::select(vec![
        "Host: web.test",
        "host:x",
        "Content-Length: ",
        "content-length:5",
        "Transfer-Encoding: chunked",
        "TE: ",
        "Connection: close",
        "Expect: 100-continue",
        "Upgrade: ws",
        ",",
        " ",
        "\t",
        "\r\n",
        "\n",
        "\r",
        ":",
        "0",
        "5",
        "-",
        "+",
        "x",
        "\0",
        "\u{7f}",
        "\u{ff}",
        "\r\n\r\n",
    ]);
    (start, prop::collection::vec(fragment, 0..40))
        .prop_map(|(s, f)| [s.as_bytes().to_vec(), f.concat().into_bytes()].concat())
}

/// Applies byte edits (replace, insert, delete) to `bytes`.
fn mutate(mut bytes: Vec<u8>, edits: &[(u8, Index, u8)]) -> Vec<u8> {
    for (kind, at, byte) in edits {
        let i = at.index(bytes.len() + 1);
        match kind % 3 {
            0 if i < bytes.len() => bytes[i] = *byte,
            1 => bytes.insert(i, *byte),
            _ if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// (a) Arbitrary bytes, any header limit: no panic; a complete head never claims more
    /// bytes than were given.
    #[test]
    fn arbitrary_bytes_never_panic_the_head_parser(
        input in prop::collection::vec(any::<u8>(), 0..2048),
        max_headers in 1usize..=MAX_HEADER_SLOTS,
    ) {
        if let Ok(Some((head, len))) = parse(&input, max_headers) {
            prop_assert!(len > 0 && len <= input.len());
            reserialises(&head)?;
        }
    }

    /// (a) + (b) Bytes made of head fragments: no panic, and whatever is accepted re-serialises
    /// to a message that parses back to the same head.
    #[test]
    fn head_like_bytes_never_panic_and_accepted_ones_reserialise(input in head_like_bytes(), max_headers in 1usize..=16) {
        if let Ok(Some((head, len))) = parse(&input, max_headers) {
            prop_assert!(len > 0 && len <= input.len());
            reserialises(&head)?;
        }
    }

    /// (b) A head built from valid parts parses to exactly those parts: method, target,
    /// version, header names (lowercased) and values in order, and the framing, keep-alive,
    /// `Expect` and upgrade decisions the headers call for. Bytes after the head are not consumed.
    #[test]
    fn valid_heads_parse_to_their_parts(valid in valid(), next in prop::collection::vec(any::<u8>(), 0..32)) {
        let head_bytes = valid.message.to_bytes();
        let input = [head_bytes.clone(), next].concat();
        let parsed = parse(&input, MAX_HEADER_SLOTS);
        let Ok(Some((head, len))) = parsed else {
            return Err(TestCaseError::fail(format!("refused {:?}: {parsed:?}", String::from_utf8_lossy(&head_bytes))));
        };
        prop_assert_eq!(len, head_bytes.len());
        prop_assert_eq!(Message::of(&head), valid.message.grouped());
        prop_assert_eq!(head.framing, valid.framing);
        prop_assert_eq!(head.keep_alive, valid.keep_alive);
        prop_assert_eq!(head.expect_continue, valid.expect_continue);
        prop_assert_eq!(head.wants_upgrade, valid.wants_upgrade);
        reserialises(&head)?;
    }

    /// (b) Valid heads with a few random byte edits: whatever the parser still accepts
    /// re-serialises to a message that parses back to the same head.
    #[test]
    fn edited_heads_that_parse_reserialise(
        valid in valid(),
        edits in prop::collection::vec((any::<u8>(), any::<Index>(), any::<u8>()), 1..4),
    ) {
        let input = mutate(valid.message.to_bytes(), &edits);
        if let Ok(Some((head, _))) = parse(&input, MAX_HEADER_SLOTS) {
            reserialises(&head)?;
        }
    }

    /// (c) Each ambiguity rule refuses the head (400; 417 for an unsupported `Expect`)
    /// whatever the header order and name case, while the same head without the
    /// violation is accepted.
    #[test]
    fn each_ambiguity_rule_holds_under_any_header_order_and_case(base in base(), rule in rule(), layout in layout()) {
        let control = broken_head(&base, None, &layout);
        let accepted = parse(&control, MAX_HEADER_SLOTS);
        prop_assert!(matches!(accepted, Ok(Some(_))), "control refused: {:?} {:?}", String::from_utf8_lossy(&control), accepted);
        let broken = broken_head(&base, Some(&rule), &layout);
        let refused = parse(&broken, MAX_HEADER_SLOTS);
        let expected = match rule {
            Rule::UnsupportedExpect(_) => matches!(refused, Err(ProxyError::ExpectationFailed)),
            _ => matches!(refused, Err(ProxyError::BadRequest { .. })),
        };
        prop_assert!(expected, "{:?} gave {:?} for {:?}", rule, refused, String::from_utf8_lossy(&broken));
    }

    /// (c) A chunked body breaking a chunk rule is refused whatever the head looks like:
    /// `Transfer-Encoding: chunked` in any case, anywhere among the headers, still selects the
    /// strict decoder, and a well-formed body under the same head decodes to its data.
    #[test]
    fn bad_chunks_are_refused_under_any_header_order_and_case(
        base in base(),
        layout in layout(),
        (bad, prefix, rest, _) in broken_chunked_body(),
        (data, pieces) in chunked_body(),
    ) {
        let mut head = broken_head(&base, None, &layout);
        // Add the framing header at a random position among the fields.
        let te = format!("{}: {}\r\n", recase("transfer-encoding", layout.cases[3]), recase("chunked", layout.cases[4]));
        let line_starts: Vec<usize> = head.windows(2).enumerate().filter(|(_, w)| w[..] == b"\r\n"[..]).map(|(i, _)| i + 2).collect();
        let at = line_starts[layout.at.index(line_starts.len() - 1)];
        head.splice(at..at, te.into_bytes());

        let good = [head.clone(), pieces.concat()].concat();
        let Ok(Some((parsed, len))) = parse(&good, MAX_HEADER_SLOTS) else {
            return Err(TestCaseError::fail(format!("head refused: {:?}", String::from_utf8_lossy(&head))));
        };
        prop_assert_eq!(parsed.framing, Framing::Chunked);
        let out = decode(parsed.framing, &good[len..]);
        prop_assert!(out.end.is_ok(), "{:?}", out.end);
        prop_assert_eq!(out.data, data);

        let broken = [head, prefix, rest].concat();
        let Ok(Some((parsed, len))) = parse(&broken, MAX_HEADER_SLOTS) else {
            return Err(TestCaseError::fail("head refused".to_owned()));
        };
        let out = decode(parsed.framing, &broken[len..]);
        prop_assert!(matches!(out.end, Err(BodyError::Malformed(_))), "{:?}: {:?}", bad, out.end);
    }
}
