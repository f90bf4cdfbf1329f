//! The vendored mail-parser's fast quoted-printable and base64 body decoders
//! (vendor/mail-parser, WAVETRACE-PATCHES.md) against mail-parser 0.11.9's
//! own decoders, kept beside them as `*_reference`: same bytes out, same end
//! offset, and the stream left at the same place, on token soup built from
//! everything the decoders treat specially.

use mail_parser::parsers::MessageStream;
use proptest::prelude::*;

const BOUNDARY: &[u8] = b"b0undary";

/// One decoder run: where the part ends, what it decoded, where the stream
/// stands afterwards and the byte it yields next.
type Run = (usize, Vec<u8>, usize, Option<u8>);

fn run(data: &[u8], skip: usize, boundary: &[u8], decode: Decoder) -> Run {
    let mut stream = MessageStream::new(data);
    stream.skip_bytes(skip.min(data.len()));
    let (end, bytes) = decode(&mut stream, boundary);
    let offset = stream.offset();
    (end, bytes, offset, stream.next().copied())
}

fn soup(tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(tokens), 0..120).prop_map(|t| t.concat())
}

#[rustfmt::skip]
const QP_TOKENS: &[&[u8]] = &[
    b"=", b"=3D", b"=C3=A9", b"=\n", b"=\r\n", b"=4", b"=G1", b"=4x", b"= ", b"=\t", b"\n",
    b"\r\n", b"\r", b"-", b"--", b"\n--b0undary", b"\r\n--b0undary--", b"--b0undary", b" ", b"\t",
    b"\x0c", b"  \n", b"plain text", b"x", b"\xc3\xa9", b"\x00", b"=\n--",
];

#[rustfmt::skip]
const B64_TOKENS: &[&[u8]] = &[
    b"QUJD", b"YWJjZGVm", b"QQ==", b"QUI=", b"Q", b"QU", b"QUJ", b"=", b"==", b"\n", b"\r\n",
    b"\r", b" ", b"\t", b"-", b"--", b"\n--b0undary", b"\r\n--b0undary--", b"--b0undary", b"+/",
    b"!", b"\x80", b"a", b"9", b"--x",
];

type Decoder = fn(&mut MessageStream<'_>, &[u8]) -> (usize, Vec<u8>);

fn qp_fast(s: &mut MessageStream<'_>, boundary: &[u8]) -> (usize, Vec<u8>) {
    let (end, bytes) = s.decode_quoted_printable_mime(boundary);
    (end, bytes.into_owned())
}

fn qp_reference(s: &mut MessageStream<'_>, boundary: &[u8]) -> (usize, Vec<u8>) {
    let (end, bytes) = s.decode_quoted_printable_mime_reference(boundary);
    (end, bytes.into_owned())
}

fn base64_fast(s: &mut MessageStream<'_>, boundary: &[u8]) -> (usize, Vec<u8>) {
    let (end, bytes) = s.decode_base64_mime(boundary);
    (end, bytes.into_owned())
}

fn base64_reference(s: &mut MessageStream<'_>, boundary: &[u8]) -> (usize, Vec<u8>) {
    let (end, bytes) = s.decode_base64_mime_reference(boundary);
    (end, bytes.into_owned())
}

/// The fast decoder and the reference on the same input, with or without a
/// boundary to stop at.
fn both(data: &[u8], skip: usize, bounded: bool, fast: Decoder, reference: Decoder) -> (Run, Run) {
    let boundary = if bounded { BOUNDARY } else { b"" };
    (
        run(data, skip, boundary, fast),
        run(data, skip, boundary, reference),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn quoted_printable_matches_mail_parser(data in soup(QP_TOKENS), skip in 0usize..8, bounded in any::<bool>()) {
        let (fast, reference) = both(&data, skip, bounded, qp_fast, qp_reference);
        prop_assert_eq!(fast, reference);
    }

    #[test]
    fn base64_matches_mail_parser(data in soup(B64_TOKENS), skip in 0usize..8, bounded in any::<bool>()) {
        let (fast, reference) = both(&data, skip, bounded, base64_fast, base64_reference);
        prop_assert_eq!(fast, reference);
    }

    #[test]
    fn decoders_match_mail_parser_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..400), bounded in any::<bool>()) {
        let (fast, reference) = both(&data, 0, bounded, qp_fast, qp_reference);
        prop_assert_eq!(fast, reference);
        let (fast, reference) = both(&data, 0, bounded, base64_fast, base64_reference);
        prop_assert_eq!(fast, reference);
    }
}

/// A body the way mail carries it: the fast decoders give the same text.
#[test]
fn real_shaped_bodies_decode_the_same() {
    let qp = b"Caf=C3=A9 au lait, tr=C3=A8s bon. =\r\nA soft line break, trailing   \r\n\r\n--b0undary--\r\n";
    let b64 = b"SGVsbG8sIHdvcmxkIQ==\r\nU2Vjb25kIGxpbmU=\r\n--b0undary\r\n";
    for (data, fast, reference) in [
        (
            &qp[..],
            MessageStream::new(qp).decode_quoted_printable_mime(BOUNDARY),
            MessageStream::new(qp).decode_quoted_printable_mime_reference(BOUNDARY),
        ),
        (
            &b64[..],
            MessageStream::new(b64).decode_base64_mime(BOUNDARY),
            MessageStream::new(b64).decode_base64_mime_reference(BOUNDARY),
        ),
    ] {
        assert_eq!(fast, reference, "{}", String::from_utf8_lossy(data));
        assert_ne!(fast.0, usize::MAX, "the boundary ends the part");
    }
}
