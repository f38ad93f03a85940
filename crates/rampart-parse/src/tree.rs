//! What the parsers produce: leaves to inspect, files to scan, and a shared path arena.
//!
//! Locations are kept as a tree of path nodes (parent + last segment) rather than one
//! string per leaf: a long key above many leaves would otherwise be copied into each
//! of them, which is quadratic memory. Render a location with [`Parsed::location`]
//! only when it is needed (a denial, a log line).

use std::borrow::Cow;

use bytes::Bytes;

/// Which parser handled the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyKind {
    /// No body.
    Empty,
    /// `application/json` and `+json`.
    Json,
    /// `application/xml`, `text/xml`, `+xml`.
    Xml,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
    /// `application/graphql`, or GraphQL-over-JSON on a GraphQL route.
    Graphql,
    /// `text/plain`.
    Text,
    /// A type this crate does not parse, allowed through by the route as raw bytes.
    Opaque,
}

/// What a leaf holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeafKind {
    /// An object key, form parameter name or multipart field name.
    Key,
    /// A string value (JSON string, form value, text field, GraphQL string argument).
    String,
    /// A JSON number, as sent.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
    /// XML element text (CDATA and references included) or a `text/plain` body.
    Text,
    /// An XML attribute value.
    Attribute,
}

/// A location in the body, resolved by [`Parsed::location`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(u32);

impl PathId {
    /// The body itself.
    pub const ROOT: PathId = PathId(0);
}

/// One value to inspect. `value` borrows from the body unless unescaping changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf<'a> {
    /// Where it is.
    pub path: PathId,
    /// What it is.
    pub kind: LeafKind,
    /// The unescaped value.
    pub value: Cow<'a, str>,
}

/// A file (or other non-text part) of a multipart body, for the antivirus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart<'a> {
    /// Where it is (`part:name`).
    pub path: PathId,
    /// The form field name.
    pub name: Cow<'a, str>,
    /// The file name, when the part had one (it may be empty: an empty file input).
    pub filename: Option<Cow<'a, str>>,
    /// The part's declared content type, lowercased `type/subtype`.
    pub content_type: Option<String>,
    /// The content, sharing the body's buffer.
    pub bytes: Bytes,
}

/// Something legal but worth scoring, e.g. a repeated form parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    /// Stable code, e.g. `form-repeated-name`, `json-nul-char`.
    pub code: &'static str,
    /// Where.
    pub path: PathId,
}

/// GraphQL request shape, measured with fragments expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphqlStats {
    /// Operations in the batch (1 unless GraphQL-over-JSON sent an array).
    pub batch: usize,
    /// Operation definitions across the batch.
    pub operations: usize,
    /// Deepest selection of any operation.
    pub depth: usize,
    /// Most fields in one operation.
    pub fields: usize,
    /// Aliases across the batch.
    pub aliases: usize,
    /// Directives across the batch.
    pub directives: usize,
    /// Mutation operations across the batch.
    pub mutations: usize,
}

/// The outcome of parsing a body.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// Which parser ran.
    pub kind: BodyKind,
    /// Values to inspect, in document order.
    pub leaves: Vec<Leaf<'a>>,
    /// Files to scan, in document order.
    pub files: Vec<FilePart<'a>>,
    /// Legal oddities worth scoring.
    pub notes: Vec<Note>,
    /// Compact re-serialisation (JSON only) to forward instead of the original, so the
    /// backend sees exactly what was inspected. `None`: forward the decoded body as is.
    pub canonical: Option<Bytes>,
    /// GraphQL shape, for GraphQL bodies.
    pub graphql: Option<GraphqlStats>,
    pub(crate) paths: Paths<'a>,
}

/// A top-level field of a form or multipart body, as [`Parsed::top_level_fields`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopField<'p> {
    /// The field name, decoded.
    pub name: &'p str,
    /// Its text, for a text field; `None` for a file or a structured (JSON/XML) part.
    pub text: Option<&'p str>,
    /// Its location (`form:qty`, `form:tags[]`, `part:file`).
    pub location: String,
}

