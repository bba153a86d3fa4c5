//! The simulated network passes channel-core's conformance kit, in virtual
//! time on a WAN profile and in real time on ideal links.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::testkit::{Check, Kit};
use channel_sim::{LinkProfile, SimNetwork};

async fn kit(n: usize, profile: LinkProfile) {
    let report = Kit::new(n)
        .run_async(async |n| Ok(SimNetwork::new(n, profile).parties))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

#[tokio::test(start_paused = true)]
async fn three_parties_on_a_continental_wan_in_virtual_time() {
    kit(3, LinkProfile::continental()).await;
}

#[tokio::test(start_paused = true)]
async fn five_parties_on_an_intercontinental_wan_with_jitter_in_virtual_time() {
    let profile = LinkProfile::intercontinental().with_jitter(std::time::Duration::from_millis(5));
    kit(5, profile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parties_on_ideal_links_in_real_time() {
    kit(2, LinkProfile::IDEAL).await;
}

/// The kit over each party's per-peer halves, then the split checks.
async fn split_kit(n: usize, profile: LinkProfile) {
    let report = Kit::new(n)
        .run_split_async(async |n| Ok(SimNetwork::new(n, profile).parties))
        .await
        .unwrap_or_else(|failure| panic!("split: {failure}"));
    println!("split: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[tokio::test(start_paused = true)]
async fn split_halves_of_three_parties_on_a_continental_wan_in_virtual_time() {
    split_kit(3, LinkProfile::continental()).await;
}

#[tokio::test(start_paused = true)]
async fn split_halves_of_five_parties_on_a_metro_wan_in_virtual_time() {
    split_kit(5, LinkProfile::metro()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_of_two_parties_on_ideal_links_in_real_time() {
    split_kit(2, LinkProfile::IDEAL).await;
}

/// Sub-channels in virtual time: the kit on one sub-channel, then the
/// sub-channel checks.
#[tokio::test(start_paused = true)]
async fn sub_channels_of_three_parties_on_a_continental_wan_in_virtual_time() {
    let report = Kit::new(3)
        .run_mux_async(async |n| Ok(SimNetwork::new(n, LinkProfile::continental()).parties))
        .await
        .unwrap_or_else(|failure| panic!("sub-channels: {failure}"));
    println!("sub-channels: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::MUX.len());
}
