//! The quickstart against the simulator, with only `freepik-wan` as a
//! dependency (and the simulator as a dev-dependency).

use std::time::Duration;

/// A 640x360 PNG as far as any header reader can tell.
fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&640u32.to_be_bytes());
    png.extend_from_slice(&360u32.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    png.resize(4096, 0);
    png
}

#[tokio::test]
async fn the_quickstart_makes_a_video_and_the_raw_client_is_one_dependency_away() {
    let sim = freepik_wan_sim::Simulator::builder()
        .processing_time(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let client = freepik_wan::Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .wait_options(
            freepik_wan::WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("freepik-wan-consumer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("photo.png");
    std::fs::write(&image, png()).unwrap();
    let out = dir.join("out.mp4");

    let bytes = freepik_wan_consumer::make_video(&client, &image, &out).await.unwrap();
    let video = std::fs::read(&out).unwrap();
    assert_eq!(video.len() as u64, bytes);
    assert_eq!(&video[4..8], b"ftyp", "an MP4");

    // The generated client, reached through the SDK alone.
    let listed: freepik_wan::raw::ResponseValue<freepik_wan::raw::types::ListTasksResponse> =
        client.raw().list_wan_v22_580p_tasks().send().await.unwrap();
    assert_eq!(listed.status(), freepik_wan::reqwest::StatusCode::OK);
    assert_eq!(listed.into_inner().data.len(), 1);
    assert_eq!(sim.stats().creates_accepted, 1);

    sim.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
