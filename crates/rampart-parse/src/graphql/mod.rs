//! GraphQL executable documents: enough of a parser to measure depth, fields and
//! aliases (fragments expanded, cycles refused) and to emit string arguments and
//! variable defaults as leaves. Not a validator: types and schemas are not checked.
//!
//! GraphQL-over-JSON (`{"query": ..., "variables": ..., "operationName": ...}`, or an
//! array of those for a batch) is parsed as JSON first; the query strings are then
//! parsed as documents below `/query#` (or `/0/query#` in a batch).

mod lexer;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::ParseError;
use crate::limits::{GraphqlLimits, Limits};
use crate::tree::{BodyKind, GraphqlStats, LeafKind, Out, Parsed, PathId, Seg};
use lexer::{Lexer, Tok};

/// Parses an `application/graphql` document.
pub fn parse_document<'a>(
    body: &'a [u8],
    limits: &GraphqlLimits,
) -> Result<Parsed<'a>, ParseError> {
    let src = std::str::from_utf8(body)
        .map_err(|e| ParseError::malformed("graphql-invalid-utf8", e.valid_up_to()))?;
    let mut out = Out::default();
    let mut stats = GraphqlStats {
        batch: 1,
        ..GraphqlStats::default()
    };
    document(src, limits, &mut out, PathId::ROOT, &mut stats)?;
    let mut parsed = out.into_parsed(BodyKind::Graphql);
    parsed.graphql = Some(stats);
    Ok(parsed)
}

/// The document a URL query carries in its `query` parameter (GraphQL over HTTP with
/// GET), parsed with the same limits as a body, its leaves below `#`: otherwise a GET
/// would carry any depth, aliases or fields past them. `None` when there is no such
/// parameter; a repeated one is refused, since servers disagree on which one they run.
pub fn parse_url_query<'a>(
    query: &'a [u8],
    limits: &Limits,
) -> Result<Option<Parsed<'a>>, ParseError> {
    let mut params = Out::default();
    crate::form::parse_into(query, &limits.form, &mut params, PathId::ROOT)?;
    let named_query = |l: &&crate::tree::Leaf<'_>| params.paths.name(l.path) == Some("query");
    let mut documents = params
        .leaves
        .iter()
        .filter(|l| l.kind == LeafKind::String)
        .filter(named_query);
    let (Some(first), None) = (documents.next(), documents.next()) else {
        if params.leaves.iter().any(|l| named_query(&l)) {
            return Err(ParseError::ambiguous("graphql-repeated-query", 0));
        }
        return Ok(None);
    };
    let text = first.value.clone();
    let mut stats = GraphqlStats {
        batch: 1,
        ..GraphqlStats::default()
    };
    // Only the document, below `#`: the other parameters are the query's, inspected as such.
    let mut out = Out::default();
    let at = out.paths.unnamed(PathId::ROOT, Seg::Graphql, 0);
    let mut doc = Out::default();
    document(&text, &limits.graphql, &mut doc, PathId::ROOT, &mut stats)
        .map_err(|e| e.at(|| "query#".to_owned()))?;
    out.absorb(doc, at);
    let mut parsed = out.into_parsed(BodyKind::Graphql);
    parsed.graphql = Some(stats);
    Ok(Some(parsed))
}

