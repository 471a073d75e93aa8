//! Property tests of the body decoder: arbitrary bytes never panic it, well-formed
//! chunked and fixed-length bodies decode to exactly their data (the next message's
//! bytes left in place), and every malformed-chunk rule refuses the body.
//!
//! The decoder reads a real socket: each case puts its bytes in the connection's
//! buffer, and the socket's peer is already closed, so needing more bytes ends in
//! [`BodyError::Closed`] instead of a wait. One socket serves every case of a thread.

use std::cell::RefCell;

use bytes::BytesMut;
use proptest::prelude::*;
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Cases per property; each case is one in-memory decode, so this stays well under a second.
const CASES: u32 = 512;

/// What decoding one input gave.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The body bytes yielded, concatenated.
    pub data: Vec<u8>,
    /// `Ok` when the decoder reported the end of the body.
    pub end: Result<(), BodyError>,
    /// Bytes left in the connection buffer afterwards.
    pub rest: Vec<u8>,
    /// Every yielded piece carried at least one byte.
    pub pieces_nonempty: bool,
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("test runtime");
    static IO: RefCell<Option<ClientIo>> = const { RefCell::new(None) };
}

/// A connection whose peer has closed: reads see end of stream at once.
async fn closed_connection() -> ClientIo {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
    drop(listener.accept().await.expect("accept"));
    ClientIo { stream: client, buf: BytesMut::new() }
}

/// Runs the decoder over `input` (as if it had all arrived already) until it ends or fails.
pub(crate) fn decode(framing: Framing, input: &[u8]) -> Decoded {
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let mut io = match IO.with(|cell| cell.borrow_mut().take()) {
                Some(io) => io,
                None => closed_connection().await,
            };
            io.buf.clear();
            io.buf.extend_from_slice(input);
            let mut reader = BodyReader::new(&mut io, framing, None, false);
            let (mut data, mut pieces_nonempty) = (Vec::new(), true);
            let end = loop {
                match reader.next().await {
                    Ok(Some(piece)) => {
                        pieces_nonempty &= !piece.is_empty();
                        data.extend_from_slice(&piece);
                    }
                    Ok(None) => break Ok(()),
                    Err(error) => break Err(error),
                }
            };
            let rest = io.buf.to_vec();
            IO.with(|cell| *cell.borrow_mut() = Some(io));
            Decoded { data, end, rest, pieces_nonempty }
        })
    })
}

// === Generators ===

/// A chunk-size line for `size`: hex digits in random case, maybe zero-padded, maybe an extension.
fn size_line(size: usize) -> impl Strategy<Value = Vec<u8>> {
    let hex = format!("{size:x}");
    let pad = 0..=(15 - hex.len());
    let ext = prop_oneof![
        Just(String::new()),
        "[a-z]{1,8}".prop_map(|n| format!(";{n}")),
        ("[a-z]{1,8}", "[a-zA-Z0-9]{0,8}").prop_map(|(n, v)| format!(";{n}={v}")),
        ("[a-z]{1,8}", "[ -~]{0,8}").prop_map(|(n, v)| format!(";{n}=\"{}\"", v.replace(['"', '\\'], ""))),
    ];
    (pad, any::<u64>(), ext).prop_map(move |(pad, case, ext)| {
        let digits: String = hex
            .chars()
            .enumerate()
            .map(|(i, c)| if case >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
            .collect();
        format!("{}{digits}{ext}\r\n", "0".repeat(pad)).into_bytes()
    })
}

/// A well-formed trailer section (possibly empty), ending with the blank line.
fn trailers() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,16}"), 0..3).prop_map(|fields| {
        let mut out = Vec::new();
        for (name, value) in fields {
            out.extend_from_slice(format!("{name}: {}\r\n", value.trim()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    })
}

/// A body, its chunked encoding (random chunk sizes, extensions, trailers) and the chunk lines used.
pub(crate) fn chunked_body() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<u8>>)> {
    (prop::collection::vec(any::<u8>(), 0..600), prop::collection::vec(1usize..200, 1..8))
        .prop_flat_map(|(body, cuts)| {
            let mut sizes = Vec::new();
            let mut left = body.len();
            for cut in cuts.iter().cycle() {
                if left == 0 {
                    break;
                }
                sizes.push((*cut).min(left));
                left -= (*cut).min(left);
            }
            let lines: Vec<_> = sizes.iter().map(|s| size_line(*s)).collect();
            (Just(body), Just(sizes), lines, size_line(0), trailers())
        })
        .prop_map(|(body, sizes, lines, last, trailers)| {
            // Each encoded piece: size line + data + CRLF; the last piece is the `0` line + trailers.
            let mut pieces = Vec::new();
            let mut at = 0;
            for (size, line) in sizes.iter().zip(lines) {
                let mut piece = line;
                piece.extend_from_slice(&body[at..at + size]);
                piece.extend_from_slice(b"\r\n");
                pieces.push(piece);
                at += size;
            }
            let mut end = last;
            end.extend_from_slice(&trailers);
            pieces.push(end);
            (body, pieces)
        })
}

