import json, collections

INT64_MAX = 2**63 - 1

class Invalid(Exception): pass

def ref(inp: bytes):
    """Reference implementation of plugins/order-to-invoice/SPEC.md."""
    try:
        s = inp.decode('utf-8')
    except UnicodeDecodeError:
        return ('error', 'invalid JSON')
    # strict JSON parse with last-wins duplicates, keep number text
    def parse_const(c): raise ValueError(c)
    def lone(x):  # strings, and strings in (nested) arrays; objects are checked by hook
        if isinstance(x, list): return any(lone(e) for e in x)
        return isinstance(x, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in x)
    def depth(o):
        if isinstance(o, D): return o.depth
        if isinstance(o, list): return 1 + max([depth(v) for v in o] or [0])
        return 0
    class D(dict):
        pass
    def hook(pairs):
        # Checked on every member, before duplicates are resolved (a bad value hidden by a later duplicate
        # is still bad JSON).
        for k, v in pairs:
            if lone(k) or lone(v):
                raise ValueError('lone surrogate')
        d = D(pairs)
        d.depth = 1 + max([depth(v) for _, v in pairs] or [0])
        return d
    try:
        doc = json.loads(s, object_pairs_hook=hook, parse_float=lambda t: ('num', t), parse_int=lambda t: ('num', t), parse_constant=parse_const)
    except Exception:
        return ('error', 'invalid JSON')
    if lone(doc): return ('error', 'invalid JSON')
    if depth(doc) > 64: return ('error', 'invalid JSON')
    if not isinstance(doc, dict): return ('error', 'invalid JSON')
    def s_field(o, k):
        v = o.get(k)
        return v if isinstance(v, str) and v != '' else None
    idv = s_field(doc, 'id')
    if idv is None: return ('error', 'missing field: id')
    cust = doc.get('customer')
    if not isinstance(cust, dict): return ('error', 'missing field: customer')
    fn = s_field(cust, 'first_name')
    if fn is None: return ('error', 'missing field: customer.first_name')
    ln = s_field(cust, 'last_name')
    if ln is None: return ('error', 'missing field: customer.last_name')
    em = s_field(cust, 'email')
    if em is None: return ('error', 'missing field: customer.email')
    cur = s_field(doc, 'currency')
    if cur is None: return ('error', 'missing field: currency')
    items = doc.get('items')
    if not isinstance(items, list) or len(items) == 0: return ('error', 'missing field: items')
    def as_int(v, lo):
        if not (isinstance(v, tuple) and v[0] == 'num'): return None
        t = v[1]
        if any(c in t for c in '.eE'): return None
        n = int(t)
        if n < lo or n > INT64_MAX: return None
        return n
    lines = []
    total = 0
    for it in items:
        if not isinstance(it, dict): return ('error', 'missing field: items.sku')
        sku = s_field(it, 'sku')
        if sku is None: return ('error', 'missing field: items.sku')
        q = as_int(it.get('qty'), 1)
        if q is None: return ('error', 'invalid quantity for sku ' + sku)
        p = as_int(it.get('unit_price_cents'), 0)
        if p is None: return ('error', 'invalid price for sku ' + sku)
        amt = q * p
        if amt > INT64_MAX or total + amt > INT64_MAX: return ('error', 'invalid price for sku ' + sku)
        total += amt
        lines.append((sku, q, amt))
    def js(x):
        out = ['"']
        for ch in x:
            o = ord(ch)
            if ch == '"': out.append('\\"')
            elif ch == '\\': out.append('\\\\')
            elif o < 0x20: out.append('\\u%04x' % o)
            else: out.append(ch)
        out.append('"')
        return ''.join(out)
    email = ''.join(chr(ord(c) + 32) if 'A' <= c <= 'Z' else c for c in em)
    o = ('{"external_id":' + js(idv) + ',"customer_name":' + js(fn + ' ' + ln) + ',"email":' + js(email) +
         ',"currency":' + js(cur) + ',"lines":[' +
         ','.join('{"sku":' + js(a) + ',"quantity":' + str(b) + ',"amount_cents":' + str(c) + '}' for a, b, c in lines) +
         '],"total_cents":' + str(total) + '}')
    return ('output', o)

cases = []
def case(name, inp, note=None):
    if isinstance(inp, str): inp = inp.encode('utf-8')
    kind, val = ref(inp)
    c = collections.OrderedDict(name=name, input=inp.decode('utf-8'))
    c['want_' + kind] = val
    cases.append(c)