/// Parses a GraphQL-over-JSON request (one operation object or a batch array).
pub fn parse_json_request<'a>(
    body: &'a [u8],
    limits: &Limits,
    canonical: bool,
) -> Result<Parsed<'a>, ParseError> {
    let mut out = Out::default();
    let canon = crate::json::parse_into(body, &limits.json, &mut out, PathId::ROOT, canonical)?;
    let gl = &limits.graphql;
    let bad = |p: PathId, out: &Out<'_>| {
        ParseError::malformed("graphql-bad-request", 0).at(|| out.paths.render(p))
    };
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    // Requests are the root object, or the objects in the root array.
    let mut requests: Vec<PathId> = Vec::new();
    let mut queries: Vec<(PathId, Cow<'a, str>)> = Vec::new();
    for leaf in &out.leaves {
        let p = leaf.path;
        let chain = out.paths.ancestors(p);
        let (request, member) = match (batch, chain.as_slice()) {
            (false, [.., d1]) => (PathId::ROOT, *d1),
            (true, [.., d2, d1]) if out.paths.seg(*d2) == Seg::Key => (*d1, *d2),
            _ => return Err(bad(p, &out)),
        };
        if !requests.contains(&request) {
            requests.push(request);
        }
        if p != member {
            continue;
        }
        let name = out.paths.name(p).unwrap_or_default();
        match (leaf.kind, name) {
            (LeafKind::Key, "query" | "operationName" | "variables" | "extensions") => {}
            (LeafKind::String, "query") => queries.push((p, leaf.value.clone())),
            (LeafKind::String | LeafKind::Null, "operationName") => {}
            (LeafKind::Null, "variables" | "extensions") => {}
            _ => return Err(bad(p, &out)),
        }
    }
    // Empty objects in a batch hold no leaves; count the array's elements instead.
    let total = if batch {
        out.paths.count_children(PathId::ROOT)
    } else {
        1
    };
    if total > gl.max_batch {
        return Err(ParseError::exceed(
            "graphql-batch-too-large",
            gl.max_batch,
            0,
        ));
    }
    if queries.len() != total || requests.len() != total {
        return Err(ParseError::malformed("graphql-missing-query", 0));
    }
    let mut stats = GraphqlStats {
        batch: total,
        ..GraphqlStats::default()
    };
    for (p, q) in queries {
        let at = out.paths.unnamed(p, Seg::Graphql, 0);
        match q {
            Cow::Borrowed(s) => document(s, gl, &mut out, at, &mut stats)?,
            Cow::Owned(s) => {
                let mut tmp = Out::default();
                document(&s, gl, &mut tmp, PathId::ROOT, &mut stats)
                    .map_err(|e| e.at(|| out.paths.render(at)))?;
                out.absorb(tmp, at);
            }
        }
    }
    let mut parsed = out.into_parsed(BodyKind::Graphql);
    parsed.canonical = canon.into_bytes(|| bytes::Bytes::copy_from_slice(body));
    parsed.graphql = Some(stats);
    Ok(parsed)
}

/// Shape of one operation or fragment before fragments are expanded.
#[derive(Default)]
struct Shape<'s> {
    fields: usize,
    depth: usize,
    /// Fragment spreads and the field depth they sit at.
    spreads: Vec<(&'s str, usize)>,
}

struct Parser<'s, 'o> {
    lx: Lexer<'s>,
    tok: Tok<'s>,
    at: usize,
    limits: &'o GraphqlLimits,
    out: &'o mut Out<'s>,
    nesting: usize,
    aliases: usize,
    directives: usize,
}

fn document<'s>(
    src: &'s str,
    limits: &GraphqlLimits,
    out: &mut Out<'s>,
    root: PathId,
    stats: &mut GraphqlStats,
) -> Result<(), ParseError> {
    let mut lx = Lexer::new(src);
    let (tok, at) = lx.next()?;
    let mut p = Parser {
        lx,
        tok,
        at,
        limits,
        out,
        nesting: 0,
        aliases: stats.aliases,
        directives: stats.directives,
    };
    let mut operations: Vec<Shape<'s>> = Vec::new();
    let mut fragments: HashMap<&'s str, Shape<'s>> = HashMap::new();
    while p.tok != Tok::Eof {
        let mut shape = Shape::default();
        match p.tok {
            Tok::Punct(b'{') => {
                p.selection_set(root, 0, &mut shape)?;
                operations.push(shape);
            }
            Tok::Name(kind @ ("query" | "mutation" | "subscription")) => {
                stats.mutations += usize::from(kind == "mutation");
                p.bump()?;
                if let Tok::Name(_) = p.tok {
                    p.bump()?;
                }
                if p.tok == Tok::Punct(b'(') {
                    p.variables(root)?;
                }
                p.directives(root)?;
                p.selection_set(root, 0, &mut shape)?;
                operations.push(shape);
            }
            Tok::Name("fragment") => {
                p.bump()?;
                let name = p.name()?;
                if name == "on" || p.name()? != "on" {
                    return Err(p.syntax());
                }
                p.name()?;
                let fpath = p
                    .out
                    .paths
                    .named(root, Seg::Field, format!("...{name}").into(), 0);
                p.directives(fpath)?;
                p.selection_set(fpath, 0, &mut shape)?;
                if fragments.insert(name, shape).is_some() {
                    return Err(ParseError::malformed("graphql-duplicate-fragment", p.at));
                }
            }
            _ => return Err(ParseError::malformed("graphql-not-executable", p.at)),
        }
    }
    if operations.is_empty() {
        return Err(ParseError::malformed("graphql-missing-query", 0));
    }
    let mut memo: HashMap<&'s str, Option<(usize, usize)>> = HashMap::new();
    for op in &operations {
        let (fields, depth) = expand(op, &fragments, &mut memo)?;
        if depth > limits.max_depth {
            return Err(ParseError::exceed("graphql-too-deep", limits.max_depth, 0));
        }
        if fields > limits.max_fields {
            return Err(ParseError::exceed(
                "graphql-too-many-fields",
                limits.max_fields,
                0,
            ));
        }
        stats.depth = stats.depth.max(depth);
        stats.fields = stats.fields.max(fields);
    }
    stats.operations += operations.len();
    stats.aliases = p.aliases;
    stats.directives = p.directives;
    Ok(())
}