/// One way to break a chunked body, named after the rule it breaks.
#[derive(Debug, Clone)]
pub(crate) enum BadChunk {
    /// A chunk-size line that is not `1*HEXDIG [ ";" ext ]`.
    Size(Vec<u8>),
    /// A chunk with more data than its size says.
    DataLongerThanSize { size: usize, extra: usize },
    /// The CRLF after chunk data replaced by a bare LF.
    BareLfAfterData,
    /// A chunk-size line ended by a bare LF.
    BareLfInSizeLine,
    /// A control byte in a chunk extension.
    ControlInExtension(u8),
    /// A trailer line that is folded, lacks a colon, or carries a control byte.
    Trailer(Vec<u8>),
    /// A chunk-size line with no end within the line limit.
    UnterminatedLongLine,
}

fn control_byte() -> impl Strategy<Value = u8> {
    // Every C0 control but HTAB and LF (LF ends the line), plus DEL.
    prop_oneof![0u8..9, 11u8..32, Just(127u8)]
}

pub(crate) fn bad_chunk() -> impl Strategy<Value = BadChunk> {
    let bad_size = prop_oneof![
        Just(b"".to_vec()),
        "[0-9a-f]{1,4}".prop_map(|d| format!(" {d}").into_bytes()),
        "[0-9a-f]{1,4}".prop_map(|d| format!("{d} ").into_bytes()),
        "[0-9a-f]{1,4}".prop_map(|d| format!("\t{d}").into_bytes()),
        "[0-9a-f]{1,4}".prop_map(|d| format!("+{d}").into_bytes()),
        "[0-9a-f]{1,4}".prop_map(|d| format!("-{d}").into_bytes()),
        "[0-9a-f]{1,4}".prop_map(|d| format!("0x{d}").into_bytes()),
        "[0-9a-f]{0,3}[g-zG-Z_.][0-9a-f]{0,3}".prop_map(String::into_bytes),
        // More than 15 digits, even zero-padded small values: no overflow can slip through.
        "[0-9a-fA-F]{16,24}".prop_map(String::into_bytes),
    ];
    prop_oneof![
        bad_size.prop_map(BadChunk::Size),
        (1usize..50, 1usize..10).prop_map(|(size, extra)| BadChunk::DataLongerThanSize { size, extra }),
        Just(BadChunk::BareLfAfterData),
        Just(BadChunk::BareLfInSizeLine),
        Just(BadChunk::UnterminatedLongLine),
        control_byte().prop_map(BadChunk::ControlInExtension),
        prop_oneof![
            "[ \t][ -~]{1,10}".prop_map(String::into_bytes),
            "[A-Za-z0-9-]{1,10}".prop_map(String::into_bytes),
            ("[A-Za-z-]{1,8}", control_byte()).prop_map(|(n, c)| [format!("{n}: a").as_bytes(), &[c]].concat()),
        ]
        .prop_map(BadChunk::Trailer),
    ]
}

/// A chunked body with one violation placed among well-formed chunks: the rule, the valid
/// prefix, the broken rest, and the data the decoder still yields from the broken chunk.
pub(crate) fn broken_chunked_body() -> impl Strategy<Value = (BadChunk, Vec<u8>, Vec<u8>, Vec<u8>)> {
    (chunked_body(), bad_chunk(), any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..8)).prop_map(
        |((_, pieces), bad, at, filler)| {
            // Break the body before one of its data chunks (the last piece is the `0` line).
            let at = at.index(pieces.len());
            let prefix: Vec<u8> = pieces[..at].concat();
            let yielded = match &bad {
                BadChunk::DataLongerThanSize { size, .. } => vec![b'x'; *size],
                BadChunk::BareLfAfterData => b"ab".to_vec(),
                _ => Vec::new(),
            };
            let rest = match &bad {
                BadChunk::Size(line) => [line.as_slice(), b"\r\n", b"ab\r\n0\r\n\r\n"].concat(),
                BadChunk::DataLongerThanSize { size, extra } => {
                    [format!("{size:x}\r\n").into_bytes(), vec![b'x'; size + extra], b"\r\n0\r\n\r\n".to_vec()].concat()
                }
                BadChunk::BareLfAfterData => b"2\r\nab\n0\r\n\r\n".to_vec(),
                BadChunk::BareLfInSizeLine => b"2\nab\r\n0\r\n\r\n".to_vec(),
                BadChunk::ControlInExtension(c) => [b"2;e=".as_slice(), &[*c], b"\r\nab\r\n0\r\n\r\n"].concat(),
                BadChunk::Trailer(line) => [b"0\r\n".as_slice(), line, b"\r\n\r\n"].concat(),
                BadChunk::UnterminatedLongLine => {
                    let filler: Vec<u8> = filler.into_iter().filter(|b| *b != b'\n').collect();
                    [b"2;".as_slice(), &vec![b'e'; 4100], &filler].concat()
                }
            };
            (bad, prefix, rest, yielded)
        },
    )
}