impl Parsed<'_> {
    /// The top-level fields of a form or multipart body, in order, then its files: a key
    /// leaf followed by its text at the same path is a text field, a key leaf followed by
    /// nested leaves a structured part. Keys below the top level (inside a JSON part) are
    /// not fields. Empty for other bodies.
    pub fn top_level_fields(&self) -> Vec<TopField<'_>> {
        let prefix = match self.kind {
            BodyKind::Multipart => "part:",
            BodyKind::Form => "form:",
            _ => return Vec::new(),
        };
        let top_level = |location: &str, name: &str| {
            location
                .strip_prefix(prefix)
                .and_then(|l| l.strip_prefix(name))
                .is_some_and(|rest| {
                    rest.is_empty() || (rest.starts_with('[') && rest.ends_with(']'))
                })
        };
        let mut out = Vec::new();
        for (i, leaf) in self.leaves.iter().enumerate() {
            if leaf.kind != LeafKind::Key {
                continue;
            }
            let location = self.location(leaf.path);
            if !top_level(&location, &leaf.value) {
                continue;
            }
            let text = match self.leaves.get(i + 1) {
                Some(next) if next.path == leaf.path && next.kind == LeafKind::String => {
                    Some(&*next.value)
                }
                _ => None,
            };
            out.push(TopField {
                name: &leaf.value,
                text,
                location,
            });
        }
        for file in &self.files {
            out.push(TopField {
                name: &file.name,
                text: None,
                location: self.location(file.path),
            });
        }
        out
    }

    /// Renders a location: a JSON pointer (`/a/0/b~1c`), an XPath-like path
    /// (`/Envelope/Body/item[2]/@id`), `form:name[2]`, `part:meta/x`, or a GraphQL
    /// path after `#` (`/query#/user(id)`).
    pub fn location(&self, path: PathId) -> String {
        self.paths.render(path)
    }

    /// Renders a location like [`Parsed::location`] into `cache`, reusing the prefix it
    /// shares with the previous call: walking the leaves in order then costs a few
    /// bytes per leaf instead of a walk to the root and an allocation.
    pub fn location_into<'c>(&self, path: PathId, cache: &'c mut Locations) -> &'c str {
        cache.chain.clear();
        let mut cur = path.0;
        while cur != 0 && cache.chain.len() <= self.paths.nodes.len() {
            cache.chain.push(cur);
            cur = self.paths.node(PathId(cur)).parent;
        }
        // Ids are unique and a node's ancestors never change, so the shared prefix is
        // the run of equal ids from the outermost end.
        let outer = cache.chain.iter().rev();
        let shared = outer
            .zip(&cache.stack)
            .take_while(|(id, (done, _))| **id == *done)
            .count();
        cache.stack.truncate(shared);
        cache
            .text
            .truncate(cache.stack.last().map_or(0, |&(_, len)| len));
        for &id in cache.chain.iter().rev().skip(shared) {
            self.paths.push_segment(&mut cache.text, id);
            cache.stack.push((id, cache.text.len()));
        }
        &cache.text
    }

    /// Path nodes plus leaf and file records held, in bytes, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        let owned = |c: &Cow<'_, str>| match c {
            Cow::Owned(s) => s.capacity(),
            Cow::Borrowed(_) => 0,
        };
        self.paths.heap_bytes()
            + self.leaves.capacity() * size_of::<Leaf<'_>>()
            + self.leaves.iter().map(|l| owned(&l.value)).sum::<usize>()
            + self.files.capacity() * size_of::<FilePart<'_>>()
            + self.notes.capacity() * size_of::<Note>()
            + self.canonical.as_ref().map_or(0, Bytes::len)
    }
}

/// A reusable buffer for [`Parsed::location_into`].
#[derive(Debug, Default)]
pub struct Locations {
    text: String,
    /// The nodes `text` renders, outermost first, each with the length of `text` up to
    /// and including it.
    stack: Vec<(u32, usize)>,
    /// Scratch: the chain of the path being rendered, innermost first.
    chain: Vec<u32>,
}

/// How a path segment renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg {
    Root,
    /// JSON object member or GraphQL object field: `/name` with `~0 ~1` escapes.
    Key,
    /// JSON array element: `/3`.
    Index,
    /// XML element: `/name`, `/name[2]` for the second sibling of that name.
    Element,
    /// XML attribute: `/@name`.
    Attribute,
    /// Form parameter: `form:name`, `form:name[2]`.
    Param,
    /// Multipart part: `part:name`, `part:name[2]`.
    Part,
    /// GraphQL document inside a JSON string: `#`.
    Graphql,
    /// GraphQL field by response name: `/name`.
    Field,
    /// GraphQL argument: `(name)`.
    Argument,
    /// GraphQL variable definition default: `$name`.
    Variable,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    parent: u32,
    name: u32,
    index: u32,
    seg: Seg,
}

const NO_NAME: u32 = u32::MAX;

/// Arena of path nodes. Node 0 is the root.
#[derive(Debug, Clone)]
pub(crate) struct Paths<'a> {
    nodes: Vec<Node>,
    names: Vec<Cow<'a, str>>,
}

