use std::time::Duration;

use super::*;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn opening() -> Vec<u8> {
    let mut v = PREFACE.to_vec();
    v.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
    v.extend(frame(SETTINGS, 1, 0, &[]));
    v.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &[0x82, 0x84, 0x87],
    ));
    v
}

fn repeat(f: &[u8], n: usize) -> Vec<u8> {
    f.repeat(n)
}

/// Feeds `input` at one instant, in pieces of `piece` bytes, on a fresh guard.
fn feed(input: &[u8], piece: usize) -> Result<(), H2Violation> {
    let mut guard = H2Guard::new(H2Limits::default());
    let now = Instant::now();
    input.chunks(piece).try_for_each(|c| guard.feed(c, now))
}

fn judge(input: &[u8]) -> Result<(), H2Violation> {
    let whole = feed(input, input.len());
    for piece in [1, 2, 5, 9, 10] {
        assert_eq!(feed(input, piece), whole, "piece {piece}");
    }
    whole
}

#[test]
fn caps_floods_attacks_next_to_look_alikes() {
    use Flood::*;
    let ping = frame(PING, 0, 0, &[0; 8]);
    let wu = frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]);
    let wu0 = frame(WINDOW_UPDATE, 0, 1, &[0, 0, 0, 0]);
    let settings = frame(SETTINGS, 0, 0, &[]);
    let empty_data = frame(DATA, 0, 1, &[]);
    let final_data = frame(DATA, END_STREAM, 1, &[]);
    let padded_empty = frame(DATA, PADDED, 1, &[3, 0, 0, 0]);
    let padded_some = frame(DATA, PADDED, 1, &[2, b'x', 0, 0]);
    let empty_cont = frame(CONTINUATION, 0, 1, &[]);
    let rst = frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]);
    let prio = frame(PRIORITY, 0, 1, &[0, 0, 0, 0, 16]);
    let prio_update = frame(PRIORITY_UPDATE, 0, 0, &[0, 0, 0, 1, b'u', b'=', b'1']);
    let unknown = frame(0xb, 0, 0, &[1, 2, 3]);
    let data_big = frame(DATA, 0, 1, &vec![0; 16 * 1024]);
    let data_huge = frame(DATA, 0, 1, &vec![0; 16 * 1024 + 1]);
    let table: Vec<(&str, Vec<u8>, Result<(), H2Violation>)> = vec![
        ("100 PINGs", repeat(&ping, 100), Ok(())),
        (
            "101 PINGs",
            repeat(&ping, 101),
            Err(H2Violation::Flood(Ping)),
        ),
        ("48 more SETTINGS", repeat(&settings, 48), Ok(())),
        (
            "49 more SETTINGS",
            repeat(&settings, 49),
            Err(H2Violation::Flood(Settings)),
        ),
        ("1000 WINDOW_UPDATEs", repeat(&wu, 1000), Ok(())),
        (
            "1001 WINDOW_UPDATEs",
            repeat(&wu, 1001),
            Err(H2Violation::Flood(WindowUpdate)),
        ),
        ("10 zero increments", repeat(&wu0, 10), Ok(())),
        (
            "11 zero increments",
            repeat(&wu0, 11),
            Err(H2Violation::Flood(ZeroWindowUpdate)),
        ),
        ("empty final DATA", repeat(&final_data, 500), Ok(())),
        ("100 empty DATA", repeat(&empty_data, 100), Ok(())),
        (
            "101 empty DATA",
            repeat(&empty_data, 101),
            Err(H2Violation::Flood(EmptyFrames)),
        ),
        ("padded DATA with data", repeat(&padded_some, 500), Ok(())),
        (
            "padded DATA with only padding",
            repeat(&padded_empty, 101),
            Err(H2Violation::Flood(EmptyFrames)),
        ),
        (
            "empty CONTINUATION",
            repeat(&empty_cont, 101),
            Err(H2Violation::Flood(EmptyFrames)),
        ),
        ("500 RST_STREAM", repeat(&rst, 500), Ok(())),
        (
            "501 RST_STREAM",
            repeat(&rst, 501),
            Err(H2Violation::Flood(RstStream)),
        ),
        (
            "1000 PRIORITY frames",
            [repeat(&prio, 500), repeat(&prio_update, 500)].concat(),
            Ok(()),
        ),
        (
            "1001 PRIORITY frames",
            [repeat(&prio, 500), repeat(&prio_update, 501)].concat(),
            Err(H2Violation::Flood(Priority)),
        ),
        ("100 unknown frames", repeat(&unknown, 100), Ok(())),
        (
            "101 unknown frames",
            repeat(&unknown, 101),
            Err(H2Violation::Flood(Unknown)),
        ),
        ("16 KiB DATA", repeat(&data_big, 3), Ok(())),
        (
            "16 KiB + 1 DATA",
            data_huge,
            Err(H2Violation::FrameTooLarge {
                length: 16 * 1024 + 1,
            }),
        ),
    ];
    for (name, frames, want) in table {
        let input = [opening(), frames].concat();
        assert_eq!(judge(&input), want, "{name}");
    }
}

#[test]
fn refuses_a_connection_without_the_preface() {
    assert_eq!(
        judge(b"GET / HTTP/1.1\r\n\r\n"),
        Err(H2Violation::BadPreface)
    );
    assert_eq!(
        judge(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
        Err(H2Violation::BadPreface)
    );
    assert_eq!(judge(&opening()), Ok(()));
}

#[test]
fn counts_per_window_of_time() {
    let ping = frame(PING, 0, 0, &[0; 8]);
    let mut guard = H2Guard::new(H2Limits::default());
    let t0 = Instant::now();
    guard.feed(&opening(), t0).unwrap();
    guard.feed(&repeat(&ping, 100), t0).unwrap();
    // A new window starts the count again.
    let t1 = t0 + Duration::from_secs(10);
    guard.feed(&repeat(&ping, 100), t1).unwrap();
    assert_eq!(
        guard.feed(&ping, t1 + Duration::from_secs(9)),
        Err(H2Violation::Flood(Flood::Ping))
    );
    // Fatal: every later feed fails too.
    assert_eq!(guard.feed(&[], t1), Err(H2Violation::Flood(Flood::Ping)));
}

#[test]
fn earns_window_update_credit_from_data_sent() {
    let wu = frame(WINDOW_UPDATE, 0, 1, &[0, 0, 64, 0]);
    let mut guard = H2Guard::new(H2Limits::default());
    let now = Instant::now();
    guard.feed(&opening(), now).unwrap();
    guard.feed(&repeat(&wu, 1000), now).unwrap();
    guard.on_sent(4096 * 20 + 4095);
    guard.feed(&repeat(&wu, 20), now).unwrap();
    assert_eq!(
        guard.feed(&wu, now),
        Err(H2Violation::Flood(Flood::WindowUpdate))
    );
}

#[test]
fn validates_its_config() {
    assert_eq!(
        H2Limits::try_from(H2Config::default()).unwrap(),
        H2Limits::default()
    );
    let bad = H2Config {
        max_frame_bytes: 1000,
        window_secs: 0,
        ..H2Config::default()
    };
    let err = H2Limits::try_from(bad).unwrap_err().to_string();
    assert!(
        err.contains("max_frame_bytes") && err.contains("window_secs"),
        "{err}"
    );
}