/// Counts one more of something capped at `max`, refusing with `code` past it.
fn count(n: &mut usize, max: usize, code: &'static str, at: usize) -> Result<(), ParseError> {
    *n += 1;
    if *n > max {
        return Err(ParseError::exceed(code, max, at));
    }
    Ok(())
}

/// Fields and depth of a shape with its spreads expanded. `memo` holds `None` for a
/// fragment being expanded, which is how cycles are found.
fn expand<'s>(
    shape: &Shape<'s>,
    fragments: &HashMap<&'s str, Shape<'s>>,
    memo: &mut HashMap<&'s str, Option<(usize, usize)>>,
) -> Result<(usize, usize), ParseError> {
    let (mut fields, mut depth) = (shape.fields, shape.depth);
    for &(name, at_depth) in &shape.spreads {
        let (f, d) = match memo.get(name) {
            Some(Some(done)) => *done,
            Some(None) => return Err(ParseError::malformed("graphql-fragment-cycle", 0)),
            None => {
                let frag = fragments
                    .get(name)
                    .ok_or(ParseError::malformed("graphql-unknown-fragment", 0))?;
                memo.insert(name, None);
                let done = expand(frag, fragments, memo)?;
                memo.insert(name, Some(done));
                done
            }
        };
        fields = fields.saturating_add(f);
        depth = depth.max(at_depth.saturating_add(d));
    }
    Ok((fields, depth))
}

