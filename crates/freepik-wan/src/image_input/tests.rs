//! The checks made before an image is sent.

use std::io::Write as _;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::*;

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(b"IHDR");
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    out.extend_from_slice(&[0; 4]); // CRC, not checked by a header sniff
    out
}

/// SOI, an APP0/JFIF segment (so the size reader must skip a segment),
/// then SOF0 with the dimensions.
fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
    out.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// RIFF header and a VP8X chunk, whose canvas size is stored minus one.
fn webp(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&22u32.to_le_bytes());
    out.extend_from_slice(b"WEBPVP8X");
    out.extend_from_slice(&10u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // flags + reserved
    out.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    out.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    out
}

fn gif() -> Vec<u8> {
    b"GIF89a\x00\x04\x00\x04\x00\x00\x00".to_vec()
}

fn reason(err: Error) -> String {
    match err {
        Error::Validation { field, reason } => {
            assert_eq!(field, "image");
            reason
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn wire(bytes: Vec<u8>) -> Result<String, Error> {
    ImageInput::from(bytes).into_wire(true).await
}

fn temp_file(contents: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    file.write_all(contents).unwrap();
    file.flush().unwrap();
    file
}

#[test]
fn inspect_reads_each_format() {
    assert_eq!(
        inspect(&png(640, 480)).unwrap(),
        (ImageFormat::Png, 640, 480)
    );
    assert_eq!(
        inspect(&jpeg(1920, 1080)).unwrap(),
        (ImageFormat::Jpeg, 1920, 1080)
    );
    assert_eq!(
        inspect(&webp(960, 512)).unwrap(),
        (ImageFormat::Webp, 960, 512)
    );
}

#[test]
fn inspect_refuses_other_content() {
    let r = reason(inspect(&gif()).unwrap_err());
    assert!(
        r.contains("is not JPEG, PNG or WebP (looks like GIF)"),
        "{r}"
    );
    let r = reason(inspect(b"hello, I am a text file pretending\n").unwrap_err());
    assert!(r.contains("looks like text"), "{r}");
    let r = reason(inspect(b"").unwrap_err());
    assert!(r.contains("empty"), "{r}");
    let r = reason(
        inspect(&[
            0x00, 0x01, 0x02, 0xFE, 0xFF, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
        ])
        .unwrap_err(),
    );
    assert!(r.contains("not a known image format"), "{r}");
    // Right signature, header cut short.
    let r = reason(inspect(&png(640, 480)[..14]).unwrap_err());
    assert!(
        r.contains("looks like PNG but its header is truncated"),
        "{r}"
    );
}

#[tokio::test]
async fn each_format_is_accepted_and_round_trips() {
    for image in [png(640, 480), jpeg(640, 480), webp(640, 480)] {
        let encoded = wire(image.clone()).await.unwrap();
        assert!(!encoded.starts_with("data:"));
        assert_eq!(STANDARD.decode(&encoded).unwrap(), image);
    }
}

#[tokio::test]
async fn sides_are_bounded() {
    for (w, h) in [(239, 600), (600, 239), (8001, 600), (600, 8001)] {
        let r = reason(wire(png(w, h)).await.unwrap_err());
        assert_eq!(
            r,
            format!("the image is {w}x{h} px; each side must be 240–8000 px")
        );
    }
    for (w, h) in [(240, 240), (8000, 8000), (240, 8000)] {
        wire(png(w, h)).await.unwrap();
    }
    assert!(wire(jpeg(239, 600)).await.is_err());
    assert!(wire(webp(8001, 600)).await.is_err());
    wire(jpeg(8000, 240)).await.unwrap();
    wire(webp(240, 8000)).await.unwrap();
}

fn padded_png(len: u64) -> Vec<u8> {
    let mut image = png(640, 480);
    image.resize(len as usize, 0);
    image
}

#[tokio::test]
async fn size_limit_on_bytes() {
    let encoded = wire(padded_png(MAX_IMAGE_BYTES)).await.unwrap();
    assert_eq!(encoded.len(), (MAX_IMAGE_BYTES as usize).div_ceil(3) * 4);
    let r = reason(wire(padded_png(MAX_IMAGE_BYTES + 1)).await.unwrap_err());
    assert_eq!(
        r,
        "the image is 10485761 bytes; the limit is 10485760 (10 MiB)"
    );
}

#[tokio::test]
async fn size_limit_on_files() {
    let ok = temp_file(&padded_png(MAX_IMAGE_BYTES), ".png");
    ImageInput::path(ok.path()).into_wire(true).await.unwrap();
    let big = temp_file(&padded_png(MAX_IMAGE_BYTES + 1), ".png");
    let r = reason(
        ImageInput::path(big.path())
            .into_wire(true)
            .await
            .unwrap_err(),
    );
    assert!(
        r.ends_with("is 10485761 bytes; the limit is 10485760 (10 MiB)"),
        "{r}"
    );
    assert!(
        r.starts_with(&format!("file {}", big.path().display())),
        "{r}"
    );
}

#[tokio::test]
async fn oversized_file_is_refused_from_metadata_without_reading() {
    // A sparse 1 TiB file: reading it (or even allocating for it) would
    // not finish, so a prompt refusal shows the size came from metadata.
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().write_all(&png(640, 480)).unwrap();
    let huge = 1u64 << 40;
    if file.as_file().set_len(huge).is_err() {
        eprintln!("skipped: the temp file system has no sparse files this large");
        return;
    }
    let r = reason(
        ImageInput::path(file.path())
            .into_wire(true)
            .await
            .unwrap_err(),
    );
    assert!(
        r.ends_with(&format!("is {huge} bytes; the limit is 10485760 (10 MiB)")),
        "{r}"
    );
}

#[tokio::test]
async fn file_is_sniffed_by_content_not_extension() {
    let png_named_jpg = temp_file(&png(640, 480), ".jpg");
    let encoded = ImageInput::path(png_named_jpg.path())
        .into_wire(true)
        .await
        .unwrap();
    assert_eq!(STANDARD.decode(encoded).unwrap(), png(640, 480));

    let text_named_png = temp_file(b"just some notes\n", ".png");
    let r = reason(
        ImageInput::path(text_named_png.path())
            .into_wire(true)
            .await
            .unwrap_err(),
    );
    assert!(
        r.contains("is not JPEG, PNG or WebP (looks like text)"),
        "{r}"
    );
    assert!(r.starts_with("file "), "{r}");

    let gif_file = temp_file(&gif(), ".gif");
    let r = reason(
        ImageInput::path(gif_file.path())
            .into_wire(true)
            .await
            .unwrap_err(),
    );
    assert!(r.contains("(looks like GIF)"), "{r}");
}

#[tokio::test]
async fn missing_file_and_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.png");
    let r = reason(
        ImageInput::path(&missing)
            .into_wire(true)
            .await
            .unwrap_err(),
    );
    assert_eq!(r, format!("file {} does not exist", missing.display()));
    // Existence is required even without checks.
    assert!(ImageInput::path(&missing).into_wire(false).await.is_err());

    let r = reason(
        ImageInput::path(dir.path())
            .into_wire(false)
            .await
            .unwrap_err(),
    );
    assert!(r.ends_with("is a directory, not an image file"), "{r}");
}

#[tokio::test]
async fn unchecked_lets_anything_through() {
    let text = b"not an image at all".to_vec();
    let encoded = ImageInput::from(text.clone())
        .into_wire(false)
        .await
        .unwrap();
    assert_eq!(STANDARD.decode(encoded).unwrap(), text);

    let file = temp_file(&text, ".png");
    let encoded = ImageInput::path(file.path())
        .into_wire(false)
        .await
        .unwrap();
    assert_eq!(STANDARD.decode(encoded).unwrap(), text);

    // Too small and too big too.
    ImageInput::from(png(10, 10))
        .into_wire(false)
        .await
        .unwrap();
    ImageInput::from(padded_png(MAX_IMAGE_BYTES + 1))
        .into_wire(false)
        .await
        .unwrap();
}

#[tokio::test]
async fn urls_are_sent_as_valid_uris_keeping_their_escapes() {
    let raw = "https://cdn.example.com/a%20b/cat.png?X-Amz-Signature=abc&x=1";
    let wire = ImageInput::url(raw).unwrap().into_wire(true).await.unwrap();
    assert_eq!(wire, raw);
    let wire = ImageInput::url("  http://example.com/cat.jpg\n")
        .unwrap()
        .into_wire(true)
        .await
        .unwrap();
    assert_eq!(wire, "http://example.com/cat.jpg");
    let wire = ImageInput::url("https://bücher.example/my cat.png")
        .unwrap()
        .into_wire(true)
        .await
        .unwrap();
    assert_eq!(wire, "https://xn--bcher-kva.example/my%20cat.png");

    let parsed = url::Url::parse("https://example.com/x.webp").unwrap();
    let input = ImageInput::try_from(parsed).unwrap();
    assert_eq!(
        input.into_wire(true).await.unwrap(),
        "https://example.com/x.webp"
    );
}

#[test]
fn bad_urls_are_refused() {
    let r = reason(ImageInput::url("ftp://example.com/cat.png").unwrap_err());
    assert!(r.contains("must be http or https, not \"ftp\""), "{r}");
    let r = reason(ImageInput::url("images/cat.png?token=secret").unwrap_err());
    assert!(r.contains("is not an absolute http(s) URL"), "{r}");
    assert!(!r.contains("secret"), "{r}");
    let r = reason(ImageInput::url("/cat.png").unwrap_err());
    assert!(r.contains("ImageInput::path"), "{r}");
    assert!(ImageInput::url("").is_err());
    assert!(ImageInput::url("file:///tmp/cat.png").is_err());
    assert!(ImageInput::url("data:image/png;base64,AAAA").is_err());
    let ftp = url::Url::parse("ftp://example.com/cat.png").unwrap();
    assert!(ImageInput::try_from(ftp).is_err());
}

#[test]
fn describe_and_debug_hide_secrets() {
    let input =
        ImageInput::url("https://user:pw@example.com:8443/p/cat.png?token=s3cr3t#frag").unwrap();
    assert_eq!(input.describe(), "URL https://example.com:8443/p/cat.png?…");
    let debug = format!("{input:?}");
    assert!(
        !debug.contains("s3cr3t") && !debug.contains("pw"),
        "{debug}"
    );
    assert_eq!(
        ImageInput::url("https://example.com").unwrap().describe(),
        "URL https://example.com/"
    );

    assert_eq!(ImageInput::from(vec![7u8; 1234]).describe(), "1234 bytes");
    assert_eq!(
        format!("{:?}", ImageInput::from(vec![7u8; 1234])),
        "ImageInput::Bytes(1234 bytes)"
    );
    assert_eq!(ImageInput::path("photo.jpg").describe(), "file photo.jpg");
    assert_eq!(
        ImageInput::from(Path::new("a/b.png")).describe(),
        "file a/b.png"
    );
    assert_eq!(
        ImageInput::from(&PathBuf::from("c.webp")).describe(),
        "file c.webp"
    );
    assert_eq!(
        ImageInput::from(Bytes::from_static(b"xy")).describe(),
        "2 bytes"
    );
}
