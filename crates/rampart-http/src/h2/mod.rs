//! HTTP/2 frame guard: follows the client's frame stream and caps control-frame floods
//! that hyper's h2 answers forever (REFERENCE §2: SETTINGS, PING, WINDOW_UPDATE), plus
//! empty-frame, PRIORITY, RST_STREAM and unknown-frame floods as extra safety.
//!
//! Counting is per fixed window of time (the caller passes `now`, so tests control
//! time). A fixed window lets a client burst up to twice a cap across a window edge;
//! the caps are set so that even twice of them is harmless. WINDOW_UPDATE frames
//! legitimately answer the data the server sends, so besides their cap each
//! `window_update_credit_bytes` sent to the client ([`H2Guard::on_sent`]) allows one more.

mod config;
#[cfg(test)]
mod tests;

use std::time::Instant;

pub use config::{H2Config, H2Limits};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Number of [`Flood`] kinds.
const KINDS: usize = 8;

/// Which kind of frame came too often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flood {
    /// SETTINGS frames.
    Settings,
    /// PING frames.
    Ping,
    /// WINDOW_UPDATE frames beyond cap and credit.
    WindowUpdate,
    /// WINDOW_UPDATE frames with a zero increment.
    ZeroWindowUpdate,
    /// Frames that carry nothing and end nothing.
    EmptyFrames,
    /// PRIORITY and PRIORITY_UPDATE frames.
    Priority,
    /// RST_STREAM frames.
    RstStream,
    /// Frames of unknown types.
    Unknown,
}

/// Why the guard refused an HTTP/2 connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum H2Violation {
    /// The connection did not start with the client preface.
    BadPreface,
    /// A frame larger than the maximum frame size.
    FrameTooLarge {
        /// The frame's payload length.
        length: u32,
    },
    /// Too many frames of one kind within one window.
    Flood(Flood),
}

impl H2Violation {
    /// Stable rule id for logs and audit records.
    pub fn rule(self) -> &'static str {
        match self {
            Self::BadPreface => "h2-bad-preface",
            Self::FrameTooLarge { .. } => "h2-frame-too-large",
            Self::Flood(Flood::Settings) => "h2-settings-flood",
            Self::Flood(Flood::Ping) => "h2-ping-flood",
            Self::Flood(Flood::WindowUpdate) => "h2-window-update-flood",
            Self::Flood(Flood::ZeroWindowUpdate) => "h2-zero-window-update-flood",
            Self::Flood(Flood::EmptyFrames) => "h2-empty-frame-flood",
            Self::Flood(Flood::Priority) => "h2-priority-flood",
            Self::Flood(Flood::RstStream) => "h2-rst-stream-flood",
            Self::Flood(Flood::Unknown) => "h2-unknown-frame-flood",
        }
    }
}

impl std::fmt::Display for H2Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rule())
    }
}

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const PRIORITY_UPDATE: u8 = 0x10;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

/// What to look at in the first payload bytes of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peek {
    Nothing,
    /// Padded DATA without END_STREAM: empty if all of it is padding.
    PadLength {
        length: u32,
    },
    /// WINDOW_UPDATE: the 31-bit increment.
    Increment,
}

#[derive(Debug)]
enum State {
    Preface(usize),
    Header {
        buf: [u8; 9],
        have: usize,
    },
    Payload {
        left: u32,
        peek: Peek,
        buf: [u8; 4],
        have: usize,
    },
}

/// The HTTP/2 frame guard for one connection. No I/O; see the module docs.
#[derive(Debug)]
pub struct H2Guard {
    limits: H2Limits,
    state: State,
    window_start: Option<Instant>,
    counts: [u32; KINDS],
    unspent_sent: u64,
    credit: u64,
    stopped: Option<H2Violation>,
}

impl H2Guard {
    /// A guard expecting the client preface.
    pub fn new(limits: H2Limits) -> Self {
        Self {
            limits,
            state: State::Preface(0),
            window_start: None,
            counts: [0; KINDS],
            unspent_sent: 0,
            credit: 0,
            stopped: None,
        }
    }

    /// Feeds the next client bytes, received at `now`. A violation is fatal: it is
    /// returned now and for every later call.
    pub fn feed(&mut self, data: &[u8], now: Instant) -> Result<(), H2Violation> {
        if let Some(v) = self.stopped {
            return Err(v);
        }
        let result = self.run(data, now);
        if let Err(v) = result {
            self.stopped = Some(v);
        }
        result
    }