impl Default for Paths<'_> {
    fn default() -> Self {
        Self {
            nodes: vec![Node {
                parent: 0,
                name: NO_NAME,
                index: 0,
                seg: Seg::Root,
            }],
            names: Vec::new(),
        }
    }
}

impl<'a> Paths<'a> {
    /// A named child (`Key`, `Element`, `Attribute`, `Param`, `Part`, `Field`, ...).
    #[inline]
    pub(crate) fn named(
        &mut self,
        parent: PathId,
        seg: Seg,
        name: Cow<'a, str>,
        index: u32,
    ) -> PathId {
        let name_id = self.names.len() as u32;
        self.names.push(name);
        self.push(parent, seg, name_id, index)
    }

    /// An unnamed child (`Index`, `Graphql`).
    pub(crate) fn unnamed(&mut self, parent: PathId, seg: Seg, index: u32) -> PathId {
        self.push(parent, seg, NO_NAME, index)
    }

    #[inline]
    fn push(&mut self, parent: PathId, seg: Seg, name: u32, index: u32) -> PathId {
        let id = PathId(self.nodes.len() as u32);
        self.nodes.push(Node {
            parent: parent.0,
            name,
            index,
            seg,
        });
        id
    }

    /// The chain from `id` up to (not including) the root, innermost first.
    pub(crate) fn ancestors(&self, id: PathId) -> Vec<PathId> {
        let mut chain = Vec::new();
        let mut cur = id;
        while cur != PathId::ROOT && chain.len() <= self.nodes.len() {
            chain.push(cur);
            cur = self.parent(cur);
        }
        chain
    }

    /// How many nodes have `id` as their parent.
    pub(crate) fn count_children(&self, id: PathId) -> usize {
        self.nodes
            .iter()
            .skip(1)
            .filter(|n| n.parent == id.0)
            .count()
    }

    pub(crate) fn parent(&self, id: PathId) -> PathId {
        PathId(self.node(id).parent)
    }

    pub(crate) fn seg(&self, id: PathId) -> Seg {
        self.node(id).seg
    }

    pub(crate) fn name(&self, id: PathId) -> Option<&str> {
        self.names
            .get(self.node(id).name as usize)
            .map(|c| c.as_ref())
    }

    fn node(&self, id: PathId) -> Node {
        self.nodes.get(id.0 as usize).copied().unwrap_or(Node {
            parent: 0,
            name: NO_NAME,
            index: 0,
            seg: Seg::Root,
        })
    }

    fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>()
            + self.names.capacity() * size_of::<Cow<'_, str>>()
            + self
                .names
                .iter()
                .map(|n| match n {
                    Cow::Owned(s) => s.capacity(),
                    Cow::Borrowed(_) => 0,
                })
                .sum::<usize>()
    }

    pub(crate) fn render(&self, id: PathId) -> String {
        let mut chain = Vec::new();
        let mut cur = id.0;
        while cur != 0 && chain.len() <= self.nodes.len() {
            chain.push(cur);
            cur = self.node(PathId(cur)).parent;
        }
        let mut out = String::new();
        for &n in chain.iter().rev() {
            self.push_segment(&mut out, n);
        }
        out
    }

    /// Appends the rendering of node `n`'s own segment.
    fn push_segment(&self, out: &mut String, n: u32) {
        let node = self.node(PathId(n));
        let name = self
            .names
            .get(node.name as usize)
            .map_or("", |c| c.as_ref());
        // Plain pushes, not the fmt machinery: this runs once per body leaf and fmt
        // costs several times the copy.
        let nth = |out: &mut String| {
            if node.index > 1 {
                out.push('[');
                push_decimal(out, node.index);
                out.push(']');
            }
        };
        match node.seg {
            Seg::Root => {}
            Seg::Key | Seg::Field => {
                out.push('/');
                if memchr::memchr2(b'~', b'/', name.as_bytes()).is_none() {
                    out.push_str(name);
                    return;
                }
                for c in name.chars() {
                    match c {
                        '~' => out.push_str("~0"),
                        '/' => out.push_str("~1"),
                        c => out.push(c),
                    }
                }
            }
            Seg::Index => {
                out.push('/');
                push_decimal(out, node.index);
            }
            Seg::Element => {
                out.push('/');
                out.push_str(name);
                nth(out);
            }
            Seg::Attribute => {
                out.push_str("/@");
                out.push_str(name);
            }
            Seg::Param => {
                out.push_str("form:");
                out.push_str(name);
                nth(out);
            }
            Seg::Part => {
                out.push_str("part:");
                out.push_str(name);
                nth(out);
            }
            Seg::Graphql => out.push('#'),
            Seg::Argument => {
                out.push('(');
                out.push_str(name);
                out.push(')');
            }
            Seg::Variable => {
                out.push_str("/$");
                out.push_str(name);
            }
        }
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Collects what a parser emits.
#[derive(Debug, Default)]
pub(crate) struct Out<'a> {
    pub(crate) paths: Paths<'a>,
    pub(crate) leaves: Vec<Leaf<'a>>,
    pub(crate) files: Vec<FilePart<'a>>,
    pub(crate) notes: Vec<Note>,
}

