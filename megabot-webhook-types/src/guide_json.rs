// Over 600 lines: 406 lines of code; the rest is its unit tests, kept beside it.
//! The guide-compatible JSON writer.
//!
//! The guide's Python signer serialises every payload with
//! `json.dumps(payload, separators=(',', ':'))`, and a receiver written from
//! the guide re-serialises the parsed body the same way before it checks the
//! signature. This module writes any [`serde::Serialize`] value byte for byte
//! as that call does (docs/design.md section 3, "Body bytes"): it is
//! `serde_json`'s own serializer driven by [`PythonFormatter`], which differs
//! from `serde_json`'s compact output only in strings and floats:
//!
//! - compact: no space after `,` or `:` (the guide's `separators`, not
//!   Python's default `", "` and `": "`);
//! - strings as Python's `ensure_ascii` encoder writes them: `"` → `\"`,
//!   `\` → `\\`, `\n \r \t \b \f` as those escapes, every other character
//!   below U+0020 and U+007F as `\u00XX`, every non-ASCII character as
//!   `\uXXXX` (lowercase hex), characters beyond the BMP as a UTF-16
//!   surrogate pair (`😀` → `\ud83d\ude00`); `/` is not escaped;
//! - floats as Python's `repr(float)`: the shortest digits that round-trip,
//!   positional when the decimal exponent is in `-4..16` (`100.0`, `28.5`,
//!   `0.0001`, `0.30000000000000004`, `-0.0`), scientific otherwise with a sign
//!   and at least two exponent digits (`1e+16`, `1e-05`, `1.5e+300`, `5e-324`);
//! - integers as written, whatever their width;
//! - object keys in the order the value yields them (a
//!   [`serde_json::Value`] keeps the order it was parsed in); integer, float
//!   and bool keys as strings (`"1"`, `"1e+16"`, `"true"`), as Python does.
//!
//! The output is always ASCII and a fixed point of Python's
//! `json.dumps(json.loads(body), separators=(',', ':'))`.
//!
//! NaN and the infinities have no JSON form. Python would write `NaN` and
//! `Infinity`, which no JSON parser (this SDK's included) reads back, so the
//! SDK never produces them: an [`Event`](crate::Event) cannot hold one
//! ([`FiniteF64`](crate::data::FiniteF64) refuses them when the event is built)
//! and a [`serde_json::Value`] cannot either. Any other value holding one is
//! written as `serde_json` writes it, `null`.
//!
//! ```
//! use megabot_webhook_types::guide_json;
//! use serde_json::json;
//!
//! let payload = json!({
//!     "event": "chat_message_received",
//!     "data": {"content": "café 😀", "cpu": 1e16, "ratio": 100.0, "tiny": 1e-5},
//! });
//! assert_eq!(
//!     guide_json::to_string(&payload)?,
//!     r#"{"event":"chat_message_received","data":{"content":"caf\u00e9 \ud83d\ude00","cpu":1e+16,"ratio":100.0,"tiny":1e-05}}"#,
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

/// Serialises `value` as Python's `json.dumps(value, separators=(',', ':'))`
/// would, into a new byte vector.
///
/// # Errors
///
/// Fails when the value's `Serialize` implementation fails, or when a map key
/// is not representable as a JSON object key (a sequence, map, struct, `None`
/// or a non-finite float).
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Serialises `value` as Python's `json.dumps(value, separators=(',', ':'))`
/// would, into a `String` (which is always pure ASCII).
///
/// # Errors
///
/// As [`to_vec`].
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let bytes = to_vec(value)?;
    // The formatter writes ASCII only, so this conversion cannot fail.
    String::from_utf8(bytes).map_err(serde::ser::Error::custom)
}

