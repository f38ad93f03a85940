//! Media players embedded the way CMSs and oEmbed write them: an `<iframe>` whose `src` is
//! the https embed page of a video, audio or map service. Those pages run the provider's
//! player in its own origin and show no markup a caller controls, so the frame is
//! content, not an injection; any other source, `srcdoc` or handler still counts.

use super::attributes::Attributes;

/// Hosts that serve only their own players at their embed paths, with that path.
const PLAYERS: &[(&[u8], &[u8])] = &[
    (b"www.youtube.com", b"/embed/"),
    (b"youtube.com", b"/embed/"),
    (b"www.youtube-nocookie.com", b"/embed/"),
    (b"player.vimeo.com", b"/video/"),
    (b"open.spotify.com", b"/embed/"),
    (b"w.soundcloud.com", b"/player/"),
    (b"www.google.com", b"/maps/embed"),
    (b"www.dailymotion.com", b"/embed/"),
    (b"player.twitch.tv", b"/"),
    (b"embed.music.apple.com", b"/"),
    (b"fast.wistia.net", b"/embed/"),
    (b"www.loom.com", b"/embed/"),
];

/// Whether the lowercased attribute area `attrs` of an `<iframe>` embeds a known player.
pub(super) fn player(attrs: &[u8]) -> bool {
    let mut it = Attributes::new(attrs);
    let mut src = None;
    for (name, value) in it.by_ref().take(24) {
        match name {
            b"src" => src = Some(value),
            b"srcdoc" => return false,
            n if n.starts_with(b"on") => return false,
            _ => {}
        }
    }
    if !it.plain() {
        return false;
    }
    let Some(rest) = src.and_then(|s| s.strip_prefix(b"https://")) else {
        return false;
    };
    let host_len = rest
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#' | b'\\' | b'@' | b':'))
        .unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_len);
    PLAYERS
        .iter()
        .any(|(h, p)| host == *h && path.starts_with(p))
}