EX = '{"id":"A-1001","customer":{"first_name":"Ada","last_name":"Lovelace","email":"ADA@Example.com"},"currency":"EUR","items":[{"sku":"X1","qty":2,"unit_price_cents":1250},{"sku":"Y2","qty":1,"unit_price_cents":999}]}'
case("issue example", EX)
case("scrambled key order and whitespace", ' \r\n\t{ "items" :\n[ {"unit_price_cents" : 999 ,"qty":1,"sku":"Y2"}\t,{ "qty":2, "sku":"X1","unit_price_cents":1250 } ] ,\n "currency":"EUR", "customer": {"email":"ADA@Example.com" ,"last_name":"Lovelace","first_name":"Ada"},"id":"A-1001"}\n ')
case("unknown fields of every type, nested", '{"meta":{"tags":["a","b",{"deep":[[[{"x":null}]]]}],"ok":true,"no":false,"n":-0.5e+10,"e":1E-7,"s":"br}ac]es, \\"quotes\\" and \\\\ \\u00e9"},"id":"O-7","version":3,"customer":{"first_name":"Grace","vip":{"since":1999,"levels":[1,2,3]},"last_name":"Hopper","email":"grace@navy.mil","phones":[]},"currency":"USD","items":[{"sku":"K","qty":1,"unit_price_cents":5,"attrs":{"color":"red","dims":[1.5,2.25]}}],"notes":null}')
case("non-ASCII raw UTF-8 passes through", '{"id":"Ω-1","customer":{"first_name":"Zoë","last_name":"Łukasiewicz 😀","email":"ZOË@ÉXAMPLE.ORG"},"currency":"PLN","items":[{"sku":"żółć-1","qty":3,"unit_price_cents":100}]}')
case("escapes decoded and re-escaped", '{"id":"A\\/1\\u0041","customer":{"first_name":"\\u00c9mile \\ud83d\\ude00","last_name":"Line\\nBreak\\tTab\\u001f\\u0000End","email":"Q\\"UOTE@X.COM"},"currency":"E\\u0055R","items":[{"sku":"a\\"b\\\\c\\b\\f\\r","qty":1,"unit_price_cents":1}]}')
case("control and DEL characters", '{"id":"\\u0001\\u007f","customer":{"first_name":"A","last_name":"B","email":"c@d"},"currency":"X","items":[{"sku":"s","qty":1,"unit_price_cents":0}]}')
case("email: only ASCII A-Z lower-cased", '{"id":"1","customer":{"first_name":"A","last_name":"B","email":"ÄDA.ÖZ@EXAMPLE.COM[]^_`{}"},"currency":"EUR","items":[{"sku":"s","qty":1,"unit_price_cents":1}]}')
items = ','.join('{"sku":"SKU-%03d","qty":%d,"unit_price_cents":%d}' % (i, i % 7 + 1, i * 137) for i in range(200))
case("200 items", '{"id":"BULK","customer":{"first_name":"Bulk","last_name":"Buyer","email":"bulk@example.com"},"currency":"EUR","items":[' + items + ']}')
case("amounts beyond 32 bits", '{"id":"BIG","customer":{"first_name":"B","last_name":"G","email":"b@g"},"currency":"JPY","items":[{"sku":"a","qty":3,"unit_price_cents":2000000000},{"sku":"b","qty":4294967297,"unit_price_cents":2}]}')
case("largest amount", '{"id":"MAX","customer":{"first_name":"M","last_name":"X","email":"m@x"},"currency":"X","items":[{"sku":"a","qty":1,"unit_price_cents":9223372036854775807}]}')
case("total overflows int64", '{"id":"OVF","customer":{"first_name":"M","last_name":"X","email":"m@x"},"currency":"X","items":[{"sku":"a","qty":1,"unit_price_cents":9223372036854775807},{"sku":"b","qty":1,"unit_price_cents":1}]}')
case("line amount overflows int64", '{"id":"OVF","customer":{"first_name":"M","last_name":"X","email":"m@x"},"currency":"X","items":[{"sku":"a","qty":3,"unit_price_cents":3074457345618258603}]}')
case("duplicate keys: the last wins", '{"id":"first","id":"second","customer":{"first_name":"A","last_name":"B","email":"x@y","email":"LAST@Y"},"currency":"EUR","items":[{"sku":"s","qty":1,"qty":2,"unit_price_cents":3}]}')
case("zero price is fine", '{"id":"Z","customer":{"first_name":"A","last_name":"B","email":"e"},"currency":"EUR","items":[{"sku":"free","qty":5,"unit_price_cents":0}]}')
case("price -0 is zero", '{"id":"Z","customer":{"first_name":"A","last_name":"B","email":"e"},"currency":"EUR","items":[{"sku":"nz","qty":1,"unit_price_cents":-0}]}')
base_c = '"customer":{"first_name":"A","last_name":"B","email":"e@x"}'
def order(id_='"id":"O",', cust=base_c + ',', cur='"currency":"EUR",', items='"items":[{"sku":"s","qty":1,"unit_price_cents":1}]'):
    return '{' + id_ + cust + cur + items + '}'