// === Properties ===

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![Just(Framing::Chunked), Just(Framing::UntilClose), (0u64..2048).prop_map(Framing::Length)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// (a) Arbitrary bytes under any framing: no panic, no data invented, no empty piece,
    /// and the only failures are the ones the bytes explain (malformed, or cut short).
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(framing in framing(), input in prop::collection::vec(any::<u8>(), 0..1500)) {
        let out = decode(framing, &input);
        prop_assert!(out.pieces_nonempty);
        prop_assert!(out.data.len() + out.rest.len() <= input.len());
        prop_assert!(matches!(out.end, Ok(()) | Err(BodyError::Malformed(_) | BodyError::Closed)), "{:?}", out.end);
        match framing {
            Framing::Length(n) if (n as usize) <= input.len() => {
                prop_assert!(out.end.is_ok());
                prop_assert_eq!(&out.data[..], &input[..n as usize]);
                prop_assert_eq!(&out.rest[..], &input[n as usize..]);
            }
            Framing::Length(_) => {
                prop_assert!(matches!(out.end, Err(BodyError::Closed)));
                prop_assert_eq!(&out.data, &input);
            }
            Framing::UntilClose => {
                prop_assert!(out.end.is_ok());
                prop_assert_eq!(&out.data, &input);
            }
            Framing::Chunked => {}
        }
    }

    /// (a) Bytes that look like chunked framing (hex digits, `;`, CR, LF, colons) reach the
    /// decoder's deeper states; still no panic and no data beyond the input.
    #[test]
    fn chunk_like_bytes_never_panic_the_decoder(
        input in prop::collection::vec(prop::sample::select(b"0123456789abcdefABCDEF;=: \t\r\n\"xz\0".to_vec()), 0..400),
    ) {
        let out = decode(Framing::Chunked, &input);
        prop_assert!(out.pieces_nonempty);
        prop_assert!(out.data.len() + out.rest.len() <= input.len());
        prop_assert!(matches!(out.end, Ok(()) | Err(BodyError::Malformed(_) | BodyError::Closed)), "{:?}", out.end);
    }

    /// A well-formed chunked body decodes to exactly its data, and the next message's
    /// bytes stay in the buffer.
    #[test]
    fn chunked_bodies_decode_to_their_data((body, pieces) in chunked_body(), next in prop::collection::vec(any::<u8>(), 0..64)) {
        let input = [pieces.concat(), next.clone()].concat();
        let out = decode(Framing::Chunked, &input);
        prop_assert!(out.end.is_ok(), "{:?} for {:?}", out.end, String::from_utf8_lossy(&input));
        prop_assert_eq!(out.data, body);
        prop_assert_eq!(out.rest, next);
    }

    /// (c) Each malformed-chunk rule refuses the body wherever the bad chunk sits, after
    /// yielding at most the data of the well-formed chunks before it.
    #[test]
    fn each_malformed_chunk_rule_refuses_the_body((bad, prefix, rest, yielded) in broken_chunked_body()) {
        let valid = decode(Framing::Chunked, &[prefix.as_slice(), b"0\r\n\r\n"].concat());
        prop_assert!(valid.end.is_ok(), "control failed: {:?}", valid.end);
        let out = decode(Framing::Chunked, &[prefix, rest].concat());
        prop_assert!(matches!(out.end, Err(BodyError::Malformed(_))), "{:?}: {:?}", bad, out.end);
        prop_assert_eq!(out.data, [valid.data, yielded].concat(), "{:?}", bad);
    }
}
