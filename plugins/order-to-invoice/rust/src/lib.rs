//! order-to-invoice, the reference plugin (../SPEC.md), with the Rust SDK.
//!
//! The input is read by a strict, single-pass JSON reader written for this document: it validates the whole
//! body (RFC 8259: no trailing data, no lone surrogates, nesting at most 64 deep, integers told apart from
//! other numbers by their text), keeps the fields the invoice needs, last duplicate winning, and skips
//! everything else without recursion. Like the spec, it does not check that raw bytes are UTF-8: they are
//! copied as they are, into the output and into rejection texts. No crates but the SDK.

use std::borrow::Cow;

use sluice::{Message, Reject};

sluice::handle!(transform);

fn transform(m: &mut Message) -> Result<Vec<u8>, Reject> {
    let out = invoice(&m.body)?;
    m.set_content_type("application/json");
    Ok(out)
}

/// Turns an order into an invoice, or returns the rejection SPEC.md prescribes.
pub fn invoice(input: &[u8]) -> Result<Vec<u8>, Reject> {
    let order = Parser::new(input).order().map_err(|Invalid| Reject::new("invalid JSON"))?;

    let id = non_empty(order.id).ok_or("missing field: id")?;
    let customer = order.customer.ok_or("missing field: customer")?;
    let first = non_empty(customer.first_name).ok_or("missing field: customer.first_name")?;
    let last = non_empty(customer.last_name).ok_or("missing field: customer.last_name")?;
    let email = non_empty(customer.email).ok_or("missing field: customer.email")?;
    let currency = non_empty(order.currency).ok_or("missing field: currency")?;
    let items = order.items.filter(|items| !items.is_empty()).ok_or("missing field: items")?;

    let mut out = Vec::with_capacity(128 + 64 * items.len());
    out.extend_from_slice(b"{\"external_id\":");
    write_string(&mut out, &[&id], false);
    out.extend_from_slice(b",\"customer_name\":");
    write_string(&mut out, &[&first, b" ", &last], false);
    out.extend_from_slice(b",\"email\":");
    write_string(&mut out, &[&email], true);
    out.extend_from_slice(b",\"currency\":");
    write_string(&mut out, &[&currency], false);
    out.extend_from_slice(b",\"lines\":[");
    let mut total: u64 = 0;
    for (n, item) in items.into_iter().enumerate() {
        let item = item.ok_or("missing field: items.sku")?;
        let sku = non_empty(item.sku).ok_or("missing field: items.sku")?;
        let qty = match item.qty {
            Some(q) if q >= 1 => q,
            _ => return Err(sku_error("invalid quantity for sku ", &sku)),
        };
        let amount = item
            .unit_price_cents
            .and_then(|p| qty.checked_mul(p))
            .filter(|&a| a <= INT64_MAX && total + a <= INT64_MAX)
            .ok_or_else(|| sku_error("invalid price for sku ", &sku))?;
        total += amount;
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"sku\":");
        write_string(&mut out, &[&sku], false);
        out.extend_from_slice(b",\"quantity\":");
        write_uint(&mut out, qty);
        out.extend_from_slice(b",\"amount_cents\":");
        write_uint(&mut out, amount);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"total_cents\":");
    write_uint(&mut out, total);
    out.push(b'}');
    Ok(out)
}

const INT64_MAX: u64 = i64::MAX as u64;

fn non_empty(s: Option<Cow<'_, [u8]>>) -> Option<Cow<'_, [u8]>> {
    s.filter(|s| !s.is_empty())
}

/// The sku is quoted raw: the input is not checked for UTF-8, so neither is the rejection.
fn sku_error(prefix: &str, sku: &[u8]) -> Reject {
    let mut msg = Vec::with_capacity(prefix.len() + sku.len());
    msg.extend_from_slice(prefix.as_bytes());
    msg.extend_from_slice(sku);
    Reject::from_bytes(msg)
}

/// Writes the concatenation of parts as a JSON string: `"` and `\` escaped with a backslash, bytes below 0x20
/// as `\u00xx`, everything else raw. With lower, ASCII A–Z are lower-cased.
fn write_string(out: &mut Vec<u8>, parts: &[&[u8]], lower: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for part in parts {
        for &c in part.iter() {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0..=0x1f => {
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]])
                }
                b'A'..=b'Z' if lower => out.push(c + 32),
                _ => out.push(c),
            }
        }
    }
    out.push(b'"');
}