case("missing id", order(id_=''))
case("empty id", order(id_='"id":"",'))
case("id of the wrong type", order(id_='"id":42,'))
case("id null", order(id_='"id":null,'))
case("missing customer", order(cust=''))
case("customer not an object", order(cust='"customer":"Ada",'))
case("missing first_name", order(cust='"customer":{"last_name":"B","email":"e@x"},'))
case("empty last_name", order(cust='"customer":{"first_name":"A","last_name":"","email":"e@x"},'))
case("missing email", order(cust='"customer":{"first_name":"A","last_name":"B"},'))
case("missing currency", order(cur=''))
case("empty currency", order(cur='"currency":"",'))
case("missing items", order(items='"x":1'))
case("empty items", order(items='"items":[]'))
case("items not an array", order(items='"items":{"sku":"s","qty":1,"unit_price_cents":1}'))
case("item without sku", order(items='"items":[{"qty":1,"unit_price_cents":1}]'))
case("item with empty sku", order(items='"items":[{"sku":"","qty":1,"unit_price_cents":1}]'))
case("item not an object", order(items='"items":[5]'))
case("second item without sku", order(items='"items":[{"sku":"a","qty":1,"unit_price_cents":1},{"sku":7,"qty":1,"unit_price_cents":1}]'))
for label, q in [("zero", "0"), ("negative", "-1"), ("fractional", "2.5"), ("with a zero fraction", "2.0"), ("with an exponent", "1E0"), ("a string", '"2"'), ("null", "null"), ("beyond int64", "9223372036854775808")]:
    case("quantity " + label, order(items='"items":[{"sku":"Q\\"1","qty":%s,"unit_price_cents":1}]' % q))
case("quantity missing", order(items='"items":[{"sku":"Q1","unit_price_cents":1}]'))
for label, p in [("negative", "-1"), ("fractional", "0.5"), ("a string", '"1"'), ("true", "true"), ("beyond int64", "99999999999999999999")]:
    case("price " + label, order(items='"items":[{"sku":"P1","qty":1,"unit_price_cents":%s}]' % p))
case("price missing", order(items='"items":[{"sku":"P1","qty":1}]'))
case("errors in document order: id before items", order(id_='', items='"items":[{"sku":"s","qty":0,"unit_price_cents":1}]'))
case("errors in item order: sku, then quantity, then price", order(items='"items":[{"sku":"a","qty":1,"unit_price_cents":1},{"sku":"b","qty":0,"unit_price_cents":-1},{"qty":1}]'))
for label, inp in [("empty body", ""), ("only whitespace", " \n"), ("an array", "[1,2]"), ("null", "null"), ("a string", '"order"'),
                   ("unterminated object", '{"id":"A"'), ("missing value", '{"id":}'), ("trailing comma", order()[:-1] + ',}'),
                   ("trailing garbage", order() + ' x'), ("two documents", order() + order()), ("single quotes", "{'id':'A'}"),
                   ("unterminated string", '{"id":"A}'), ("raw newline in a string", '{"id":"A\nB"}'), ("bad escape", '{"id":"\\x41"}'),
                   ("short unicode escape", '{"id":"\\u12"}'), ("lone high surrogate", '{"id":"\\ud800"}'), ("lone low surrogate", '{"id":"\\udc00x"}'),
                   ("leading zero", order(items='"items":[{"sku":"s","qty":01,"unit_price_cents":1}]')), ("bare word", '{"id":True}'),
                   ("NaN", order(items='"items":[{"sku":"s","qty":NaN,"unit_price_cents":1}]')), ("plus sign", order(items='"items":[{"sku":"s","qty":+1,"unit_price_cents":1}]')),
                   ("missing colon", '{"id" "A"}'), ("unquoted key", '{id:"A"}'), ("bad syntax in an unknown field", order(items='"items":[{"sku":"s","qty":1,"unit_price_cents":1}],"x":[1,]'))]:
    case("invalid JSON: " + label, inp)

def nested(n):  # an unknown field whose value nests n arrays/objects, alternating
    opens, closes = '', ''
    for i in range(n):
        if i % 2 == 0: opens += '['; closes = ']' + closes
        else: opens += '{"k":'; closes = '}' + closes
    return '"deep":' + opens + '1' + closes + ','
case("unknown field nested to the depth limit (64 with the document)", order(id_=nested(63) + '"id":"D",'))
case("invalid JSON: a lone surrogate in a duplicate key's first value", '{"id":"\\ud800","id":"A",' + base_c + ',"currency":"EUR","items":[{"sku":"s","qty":1,"unit_price_cents":1}]}')
case("invalid JSON: nesting too deep in a duplicate key's first value", order(id_=nested(64) + '"deep":1,"id":"D",'))
case("invalid JSON: nested deeper than 64", order(id_=nested(64) + '"id":"D",'))

# sanity: invalid JSON cases are really errors
for c in cases:
    if c['name'].startswith('invalid JSON'):
        assert c.get('want_error') == 'invalid JSON', c
print(len(cases), 'cases')
with open('/work/main/plugins/order-to-invoice/cases.json', 'w') as f:
    json.dump({"cases": cases}, f, ensure_ascii=False, indent=1)
    f.write('\n')