impl<'a> Out<'a> {
    /// Room for about `n` path nodes, as many names and twice as many leaves (every
    /// object member is a key leaf and a value leaf), so dense bodies do not regrow: a
    /// regrowth copies everything gathered so far.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let mut out = Self::default();
        out.leaves.reserve(2 * n);
        out.paths.nodes.reserve(n);
        out.paths.names.reserve(n);
        out
    }

    #[inline]
    pub(crate) fn leaf(&mut self, path: PathId, kind: LeafKind, value: Cow<'a, str>) {
        self.leaves.push(Leaf { path, kind, value });
    }

    pub(crate) fn note(&mut self, code: &'static str, path: PathId) {
        self.notes.push(Note { code, path });
    }

    /// Moves everything `other` collected below `at`, owning its text.
    pub(crate) fn absorb(&mut self, other: Out<'_>, at: PathId) {
        let base = self.paths.nodes.len() as u32 - 1;
        let map = |id: u32| if id == 0 { at } else { PathId(base + id) };
        for node in other.paths.nodes.iter().skip(1) {
            let name = other.paths.names.get(node.name as usize);
            let name_id = match name {
                Some(n) => {
                    self.paths.names.push(Cow::Owned(n.to_string()));
                    self.paths.names.len() as u32 - 1
                }
                None => NO_NAME,
            };
            self.paths
                .push(map(node.parent), node.seg, name_id, node.index);
        }
        for l in other.leaves {
            let value = Cow::Owned(l.value.into_owned());
            self.leaf(map(l.path.0), l.kind, value);
        }
        for n in other.notes {
            self.note(n.code, map(n.path.0));
        }
    }

    pub(crate) fn into_parsed(self, kind: BodyKind) -> Parsed<'a> {
        Parsed {
            kind,
            leaves: self.leaves,
            files: self.files,
            notes: self.notes,
            canonical: None,
            graphql: None,
            paths: self.paths,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_path_style() {
        let mut p = Paths::default();
        let a = p.named(PathId::ROOT, Seg::Key, "a/b~c".into(), 0);
        let i = p.unnamed(a, Seg::Index, 3);
        assert_eq!(p.render(i), "/a~1b~0c/3");
        let e = p.named(PathId::ROOT, Seg::Element, "soap:Envelope".into(), 1);
        let item = p.named(e, Seg::Element, "item".into(), 2);
        let at = p.named(item, Seg::Attribute, "id".into(), 0);
        assert_eq!(p.render(at), "/soap:Envelope/item[2]/@id");
        let f = p.named(PathId::ROOT, Seg::Param, "role".into(), 2);
        assert_eq!(p.render(f), "form:role[2]");
        let q = p.named(PathId::ROOT, Seg::Key, "query".into(), 0);
        let g = p.unnamed(q, Seg::Graphql, 0);
        let fld = p.named(g, Seg::Field, "user".into(), 0);
        let arg = p.named(fld, Seg::Argument, "id".into(), 0);
        assert_eq!(p.render(arg), "/query#/user(id)");
        assert_eq!(p.render(PathId::ROOT), "");
    }

    #[test]
    fn cached_locations_match_full_renders_in_any_order() {
        let mut out = Out::default();
        let a = out.paths.named(PathId::ROOT, Seg::Key, "a/b".into(), 0);
        let a0 = out.paths.unnamed(a, Seg::Index, 0);
        let a0x = out.paths.named(a0, Seg::Key, "x~".into(), 0);
        let a1 = out.paths.unnamed(a, Seg::Index, 1);
        let a1x = out.paths.named(a1, Seg::Key, "x".into(), 0);
        let b = out.paths.named(PathId::ROOT, Seg::Key, "é".into(), 0);
        let parsed = out.into_parsed(BodyKind::Json);
        let mut cache = Locations::default();
        // Document order, repeats, jumps back up and across, and the root.
        for id in [a, a, a0, a0x, a1, a1x, a0x, b, PathId::ROOT, a1x, a, b] {
            let full = parsed.location(id);
            assert_eq!(parsed.location_into(id, &mut cache), full, "{id:?}");
        }
        assert_eq!(parsed.location_into(a0x, &mut cache), "/a~1b/0/x~0");
    }
}
