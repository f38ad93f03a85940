//! A 1 GiB upload and a 1 GiB download stream through both tiers with bounded memory.

use rampart_test_support::backend::Backend;
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{bins, stream_download, stream_upload};

const GIB: u64 = 1 << 30;
const RSS_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_upload_and_download_pass_with_each_tier_under_64_mib() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let inner = stack.inner.as_ref().unwrap();
    eprintln!(
        "idle peak RSS: edge {} KiB, inner {} KiB",
        stack.edge.peak_rss_kib(),
        inner.peak_rss_kib()
    );

    // Upload: the backend counts and checksums what arrives; then the download is
    // checked byte by byte as it streams in.
    stream_upload(stack.http(), GIB, "1 GiB").await;
    stream_download(stack.http(), GIB, "1 GiB").await;

    let (edge_peak, inner_peak) = (stack.edge.peak_rss_kib(), inner.peak_rss_kib());
    eprintln!("peak RSS: edge {edge_peak} KiB, inner {inner_peak} KiB");
    assert!(edge_peak < RSS_LIMIT_KIB, "edge peak RSS {edge_peak} KiB");
    assert!(
        inner_peak < RSS_LIMIT_KIB,
        "inner peak RSS {inner_peak} KiB"
    );
}