fn write_uint(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// The fields of an order that the invoice uses. A field is None when it is absent or of the wrong type;
/// string values are decoded (borrowed from the input when they hold no escapes).
#[derive(Default)]
struct Order<'a> {
    id: Option<Cow<'a, [u8]>>,
    customer: Option<Customer<'a>>,
    currency: Option<Cow<'a, [u8]>>,
    /// One entry per element; None for an element that is not an object.
    items: Option<Vec<Option<Item<'a>>>>,
}

#[derive(Default)]
struct Customer<'a> {
    first_name: Option<Cow<'a, [u8]>>,
    last_name: Option<Cow<'a, [u8]>>,
    email: Option<Cow<'a, [u8]>>,
}

#[derive(Default)]
struct Item<'a> {
    sku: Option<Cow<'a, [u8]>>,
    /// Some only for a number written without fraction or exponent whose value is in [0, 2⁶³−1] (`-0` is 0).
    qty: Option<u64>,
    unit_price_cents: Option<u64>,
}

/// The body is not one valid JSON value (or not an object).
struct Invalid;

type Parsed<T> = Result<T, Invalid>;

/// Objects and arrays nest at most this deep, the document's own object counting as 1.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,   // objects and arrays open around the current position
    stack: Vec<u8>, // open containers of the value being skipped: b'{' or b'['
}