    /// Records `bytes` sent to the client, earning WINDOW_UPDATE credit.
    pub fn on_sent(&mut self, bytes: usize) {
        let unit = u64::from(self.limits.credit_bytes);
        self.unspent_sent += bytes as u64;
        self.credit = self.credit.saturating_add(self.unspent_sent / unit);
        self.unspent_sent %= unit;
    }

    fn run(&mut self, data: &[u8], now: Instant) -> Result<(), H2Violation> {
        let mut pos = 0;
        while pos < data.len() {
            match &mut self.state {
                State::Preface(matched) => {
                    let take = (PREFACE.len() - *matched).min(data.len() - pos);
                    if data[pos..pos + take] != PREFACE[*matched..*matched + take] {
                        return Err(H2Violation::BadPreface);
                    }
                    *matched += take;
                    pos += take;
                    if *matched == PREFACE.len() {
                        self.state = State::Header {
                            buf: [0; 9],
                            have: 0,
                        };
                    }
                }
                State::Header { buf, have } => {
                    let take = (9 - *have).min(data.len() - pos);
                    buf[*have..*have + take].copy_from_slice(&data[pos..pos + take]);
                    *have += take;
                    pos += take;
                    if *have == 9 {
                        let header = *buf;
                        self.state = self.on_header(&header, now)?;
                    }
                }
                State::Payload {
                    left,
                    peek,
                    buf,
                    have,
                } => {
                    let want = match peek {
                        Peek::Nothing => 0,
                        Peek::PadLength { .. } => 1,
                        Peek::Increment => 4,
                    };
                    if *have < want {
                        buf[*have] = data[pos];
                        *have += 1;
                        *left -= 1;
                        pos += 1;
                        if *have == want {
                            let (peek, bytes) = (*peek, *buf);
                            self.on_peek(peek, bytes, now)?;
                        }
                    } else {
                        let take = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(data.len() - pos);
                        *left -= take as u32;
                        pos += take;
                    }
                    if let State::Payload { left: 0, .. } = self.state {
                        self.state = State::Header {
                            buf: [0; 9],
                            have: 0,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Judges a frame header; returns the state for its payload.
    fn on_header(&mut self, h: &[u8; 9], now: Instant) -> Result<State, H2Violation> {
        let length = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        let (kind, flags) = (h[3], h[4]);
        if length > self.limits.max_frame_bytes {
            return Err(H2Violation::FrameTooLarge { length });
        }
        let mut peek = Peek::Nothing;
        match kind {
            DATA if flags & END_STREAM == 0 => {
                if length == 0 {
                    self.count(Flood::EmptyFrames, now)?;
                } else if flags & PADDED != 0 {
                    peek = Peek::PadLength { length };
                }
            }
            HEADERS | CONTINUATION if flags & END_HEADERS == 0 && length == 0 => {
                self.count(Flood::EmptyFrames, now)?;
            }
            DATA | HEADERS | CONTINUATION | PUSH_PROMISE | GOAWAY => {}
            PRIORITY | PRIORITY_UPDATE => self.count(Flood::Priority, now)?,
            RST_STREAM => self.count(Flood::RstStream, now)?,
            SETTINGS => self.count(Flood::Settings, now)?,
            PING => self.count(Flood::Ping, now)?,
            WINDOW_UPDATE => {
                self.count(Flood::WindowUpdate, now)?;
                if length >= 4 {
                    peek = Peek::Increment;
                }
            }
            _ => self.count(Flood::Unknown, now)?,
        }
        if length == 0 {
            return Ok(State::Header {
                buf: [0; 9],
                have: 0,
            });
        }
        Ok(State::Payload {
            left: length,
            peek,
            buf: [0; 4],
            have: 0,
        })
    }

    fn on_peek(&mut self, peek: Peek, bytes: [u8; 4], now: Instant) -> Result<(), H2Violation> {
        match peek {
            Peek::PadLength { length } if u32::from(bytes[0]) + 1 >= length => {
                self.count(Flood::EmptyFrames, now)
            }
            Peek::Increment if u32::from_be_bytes(bytes) & 0x7fff_ffff == 0 => {
                self.count(Flood::ZeroWindowUpdate, now)
            }
            _ => Ok(()),
        }
    }

    fn count(&mut self, kind: Flood, now: Instant) -> Result<(), H2Violation> {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= self.limits.window {
            self.window_start = Some(now);
            self.counts = [0; KINDS];
        }
        let i = kind as usize;
        self.counts[i] = self.counts[i].saturating_add(1);
        if self.counts[i] <= self.limits.caps[i] {
            return Ok(());
        }
        if kind == Flood::WindowUpdate && self.credit > 0 {
            self.credit -= 1;
            return Ok(());
        }
        Err(H2Violation::Flood(kind))
    }
}
