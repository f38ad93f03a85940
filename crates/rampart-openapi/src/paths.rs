//! Path templates (`/orders/{id}`, `/files/{name}.{ext}`) and matching a request path
//! against them: literal segments win over templated ones, left to right.

use crate::doc::percent_decode;

/// One piece of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Param(String),
}

/// A compiled template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    segments: Vec<Vec<Piece>>,
    /// Per segment: 2 literal, 1 mixed, 0 one whole parameter. Compared left to right.
    rank: Vec<u8>,
}

impl Template {
    /// Parses a template; `None` when braces are unbalanced or a segment has two
    /// adjacent parameters (which cannot be split deterministically).
    pub(crate) fn parse(template: &str) -> Option<Template> {
        let rest = template.strip_prefix('/')?;
        let mut segments = Vec::new();
        let mut rank = Vec::new();
        for seg in rest.split('/') {
            let mut pieces = Vec::new();
            let mut s = seg;
            while !s.is_empty() {
                if let Some(after) = s.strip_prefix('{') {
                    let end = after.find('}')?;
                    let name = &after[..end];
                    if name.is_empty() || name.contains('{') {
                        return None;
                    }
                    if matches!(pieces.last(), Some(Piece::Param(_))) {
                        return None;
                    }
                    pieces.push(Piece::Param(name.to_owned()));
                    s = &after[end + 1..];
                } else {
                    let end = s.find('{').unwrap_or(s.len());
                    if s[..end].contains('}') {
                        return None;
                    }
                    pieces.push(Piece::Literal(s[..end].to_owned()));
                    s = &s[end..];
                }
            }
            rank.push(match pieces.as_slice() {
                [Piece::Param(_)] => 0,
                p if p.iter().all(|p| matches!(p, Piece::Literal(_))) => 2,
                _ => 1,
            });
            segments.push(pieces);
        }
        Some(Template { segments, rank })
    }

    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    /// The parameter names, in order.
    pub(crate) fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flatten().filter_map(|p| match p {
            Piece::Param(n) => Some(n.as_str()),
            Piece::Literal(_) => None,
        })
    }

    /// Matches decoded segments; returns the parameter values.
    pub(crate) fn matches<'r>(&self, segments: &'r [String]) -> Option<Vec<(&str, &'r str)>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut values = Vec::new();
        for (pieces, seg) in self.segments.iter().zip(segments) {
            match_segment(pieces, seg, &mut values)?;
        }
        Some(values)
    }

    /// Ordering key: literal segments first, left to right.
    pub(crate) fn rank(&self) -> &[u8] {
        &self.rank
    }
}

fn match_segment<'t, 'r>(
    pieces: &'t [Piece],
    seg: &'r str,
    values: &mut Vec<(&'t str, &'r str)>,
) -> Option<()> {
    let mut rest = seg;
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
            Piece::Param(name) => {
                let end = match pieces.get(i + 1) {
                    // The value runs to the next literal (at least one character).
                    Some(Piece::Literal(l)) => rest.get(1..)?.find(l.as_str())? + 1,
                    _ => rest.len(),
                };
                if end == 0 {
                    return None;
                }
                values.push((name.as_str(), &rest[..end]));
                rest = &rest[end..];
            }
        }
        i += 1;
    }
    rest.is_empty().then_some(())
}

/// Splits a request path below `base` into percent-decoded segments. `None` when the
/// path is not under `base` or is not valid percent-encoded UTF-8.
pub(crate) fn split_under(path: &str, base: &str) -> Option<Vec<String>> {
    let rest = if base.is_empty() {
        path
    } else {
        let r = path.strip_prefix(base)?;
        if !r.is_empty() && !r.starts_with('/') {
            return None;
        }
        r
    };
    let rest = rest.strip_prefix('/')?;
    rest.split('/').map(percent_decode).collect()
}

/// The path part of a server URL (`https://h/v1`, `/v1`, `{scheme}://h/{ver}`), with
/// variables replaced by their defaults and no trailing slash.
pub(crate) fn server_base(url: &str, defaults: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut expanded = String::new();
    let mut s = url;
    while let Some(start) = s.find('{') {
        expanded.push_str(&s[..start]);
        let end = s[start..].find('}')? + start;
        expanded.push_str(&defaults(&s[start + 1..end])?);
        s = &s[end + 1..];
    }
    expanded.push_str(s);
    let path = match expanded.find("://") {
        Some(i) => {
            let after = &expanded[i + 3..];
            after.find('/').map_or("", |p| &after[p..])
        }
        None => expanded.as_str(),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    Some(path.trim_end_matches('/').to_owned())
}