impl<'a> Parser<'a> {
    fn new(b: &'a [u8]) -> Parser<'a> {
        Parser { b, i: 0, depth: 0, stack: Vec::new() }
    }

    /// Parses the whole body as an order.
    fn order(mut self) -> Parsed<Order<'a>> {
        self.ws();
        if self.peek() != b'{' {
            return Err(Invalid);
        }
        let mut o = Order::default();
        self.object(|p, key| {
            match key {
                b"id" => o.id = p.string_value()?,
                b"customer" => o.customer = p.customer()?,
                b"currency" => o.currency = p.string_value()?,
                b"items" => o.items = p.items()?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        self.ws();
        if self.i != self.b.len() {
            return Err(Invalid);
        }
        Ok(o)
    }

    fn customer(&mut self) -> Parsed<Option<Customer<'a>>> {
        if self.peek() != b'{' {
            self.skip_value()?;
            return Ok(None);
        }
        let mut c = Customer::default();
        self.object(|p, key| {
            match key {
                b"first_name" => c.first_name = p.string_value()?,
                b"last_name" => c.last_name = p.string_value()?,
                b"email" => c.email = p.string_value()?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Some(c))
    }

    fn items(&mut self) -> Parsed<Option<Vec<Option<Item<'a>>>>> {
        if self.peek() != b'[' {
            self.skip_value()?;
            return Ok(None);
        }
        self.i += 1;
        self.enter()?;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == b']' {
            self.i += 1;
            self.depth -= 1;
            return Ok(Some(items));
        }
        loop {
            self.ws();
            items.push(self.item()?);
            self.ws();
            match self.next() {
                b',' => {}
                b']' => {
                    self.depth -= 1;
                    return Ok(Some(items));
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// Counts a container opened at the current position.
    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Invalid);
        }
        Ok(())
    }

    fn item(&mut self) -> Parsed<Option<Item<'a>>> {
        if self.peek() != b'{' {
            self.skip_value()?;
            return Ok(None);
        }
        let mut it = Item::default();
        self.object(|p, key| {
            match key {
                b"sku" => it.sku = p.string_value()?,
                b"qty" => it.qty = p.int_value()?,
                b"unit_price_cents" => it.unit_price_cents = p.int_value()?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Some(it))
    }

    /// Reads the members of the object that starts at the current `{`, calling field with the decoded key and
    /// the parser at the value, which field must consume.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &[u8]) -> Parsed<()>) -> Parsed<()> {
        self.i += 1; // {
        self.enter()?;
        self.ws();
        if self.peek() == b'}' {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            if self.next() != b':' {
                return Err(Invalid);
            }
            self.ws();
            field(self, &key)?;
            self.ws();
            match self.next() {
                b',' => {}
                b'}' => {
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// Reads a value that should be a string: its decoded bytes, or None if it is another JSON value.
    fn string_value(&mut self) -> Parsed<Option<Cow<'a, [u8]>>> {
        if self.peek() != b'"' {
            self.skip_value()?;
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// Reads a value that should be an integer in [0, 2⁶³−1]: its value, or None if it is anything else.
    fn int_value(&mut self) -> Parsed<Option<u64>> {
        match self.peek() {
            b'-' | b'0'..=b'9' => self.number(),
            _ => self.skip_value().map(|()| None),
        }
    }

    /// Reads the string that starts at the current `"` and returns its decoded bytes: a slice of the input
    /// unless it holds escapes.
    fn string(&mut self) -> Parsed<Cow<'a, [u8]>> {
        if self.next() != b'"' {
            return Err(Invalid);
        }
        let start = self.i;
        self.plain();
        if self.peek() == b'"' {
            self.i += 1;
            return Ok(Cow::Borrowed(&self.b[start..self.i - 1]));
        }
        let mut out = Vec::with_capacity(self.i - start + 16);
        out.extend_from_slice(&self.b[start..self.i]);
        self.rest_of_string(Some(&mut out))?;
        Ok(Cow::Owned(out))
    }

    /// Validates and skips the string that starts at the current `"`.
    fn skip_string(&mut self) -> Parsed<()> {
        if self.next() != b'"' {
            return Err(Invalid);
        }
        self.rest_of_string(None)
    }

    /// Moves past the bytes that stand for themselves in a string: all but `"`, `\` and control characters.
    fn plain(&mut self) {
        let rest = &self.b[self.i..];
        self.i += rest.iter().position(|&c| matches!(c, b'"' | b'\\' | 0..=0x1f)).unwrap_or(rest.len());
    }

    /// Reads the rest of a string, appending its decoded bytes to out if given.
    fn rest_of_string(&mut self, mut out: Option<&mut Vec<u8>>) -> Parsed<()> {
        loop {
            let start = self.i;
            self.plain();
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&self.b[start..self.i]);
            }
            match self.next() {
                b'"' => return Ok(()),
                b'\\' => {}
                _ => return Err(Invalid), // end of input or a raw control character
            }
            let c = match self.next() {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let mut cp = self.hex4()?;
                    if (0xdc00..0xe000).contains(&cp) {
                        return Err(Invalid); // a low surrogate first
                    }
                    if (0xd800..0xdc00).contains(&cp) {
                        if self.next() != b'\\' || self.next() != b'u' {
                            return Err(Invalid);
                        }
                        let lo = self.hex4()?;
                        if !(0xdc00..0xe000).contains(&lo) {
                            return Err(Invalid);
                        }
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    if let Some(out) = out.as_deref_mut() {
                        let ch = char::from_u32(cp).ok_or(Invalid)?;
                        out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    continue;
                }
                _ => return Err(Invalid),
            };
            if let Some(out) = out.as_deref_mut() {
                out.push(c);
            }
        }
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.next() {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(Invalid),
            };
            v = v << 4 | u32::from(d);
        }
        Ok(v)
    }

    /// Reads the number at the current position: its value if it is written as an integer (no fraction, no
    /// exponent) in [0, 2⁶³−1], otherwise None.
    fn number(&mut self) -> Parsed<Option<u64>> {
        let neg = self.peek() == b'-';
        if neg {
            self.i += 1;
        }
        let mut v: Option<u64> = Some(0);
        match self.next() {
            b'0' => {}
            c @ b'1'..=b'9' => {
                v = Some(u64::from(c - b'0'));
                while let c @ b'0'..=b'9' = self.peek() {
                    self.i += 1;
                    v = v.and_then(|v| v.checked_mul(10)).and_then(|v| v.checked_add(u64::from(c - b'0')));
                }
            }
            _ => return Err(Invalid),
        }
        let mut integer = true;
        if self.peek() == b'.' {
            self.i += 1;
            self.digits()?;
            integer = false;
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.i += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.i += 1;
            }
            self.digits()?;
            integer = false;
        }
        Ok(v.filter(|&v| integer && v <= INT64_MAX && !(neg && v != 0)))
    }

    /// Reads one or more decimal digits.
    fn digits(&mut self) -> Parsed<()> {
        let start = self.i;
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        if self.i == start {
            return Err(Invalid);
        }
        Ok(())
    }

    /// Validates and skips the value at the current position, iteratively, with the containers it opens on a
    /// stack of its own.
    fn skip_value(&mut self) -> Parsed<()> {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let r = self.skip(&mut stack);
        self.stack = stack;
        r
    }

    fn skip(&mut self, stack: &mut Vec<u8>) -> Parsed<()> {
        loop {
            // A value is expected here.
            self.ws();
            match self.peek() {
                b'{' | b'[' if self.depth + stack.len() >= MAX_DEPTH => return Err(Invalid),
                b'{' => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == b'}' {
                        self.i += 1;
                    } else {
                        stack.push(b'{');
                        self.member_name()?;
                        continue;
                    }
                }
                b'[' => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == b']' {
                        self.i += 1;
                    } else {
                        stack.push(b'[');
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(Invalid),
            }
            // A value has ended: close containers until one continues with a comma.
            loop {
                let open = match stack.last() {
                    Some(&open) => open,
                    None => return Ok(()),
                };
                self.ws();
                match (self.next(), open) {
                    (b',', b'{') => {
                        self.ws();
                        self.member_name()?;
                        break;
                    }
                    (b',', b'[') => break,
                    (b'}', b'{') | (b']', b'[') => {
                        stack.pop();
                    }
                    _ => return Err(Invalid),
                }
            }
        }
    }

    /// Skips `"name" :` in an object being skipped.
    fn member_name(&mut self) -> Parsed<()> {
        self.skip_string()?;
        self.ws();
        if self.next() != b':' {
            return Err(Invalid);
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Parsed<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// Returns the current byte, or 0 at the end of the input (0 is never valid where it is looked at: a raw
    /// NUL is invalid JSON anywhere).
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    /// Returns the current byte and moves past it, or 0 at the end of the input.
    fn next(&mut self) -> u8 {
        let c = self.peek();
        if self.i < self.b.len() {
            self.i += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::TestHost;

    /// Runs every case of ../cases.json through the handler, the way the host would.
    #[test]
    fn conformance() {
        let json = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../cases.json")).unwrap();
        let cases = read_cases(&json);
        assert!(cases.len() >= 50, "only {} cases", cases.len());
        let host = TestHost::new().with_meta("route", "orders");
        let mut failed = Vec::new();
        for c in &cases {
            let res = host.call(transform, &c.input);
            let ok = match (&c.want_output, &c.want_error) {
                (Some(out), _) => res.code == 0 && &res.output == out && res.content_type == "application/json",
                (None, Some(err)) => res.code == 1 && res.error.as_bytes() == &err[..],
                _ => false,
            };
            if !ok {
                failed.push(format!("{}: got {:?}", String::from_utf8_lossy(&c.name), res));
            }
        }
        assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failed.join("\n"));
    }

    #[test]
    fn edge_cases() {
        let ok = |s: &str| invoice(s.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        let base = |items: &str| {
            format!(
                r#"{{"id":"O","customer":{{"first_name":"A","last_name":"B","email":"e@x"}},"currency":"EUR","items":{}}}"#,
                items
            )
        };
        let invalid = Err(Reject::new("invalid JSON"));
        // Keys are compared decoded; escapes in keys count.
        assert!(ok(&base(r#"[{"\u0073ku":"s","qty":1,"unit_price_cents":1}]"#)).is_ok());
        // Nesting: an item is at depth 3, so its unknown fields may open 61 more containers, empty ones too.
        let nest = |n: usize, inner: &str| format!("{}{}{}", "[".repeat(n), inner, "]".repeat(n));
        let item = |x: &str| base(&format!(r#"[{{"sku":"s","qty":1,"unit_price_cents":1,"x":{}}}]"#, x));
        assert!(ok(&item(&nest(61, ""))).is_ok());
        assert!(ok(&item(&nest(60, "{}"))).is_ok());
        assert_eq!(ok(&item(&nest(62, ""))), invalid);
        assert_eq!(ok(&item(&nest(61, "{}"))), invalid);
        assert_eq!(ok(&item(&nest(10_000, ""))), invalid);
        assert_eq!(ok(&base(&format!(r#"[{{"sku":"s","x":{}]"#, "[".repeat(100)))), invalid);
        // The known containers count too: a document 65 deep through customer is invalid as a whole.
        let deep_customer = format!(r#"{{"customer":{{"x":{}}}}}"#, nest(63, ""));
        assert_eq!(ok(&deep_customer), invalid);
        assert_eq!(ok(&format!(r#"{{"customer":{{"x":{}}}}}"#, nest(62, ""))), Err(Reject::new("missing field: id")));
        // Raw bytes are not checked for UTF-8: they pass through, into the output and into rejections.
        let raw = b"{\"id\":\"\xff\",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\",\"email\":\"\xc3E\"},\"currency\":\"X\",\"items\":[{\"sku\":\"\xfe\",\"qty\":1,\"unit_price_cents\":1}]}";
        let out = invoice(raw).unwrap();
        assert!(
            out.starts_with(b"{\"external_id\":\"\xff\",\"customer_name\":\"A B\",\"email\":\"\xc3e\""),
            "{:?}",
            out
        );
        let bad_qty = b"{\"id\":\"O\",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\",\"email\":\"e\"},\"currency\":\"X\",\"items\":[{\"sku\":\"\xfe\",\"qty\":0}]}";
        assert_eq!(invoice(bad_qty).unwrap_err().as_bytes(), b"invalid quantity for sku \xfe");
        assert_eq!(invoice(b"\xef\xbb\xbf{}").err(), invalid.clone().err());
        assert_eq!(invoice(b"{\"id\":\"A\",\xff:1}").err(), invalid.clone().err());
        assert_eq!(ok("{} \u{0}"), invalid);
        // Surrogate pairs must be complete.
        assert_eq!(ok(r#"{"x":"\ud800\u0041"}"#), invalid);
        assert_eq!(ok(r#"{"x":"\ud800\\"}"#), invalid);
        assert_eq!(ok(r#"{"x":"\uDBFF\uDFFF"}"#), Err(Reject::new("missing field: id")));
        // Number grammar.
        for bad in ["1.", "1e", "1e+", "-", "-a", ".5", "00", "-01", "1.e5", "0x1", "Infinity", "-Infinity"] {
            assert_eq!(
                ok(&base(&format!(r#"[{{"sku":"s","qty":{},"unit_price_cents":1}}]"#, bad))),
                invalid,
                "{}",
                bad
            );
        }
        for (q, want) in
            [("1e0", false), ("-0", false), ("1", true), ("9223372036854775807", true), ("18446744073709551616", false)]
        {
            let r = ok(&base(&format!(r#"[{{"sku":"s","qty":{},"unit_price_cents":0}}]"#, q)));
            assert_eq!(r.is_ok(), want, "{} -> {:?}", q, r);
        }
        // The last duplicate wins, whatever its type.
        assert_eq!(
            ok(
                r#"{"id":"O","customer":{"first_name":"A","last_name":"B","email":"e"},"customer":"x","currency":"E","items":[{"sku":"s","qty":1,"unit_price_cents":1}]}"#
            ),
            Err(Reject::new("missing field: customer"))
        );
        assert_eq!(
            ok(&base(r#"[{"sku":"s","qty":1,"unit_price_cents":1}],"items":[7]"#)),
            Err(Reject::new("missing field: items.sku"))
        );
    }

    struct Case {
        name: Vec<u8>,
        input: Vec<u8>,
        want_output: Option<Vec<u8>>,
        want_error: Option<Vec<u8>>,
    }

    /// Reads `{"cases":[{"name":..,"input":..,"want_output"|"want_error":..}, ...]}` with the plugin's parser.
    fn read_cases(json: &[u8]) -> Vec<Case> {
        let mut p = Parser::new(json);
        let mut cases = Vec::new();
        p.ws();
        assert_eq!(p.peek(), b'{');
        let r = p.object(|p, key| {
            if key != b"cases" {
                return p.skip_value();
            }
            p.i += 1; // [
            loop {
                p.ws();
                assert_eq!(p.peek(), b'{');
                let mut c = Case { name: Vec::new(), input: Vec::new(), want_output: None, want_error: None };
                p.object(|p, key| {
                    match key {
                        b"name" => c.name = p.string_value()?.unwrap_or_default().into_owned(),
                        b"input" => c.input = p.string_value()?.unwrap_or_default().into_owned(),
                        b"want_output" => c.want_output = p.string_value()?.map(Cow::into_owned),
                        b"want_error" => c.want_error = p.string_value()?.map(Cow::into_owned),
                        _ => p.skip_value()?,
                    }
                    Ok(())
                })?;
                cases.push(c);
                p.ws();
                match p.next() {
                    b',' => {}
                    b']' => return Ok(()),
                    _ => return Err(Invalid),
                }
            }
        });
        assert!(r.is_ok(), "cases.json does not parse");
        cases
    }
}
