//! Where a byte offset of a JSON document is, as a JSON Pointer (`json:/items/0/pan`),
//! for audit records that explain a leak without quoting it. One pass, no tree.

/// The location of each offset in `offsets` (ascending) within the JSON document
/// `json`; offsets outside any value get `body:<offset>`.
pub(crate) fn locate(json: &[u8], offsets: &[usize]) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![None; offsets.len()];
    let mut stack: Vec<Frame> = Vec::new();
    let mut next = 0;
    let mut i = 0;
    // Records the location of every pending offset that falls inside `start..end`.
    let mut note = |stack: &[Frame], start: usize, end: usize, out: &mut [Option<String>]| {
        while next < offsets.len() && offsets[next] < start {
            next += 1;
        }
        let mut k = next;
        while k < offsets.len() && offsets[k] < end {
            out[k] = Some(render(stack));
            k += 1;
        }
    };
    while i < json.len() && stack.len() <= MAX_DEPTH {
        match json[i] {
            b'{' => stack.push(Frame::Object {
                key: String::new(),
                in_key: true,
            }),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object { in_key, .. }) => *in_key = true,
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { in_key, .. }) = stack.last_mut() {
                    *in_key = false;
                }
            }
            b'"' => {
                let end = string_end(json, i);
                if let Some(Frame::Object { key, in_key: true }) = stack.last_mut() {
                    *key = unescape(&json[i + 1..end.saturating_sub(1).max(i + 1)]);
                }
                note(&stack[..], i, end, &mut out[..]);
                i = end;
                continue;
            }
            b if b.is_ascii_whitespace() => {}
            _ => {
                let start = i;
                while i < json.len() && !b",}] \t\r\n".contains(&json[i]) {
                    i += 1;
                }
                note(&stack[..], start, i, &mut out[..]);
                continue;
            }
        }
        i += 1;
    }
    out.into_iter()
        .zip(offsets)
        .map(|(o, at)| o.unwrap_or_else(|| format!("body:{at}")))
        .collect()
}

/// Deeper documents are reported by offset (serde_json stops at 128 levels anyway).
const MAX_DEPTH: usize = 256;
/// Longest key shown in a pointer.
const MAX_KEY_CHARS: usize = 64;

enum Frame {
    Object { key: String, in_key: bool },
    Array(usize),
}

fn render(stack: &[Frame]) -> String {
    let mut p = String::from("json:");
    for frame in stack {
        p.push('/');
        match frame {
            Frame::Array(n) => p.push_str(&n.to_string()),
            Frame::Object { key, .. } => {
                for c in key.chars().take(MAX_KEY_CHARS) {
                    match c {
                        '~' => p.push_str("~0"),
                        '/' => p.push_str("~1"),
                        c if c.is_control() => p.push('?'),
                        c => p.push(c),
                    }
                }
            }
        }
    }
    p
}

/// The offset just past the string starting at `start` (a `"`).
fn string_end(json: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    json.len()
}

/// Key text for display: simple escapes undone, `\u` escapes kept as written.
fn unescape(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
        .replace("\\/", "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_json_pointers() {
        let doc = br#"{"a": {"b/c": [10, "x", {"pan": "4111"}]}, "d": true, "e~": "q\"z"}"#;
        let at = |needle: &str| {
            let n = needle.as_bytes();
            doc.windows(n.len()).position(|w| w == n).unwrap()
        };
        let offsets = [at("10"), at("\"x\""), at("4111"), at("true"), at("q\\")];
        assert_eq!(
            locate(doc, &offsets),
            [
                "json:/a/b~1c/0",
                "json:/a/b~1c/1",
                "json:/a/b~1c/2/pan",
                "json:/d",
                "json:/e~0",
            ]
        );
        assert_eq!(locate(br#""4111""#, &[1]), ["json:"]);
        assert_eq!(locate(b"[1]", &[9]), ["body:9"]);
    }
}