/// Serialises `value` as Python's `json.dumps(value, separators=(',', ':'))`
/// would, into `writer`.
///
/// The writer receives many small writes; wrap files and sockets in a
/// [`std::io::BufWriter`].
///
/// # Errors
///
/// As [`to_vec`], plus any I/O error from `writer`.
pub fn to_writer<W: io::Write, T: ?Sized + Serialize>(
    writer: W,
    value: &T,
) -> Result<(), serde_json::Error> {
    value.serialize(&mut serde_json::Serializer::with_formatter(
        writer,
        PythonFormatter,
    ))
}

/// A [`serde_json::ser::Formatter`] that writes strings and floats as Python's
/// `json.dumps(obj, separators=(',', ':'))` does; everything else (compact
/// separators, integers, `null`, booleans) is `serde_json`'s compact layout,
/// which is already Python's.
///
/// [`to_writer`], [`to_vec`] and [`to_string`] drive a
/// [`serde_json::Serializer`] with it; use it directly when you hold the
/// serializer yourself.
///
/// ```
/// use megabot_webhook_types::guide_json::PythonFormatter;
/// use serde::Serialize;
///
/// let mut out = Vec::new();
/// let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
/// (1e16, "naïve").serialize(&mut ser)?;
/// assert_eq!(out, br#"[1e+16,"na\u00efve"]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PythonFormatter;

impl Formatter for PythonFormatter {
    #[inline]
    fn write_f32<W>(&mut self, writer: &mut W, value: f32) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        write_f32_repr(writer, value)
    }

    #[inline]
    fn write_f64<W>(&mut self, writer: &mut W, value: f64) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        write_f64_repr(writer, value)
    }

    #[inline]
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        // serde_json hands over everything except `"`, `\` and C0 controls
        // unescaped; U+007F and non-ASCII still need Python's escapes.
        write_escaped_contents(writer, fragment)
    }

    #[inline]
    fn write_char_escape<W>(&mut self, writer: &mut W, char_escape: CharEscape) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        match char_escape {
            CharEscape::Quote => writer.write_all(b"\\\""),
            CharEscape::ReverseSolidus => writer.write_all(b"\\\\"),
            // Python never escapes `/`.
            CharEscape::Solidus => writer.write_all(b"/"),
            CharEscape::Backspace => writer.write_all(b"\\b"),
            CharEscape::FormFeed => writer.write_all(b"\\f"),
            CharEscape::LineFeed => writer.write_all(b"\\n"),
            CharEscape::CarriageReturn => writer.write_all(b"\\r"),
            CharEscape::Tab => writer.write_all(b"\\t"),
            CharEscape::AsciiControl(byte) => write_u_escape(writer, u16::from(byte)),
        }
    }
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

const HEX: &[u8; 16] = b"0123456789abcdef";

/// For each ASCII byte: 0 when it is written as is, otherwise the letter after
/// the backslash (`u` meaning `\u00XX`).
static ASCII_ESCAPE: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0x7f] = b'u';
    table
};

#[inline]
fn write_u_escape<W: ?Sized + io::Write>(writer: &mut W, unit: u16) -> io::Result<()> {
    writer.write_all(&u_escape(unit))
}

#[inline]
fn u_escape(unit: u16) -> [u8; 6] {
    [
        b'\\',
        b'u',
        HEX[usize::from(unit >> 12)],
        HEX[usize::from((unit >> 8) & 0xf)],
        HEX[usize::from((unit >> 4) & 0xf)],
        HEX[usize::from(unit & 0xf)],
    ]
}