impl<'s> Parser<'s, '_> {
    fn bump(&mut self) -> Result<(), ParseError> {
        (self.tok, self.at) = self.lx.next()?;
        Ok(())
    }

    fn syntax(&self) -> ParseError {
        ParseError::malformed("graphql-syntax", self.at)
    }

    fn expect(&mut self, c: u8) -> Result<(), ParseError> {
        if self.tok != Tok::Punct(c) {
            return Err(self.syntax());
        }
        self.bump()
    }

    fn name(&mut self) -> Result<&'s str, ParseError> {
        let Tok::Name(n) = self.tok else {
            return Err(self.syntax());
        };
        self.bump()?;
        Ok(n)
    }

    fn open(&mut self, c: u8) -> Result<(), ParseError> {
        let max = self.limits.max_nesting;
        count(&mut self.nesting, max, "graphql-too-nested", self.at)?;
        self.expect(c)
    }

    fn selection_set(
        &mut self,
        parent: PathId,
        depth: usize,
        shape: &mut Shape<'s>,
    ) -> Result<(), ParseError> {
        self.open(b'{')?;
        loop {
            match self.tok {
                Tok::Punct(b'}') => break,
                Tok::Spread => {
                    self.bump()?;
                    match self.tok {
                        Tok::Name(n) if n != "on" => {
                            self.bump()?;
                            shape.spreads.push((n, depth));
                            self.directives(parent)?;
                        }
                        _ => {
                            if self.tok == Tok::Name("on") {
                                self.bump()?;
                                self.name()?;
                            }
                            self.directives(parent)?;
                            self.selection_set(parent, depth, shape)?;
                        }
                    }
                }
                Tok::Name(_) => self.field(parent, depth, shape)?,
                _ => return Err(self.syntax()),
            }
        }
        self.nesting -= 1;
        self.bump()
    }

    fn field(
        &mut self,
        parent: PathId,
        depth: usize,
        shape: &mut Shape<'s>,
    ) -> Result<(), ParseError> {
        // The path uses the response name: the alias when there is one.
        let name = self.name()?;
        if self.tok == Tok::Punct(b':') {
            self.bump()?;
            self.name()?;
            let max = self.limits.max_aliases;
            count(&mut self.aliases, max, "graphql-too-many-aliases", self.at)?;
        }
        shape.fields += 1;
        shape.depth = shape.depth.max(depth + 1);
        if depth + 1 > self.limits.max_depth {
            return Err(ParseError::exceed(
                "graphql-too-deep",
                self.limits.max_depth,
                self.at,
            ));
        }
        let path = self.out.paths.named(parent, Seg::Field, name.into(), 0);
        if self.tok == Tok::Punct(b'(') {
            self.arguments(path)?;
        }
        self.directives(path)?;
        if self.tok == Tok::Punct(b'{') {
            self.selection_set(path, depth + 1, shape)?;
        }
        Ok(())
    }

    fn arguments(&mut self, parent: PathId) -> Result<(), ParseError> {
        self.open(b'(')?;
        while self.tok != Tok::Punct(b')') {
            let name = self.name()?;
            self.expect(b':')?;
            let path = self.out.paths.named(parent, Seg::Argument, name.into(), 0);
            self.value(path)?;
        }
        self.nesting -= 1;
        self.bump()
    }

    fn directives(&mut self, parent: PathId) -> Result<(), ParseError> {
        while self.tok == Tok::Punct(b'@') {
            let max = self.limits.max_directives;
            count(
                &mut self.directives,
                max,
                "graphql-too-many-directives",
                self.at,
            )?;
            self.bump()?;
            let name = self.name()?;
            if self.tok == Tok::Punct(b'(') {
                let path = self
                    .out
                    .paths
                    .named(parent, Seg::Field, format!("@{name}").into(), 0);
                self.arguments(path)?;
            }
        }
        Ok(())
    }

    fn variables(&mut self, parent: PathId) -> Result<(), ParseError> {
        self.open(b'(')?;
        while self.tok != Tok::Punct(b')') {
            self.expect(b'$')?;
            let name = self.name()?;
            self.expect(b':')?;
            self.ty()?;
            let path = self.out.paths.named(parent, Seg::Variable, name.into(), 0);
            if self.tok == Tok::Punct(b'=') {
                self.bump()?;
                self.value(path)?;
            }
            self.directives(path)?;
        }
        self.nesting -= 1;
        self.bump()
    }

    fn ty(&mut self) -> Result<(), ParseError> {
        if self.tok == Tok::Punct(b'[') {
            self.open(b'[')?;
            self.ty()?;
            self.expect(b']')?;
            self.nesting -= 1;
        } else {
            self.name()?;
        }
        if self.tok == Tok::Punct(b'!') {
            self.bump()?;
        }
        Ok(())
    }

    fn value(&mut self, path: PathId) -> Result<(), ParseError> {
        match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Str(s) => {
                self.out.leaf(path, LeafKind::String, s);
                self.bump()
            }
            Tok::Number | Tok::Name(_) => self.bump(),
            Tok::Punct(b'$') => {
                self.bump()?;
                self.name().map(|_| ())
            }
            Tok::Punct(c @ (b'[' | b'{')) => {
                self.tok = Tok::Punct(c);
                self.open(c)?;
                let close = if c == b'[' { b']' } else { b'}' };
                let mut i = 0;
                while self.tok != Tok::Punct(close) {
                    let child = if c == b'[' {
                        i += 1;
                        self.out.paths.unnamed(path, Seg::Index, i - 1)
                    } else {
                        let name = self.name()?;
                        self.expect(b':')?;
                        self.out.paths.named(path, Seg::Key, name.into(), 0)
                    };
                    self.value(child)?;
                }
                self.nesting -= 1;
                self.bump()
            }
            other => {
                self.tok = other;
                Err(self.syntax())
            }
        }
    }
}
