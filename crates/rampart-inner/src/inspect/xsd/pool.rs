//! The validator threads: each compiles the schema once and then validates documents
//! from a bounded queue. libxml2 contexts are not `Send`, so they never leave their
//! thread; documents arrive as bytes and answers go back through a oneshot channel.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use libxml::error::StructuredError;
use libxml::parser::{Parser, ParserOptions};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use libxml::tree::{Document, Node};
use tokio::sync::oneshot;

use super::Outcome;

struct Job {
    xml: Bytes,
    deadline: Instant,
    reply: oneshot::Sender<Outcome>,
}

/// Validator threads sharing one bounded queue. Dropping the pool ends the threads.
pub(super) struct Pool {
    tx: SyncSender<Job>,
}

impl Pool {
    /// Starts `workers` threads, each compiling `schema`; fails with the first compile
    /// error (file and line of the schema).
    pub(super) fn start(schema: &Path, workers: usize, queue: usize) -> Result<Self, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for i in 0..workers {
            let (rx, ready, schema) = (rx.clone(), ready_tx.clone(), schema.to_path_buf());
            std::thread::Builder::new()
                .name(format!("xsd-{i}"))
                .spawn(move || worker(&schema, &rx, &ready))
                .map_err(|e| format!("cannot start a validator thread: {e}"))?;
        }
        drop(ready_tx);
        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err("a validator thread ended while compiling".into()),
            }
        }
        Ok(Self { tx })
    }

    /// Queues `xml`; a full queue is answered at once.
    pub(super) fn submit(
        &self,
        xml: Bytes,
        deadline: Instant,
    ) -> Result<oneshot::Receiver<Outcome>, Outcome> {
        let (reply, answer) = oneshot::channel();
        match self.tx.try_send(Job {
            xml,
            deadline,
            reply,
        }) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(Outcome::Unavailable("validator queue full".into())),
            Err(TrySendError::Disconnected(_)) => {
                Err(Outcome::Unavailable("validator threads gone".into()))
            }
        }
    }
}

fn compile(schema: &Path) -> Result<SchemaValidationContext, String> {
    let name = schema.display().to_string();
    let compiled = std::panic::catch_unwind(|| {
        let mut parser = SchemaParserContext::from_file(&name);
        SchemaValidationContext::from_parser(&mut parser)
    });
    match compiled {
        Ok(Ok(ctx)) => Ok(ctx),
        Ok(Err(errors)) => Err(match errors.first() {
            Some(e) => format!(
                "{}:{}: {}",
                e.filename.as_deref().unwrap_or(&name),
                e.line.unwrap_or(0),
                e.message.as_deref().unwrap_or("").trim()
            ),
            None => format!("{name}: the schema does not compile"),
        }),
        Err(_) => Err(format!("{name}: the schema could not be loaded")),
    }
}

fn worker(
    schema: &Path,
    rx: &Mutex<Receiver<Job>>,
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
) {
    let mut ctx = match compile(schema) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let file = schema
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else {
            return; // the pool was dropped
        };
        if Instant::now() >= job.deadline {
            continue; // the caller already gave up
        }
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| validate(&mut ctx, &file, &job.xml)))
                .unwrap_or_else(|_| Outcome::Unavailable("validator failed".into()));
        let _ = job.reply.send(outcome);
    }
}

fn validate(ctx: &mut SchemaValidationContext, file: &str, xml: &[u8]) -> Outcome {
    let options = ParserOptions {
        recover: false,
        no_net: true,
        no_def_dtd: true,
        ..ParserOptions::default()
    };
    let Ok(doc) = Parser::default().parse_string_with_options(xml, options) else {
        return Outcome::Invalid {
            location: format!("{file}: document not well-formed"),
        };
    };
    // Errors from an earlier document must not be blamed on this one.
    let _ = ctx.drain_errors();
    match ctx.validate_document(&doc) {
        Ok(()) => Outcome::Valid,
        Err(errors) => Outcome::Invalid {
            location: locate(file, &doc, errors.first()),
        },
    }
}

/// `orders.xsd: /Envelope/Body/PlaceOrder/quantity (line 7)`: the schema file and where
/// in the document, never what the document said there. libxml2's message quotes values,
/// so only the element name is taken from it, sanitised and cut short.
pub(super) fn locate(file: &str, doc: &Document, error: Option<&StructuredError>) -> String {
    let Some(error) = error else {
        return format!("{file}: invalid");
    };
    let element = error
        .message
        .as_deref()
        .and_then(element_name)
        .map(|name| path_of(doc, &name).unwrap_or(name));
    let line = error.line.filter(|l| *l > 0);
    match (element, line) {
        (Some(e), Some(l)) => format!("{file}: {e} (line {l})"),
        (Some(e), None) => format!("{file}: {e}"),
        (None, Some(l)) => format!("{file}: line {l}"),
        (None, None) => format!("{file}: invalid"),
    }
}

/// The local name in `Element '{ns}name'` / `Element 'name'`, sanitised.
pub(super) fn element_name(message: &str) -> Option<String> {
    let rest = message.split_once("Element '")?.1;
    let quoted = rest.split_once('\'')?.0;
    let local = quoted.rsplit_once('}').map_or(quoted, |(_, l)| l);
    let local = local.rsplit_once(':').map_or(local, |(_, l)| l);
    let clean: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

/// `/a/b/name` when exactly one element of the document has that local name.
fn path_of(doc: &Document, name: &str) -> Option<String> {
    let root = doc.get_root_element()?;
    let mut found = Vec::new();
    let mut stack = vec![root];
    let mut visited = 0usize;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > 100_000 || found.len() > 1 {
            return None;
        }
        if node.get_name() == name {
            found.push(node.clone());
        }
        stack.extend(node.get_child_elements());
    }
    let [node] = found.as_slice() else {
        return None;
    };
    let mut parts = Vec::new();
    let mut current: Option<Node> = Some(node.clone());
    while let Some(n) = current {
        if !n.is_element_node() || parts.len() >= 16 {
            break;
        }
        parts.push(
            n.get_name()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .take(32)
                .collect::<String>(),
        );
        current = n.get_parent();
    }
    parts.reverse();
    Some(format!("/{}", parts.join("/")))
}