/// Writes `s` escaped as Python's `ensure_ascii` encoder does, without the
/// surrounding quotes. Runs of plain ASCII go out in one `write_all`.
fn write_escaped_contents<W: ?Sized + io::Write>(writer: &mut W, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte < 0x80 {
            let escape = ASCII_ESCAPE[usize::from(byte)];
            if escape == 0 {
                i += 1;
                continue;
            }
            if start < i {
                writer.write_all(&bytes[start..i])?;
            }
            if escape == b'u' {
                write_u_escape(writer, u16::from(byte))?;
            } else {
                writer.write_all(&[b'\\', escape])?;
            }
            i += 1;
        } else {
            if start < i {
                writer.write_all(&bytes[start..i])?;
            }
            // `i` is always on a char boundary: it only moves by whole chars.
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            let mut units = [0u16; 2];
            match c.encode_utf16(&mut units) {
                [unit] => write_u_escape(writer, *unit)?,
                [high, low] => {
                    let mut pair = [0u8; 12];
                    pair[..6].copy_from_slice(&u_escape(*high));
                    pair[6..].copy_from_slice(&u_escape(*low));
                    writer.write_all(&pair)?;
                }
                _ => {}
            }
            i += c.len_utf8();
        }
        start = i;
    }
    if start < bytes.len() {
        writer.write_all(&bytes[start..])?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// `serde_json`'s serializer writes a non-finite float as `null` without
/// asking the formatter; a caller driving the formatter directly gets the same.
fn write_f64_repr<W: ?Sized + io::Write>(writer: &mut W, value: f64) -> io::Result<()> {
    if !value.is_finite() {
        return writer.write_all(b"null");
    }
    let mut buffer = ryu::Buffer::new();
    write_python_float(writer, buffer.format_finite(value))
}

/// An `f32` goes out with its own shortest digits (`0.1`, not the `f64`
/// widening `0.10000000149011612`): Python reads those digits back as the
/// nearest `f64` and writes the same digits again, so the bytes stay a fixed
/// point of a Python re-serialisation.
fn write_f32_repr<W: ?Sized + io::Write>(writer: &mut W, value: f32) -> io::Result<()> {
    if !value.is_finite() {
        return writer.write_all(b"null");
    }
    let mut buffer = ryu::Buffer::new();
    write_python_float(writer, buffer.format_finite(value))
}
/// Rewrites ryu's shortest round-trip rendering of a finite float (`1e16`,
/// `1.5e-7`, `0.0001`, `123.45`, `-0.0`) in Python's `repr` layout.
fn write_python_float<W: ?Sized + io::Write>(writer: &mut W, ryu: &str) -> io::Result<()> {
    let text = ryu.as_bytes();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&text[..at], parse_exponent(&text[at + 1..])),
        None => (text, 0),
    };

    // Significant digits `d1 d2 ... dn` and `point` such that the value is
    // 0.d1d2...dn × 10^point (the `decpt` of David Gay's dtoa, which Python
    // uses: the first digit sits at 10^(point - 1)).
    let mut digits = [0u8; 32];
    let mut len = 0usize;
    let mut point: i32 = exponent;
    let mut seen_point = false;
    for &b in mantissa {
        match b {
            b'.' => seen_point = true,
            b'0'..=b'9' => {
                if len == 0 && b == b'0' {
                    // A leading zero: before the point it carries nothing,
                    // after it it shifts the first digit down.
                    if seen_point {
                        point -= 1;
                    }
                    continue;
                }
                if len < digits.len() {
                    digits[len] = b;
                    len += 1;
                }
                if !seen_point {
                    point += 1;
                }
            }
            _ => {}
        }
    }
    while len > 0 && digits[len - 1] == b'0' {
        len -= 1;
    }

    let mut out = [0u8; 48];
    let mut n = 0usize;
    let mut push = |bytes: &[u8]| {
        out[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    if negative {
        push(b"-");
    }
    let digits = &digits[..len];
    if digits.is_empty() {
        push(b"0.0");
    } else if (-3..=16).contains(&point) {
        // Positional: decimal exponent (point - 1) in -4..16.
        if point <= 0 {
            push(b"0.");
            for _ in point..0 {
                push(b"0");
            }
            push(digits);
        } else {
            let point = point as usize;
            if point < digits.len() {
                push(&digits[..point]);
                push(b".");
                push(&digits[point..]);
            } else {
                push(digits);
                for _ in digits.len()..point {
                    push(b"0");
                }
                push(b".0");
            }
        }
    } else {
        push(&digits[..1]);
        if digits.len() > 1 {
            push(b".");
            push(&digits[1..]);
        }
        let exp = point - 1;
        push(if exp < 0 { b"e-" } else { b"e+" });
        let magnitude = exp.unsigned_abs();
        if magnitude >= 100 {
            push(&[b'0' + (magnitude / 100) as u8]);
        }
        push(&[
            b'0' + (magnitude / 10 % 10) as u8,
            b'0' + (magnitude % 10) as u8,
        ]);
    }
    writer.write_all(&out[..n])
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0i32, |acc, &b| {
            acc.saturating_mul(10).saturating_add(i32::from(b - b'0'))
        });
    if negative { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn float(v: f64) -> String {
        to_string(&v).unwrap()
    }

    #[test]
    fn floats_follow_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (100.0, "100.0"),
            (28.5, "28.5"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (-1e-5, "-1e-05"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (-1e16, "-1e+16"),
            (1e17, "1e+17"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (1.5e300, "1.5e+300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (-5e-324, "-5e-324"),
            (123.456, "123.456"),
            (1640995210.0, "1640995210.0"),
        ];
        for &(value, expected) in cases {
            assert_eq!(float(value), expected, "{value:?}");
        }
    }

    #[test]
    fn non_finite_floats_are_never_written_as_python_would() {
        // Python would write `NaN`/`Infinity`, which no JSON parser reads back.
        assert_eq!(float(f64::NAN), "null");
        assert_eq!(float(f64::INFINITY), "null");
        assert_eq!(to_string(&[f32::NEG_INFINITY]).unwrap(), "[null]");
        let key = to_string(&FloatKeys(vec![(f64::NAN, 1)])).unwrap_err();
        assert!(key.to_string().contains("finite"), "{key}");
        // The formatter on its own agrees with the serializer.
        let mut out = Vec::new();
        PythonFormatter
            .write_f64(&mut out, f64::NEG_INFINITY)
            .unwrap();
        assert_eq!(out, b"null");
    }

    #[test]
    fn f32_uses_its_own_shortest_digits() {
        assert_eq!(to_string(&0.1f32).unwrap(), "0.1");
        assert_eq!(to_string(&1e16f32).unwrap(), "1e+16");
        assert_eq!(to_string(&1e-5f32).unwrap(), "1e-05");
        assert_eq!(to_string(&3.0f32).unwrap(), "3.0");
    }

    #[test]
    fn integers_as_written() {
        assert_eq!(to_string(&0u8).unwrap(), "0");
        assert_eq!(to_string(&i64::MIN).unwrap(), "-9223372036854775808");
        assert_eq!(to_string(&u64::MAX).unwrap(), "18446744073709551615");
        assert_eq!(
            to_string(&i128::MIN).unwrap(),
            "-170141183460469231731687303715884105728"
        );
        assert_eq!(
            to_string(&u128::MAX).unwrap(),
            "340282366920938463463374607431768211455"
        );
    }

    #[test]
    fn strings_escape_as_python_does() {
        let cases: &[(&str, &str)] = &[
            ("", r#""""#),
            ("plain / text", r#""plain / text""#),
            ("\"quoted\" \\ back", r#""\"quoted\" \\ back""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{0}\u{1}\u{b}\u{1f}", r#""\u0000\u0001\u000b\u001f""#),
            ("\u{7f}", r#""\u007f""#),
            ("é", r#""\u00e9""#),
            ("café", r#""caf\u00e9""#),
            ("\u{80}\u{ff}\u{100}", r#""\u0080\u00ff\u0100""#),
            ("\u{2028}\u{feff}\u{ffff}", r#""\u2028\ufeff\uffff""#),
            ("😀", r#""\ud83d\ude00""#),
            ("a😀b🎉c", r#""a\ud83d\ude00b\ud83c\udf89c""#),
            ("\u{10000}\u{10ffff}", r#""\ud800\udc00\udbff\udfff""#),
            ("日本語", r#""\u65e5\u672c\u8a9e""#),
        ];
        for &(input, expected) in cases {
            assert_eq!(to_string(input).unwrap(), expected, "{input:?}");
            assert_eq!(to_string(&json!(input)).unwrap(), expected, "{input:?}");
        }
        assert_eq!(to_string(&'é').unwrap(), r#""\u00e9""#);
    }

    #[test]
    fn compact_and_order_kept() {
        let value: serde_json::Value =
            serde_json::from_str(r#"{"z": 1, "a": [1, 2.0, {"m": null, "b": true}], "é": "x"}"#)
                .unwrap();
        assert_eq!(
            to_string(&value).unwrap(),
            r#"{"z":1,"a":[1,2.0,{"m":null,"b":true}],"\u00e9":"x"}"#
        );
        assert_eq!(to_string(&json!([])).unwrap(), "[]");
        assert_eq!(to_string(&json!({})).unwrap(), "{}");
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        New(f64),
        Tuple(u8, &'static str),
        Struct { x: f32, y: Option<i32> },
    }

    #[derive(Serialize)]
    struct Typed {
        name: &'static str,
        ratio: f64,
        missing: Option<u8>,
        shapes: Vec<Shape>,
        #[serde(serialize_with = "serialize_display")]
        shown: f64,
        bytes: &'static [u8],
    }

    fn serialize_display<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v} é\n"))
    }

    #[test]
    fn typed_values_match_serde_json_layout() {
        let value = Typed {
            name: "ü",
            ratio: 1e16,
            missing: None,
            shapes: vec![
                Shape::Unit,
                Shape::New(1e-7),
                Shape::Tuple(7, "t"),
                Shape::Struct { x: 0.5, y: None },
            ],
            shown: 2.5,
            bytes: &[1, 2],
        };
        assert_eq!(
            to_string(&value).unwrap(),
            concat!(
                r#"{"name":"\u00fc","ratio":1e+16,"missing":null,"#,
                r#""shapes":["Unit",{"New":1e-07},{"Tuple":[7,"t"]},{"Struct":{"x":0.5,"y":null}}],"#,
                r#""shown":"2.5 \u00e9\n","bytes":[1,2]}"#
            )
        );
    }

    struct FloatKeys(Vec<(f64, i32)>);

    impl Serialize for FloatKeys {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    #[test]
    fn map_keys_as_python_writes_them() {
        let mut ints = BTreeMap::new();
        ints.insert(-3i64, "a");
        ints.insert(10, "b");
        assert_eq!(to_string(&ints).unwrap(), r#"{"-3":"a","10":"b"}"#);
        let bools: BTreeMap<bool, u8> = [(false, 0), (true, 1)].into_iter().collect();
        assert_eq!(to_string(&bools).unwrap(), r#"{"false":0,"true":1}"#);
        let floats = vec![(1e16f64, 1)].into_iter().collect::<Vec<_>>();
        let map: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
        assert_eq!(to_string(&map).unwrap(), "{}");
        assert_eq!(to_string(&FloatKeys(floats)).unwrap(), r#"{"1e+16":1}"#);
        let bad: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(to_string(&bad).is_err());
    }

    #[test]
    fn the_formatter_drives_serde_json_serializer() {
        let value = json!({
            "s": "a\u{7f}b\u{1}\"\\/é😀\n",
            "f": [1e16, 1e-5, 100.0, 0.1, -0.0, 5e-324],
            "i": [-1, 18446744073709551615u64],
        });
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
        value.serialize(&mut ser).unwrap();
        assert_eq!(out, to_vec(&value).unwrap());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"s":"a\u007fb\u0001\"\\/\u00e9\ud83d\ude00\n","f":[1e+16,1e-05,100.0,0.1,-0.0,5e-324],"i":[-1,18446744073709551615]}"#
        );
    }

    #[test]
    fn to_writer_streams_into_any_writer() {
        let mut out = Vec::new();
        to_writer(&mut out, &json!({"a": 1.0})).unwrap();
        assert_eq!(out, br#"{"a":1.0}"#);
    }
}
