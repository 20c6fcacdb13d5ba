//! Response decoding: every body shape the API's types accept must decode
//! without panicking, and whatever decodes must serialize and decode again to
//! the same JSON (so a value the SDK hands out, e.g. a `Task` a caller stores,
//! can always be read back).
#![no_main]

use freepik_wan_api::TaskStatus;
use freepik_wan_api::types::{CreateTaskResponse, Error, GetTaskResponse, ListTasksResponse};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: DeserializeOwned + Serialize>(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let once = serde_json::to_vec(&value).expect("a decoded value serializes");
    let again: T = serde_json::from_slice(&once).expect("a serialized value decodes");
    let twice = serde_json::to_vec(&again).expect("a decoded value serializes");
    assert_eq!(once, twice, "serialization is not stable");
}

fuzz_target!(|data: &[u8]| {
    // Every type sees every input: a body meant for one is a plausible
    // (wrong) answer for another.
    round_trip::<GetTaskResponse>(data);
    round_trip::<ListTasksResponse>(data);
    round_trip::<CreateTaskResponse>(data);
    round_trip::<Error>(data);
    if let Ok(status) = serde_json::from_slice::<TaskStatus>(data) {
        // Unknown statuses are kept verbatim, known ones map to themselves.
        let text = status.as_str().to_owned();
        assert_eq!(TaskStatus::from(text.as_str()), status);
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            serde_json::to_string(&text).unwrap()
        );
    }
});
