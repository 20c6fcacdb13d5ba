//! Image sniffing on arbitrary bytes (what a user's file may hold): never a
//! panic, every refusal a `Validation` error on the `image` field, and every
//! acceptance backed by the format's magic bytes. Also: any string turned
//! into an `ImageInput` describes itself without panicking.
#![no_main]

use freepik_wan::image_input::{ImageFormat, inspect};
use freepik_wan::{Error, ImageInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match inspect(data) {
        Ok((format, _width, _height)) => {
            let magic_ok = match format {
                ImageFormat::Png => data.starts_with(b"\x89PNG"),
                ImageFormat::Jpeg => data.starts_with(b"\xFF\xD8"),
                ImageFormat::Webp => data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP"),
                _ => true,
            };
            assert!(magic_ok, "{format:?} accepted without its magic bytes");
        }
        Err(Error::Validation { field: "image", .. }) => {}
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let full = ImageInput::from(text).describe();
        // A URL's query string may hold a token: it shows only as `?…`, so
        // the description is the one of the URL without its query, plus that.
        if let Some((before, _)) = text.split_once('?')
            && !text.contains('#')
            // Trimming the bare URL (C0 controls and spaces, by the URL
            // standard) would drop characters the full one keeps.
            && before.trim_end_matches(|c: char| c <= ' ' || c.is_whitespace()) == before
        {
            let bare = ImageInput::from(before).describe();
            if full.starts_with("URL ") && bare.starts_with("URL ") {
                assert_eq!(full, format!("{bare}?…"), "for {text:?}");
            }
        }
    }
});
