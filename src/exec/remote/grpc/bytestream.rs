//! Blobs too large for a batch, through google.bytestream: Read of
//! `{instance}/blobs/{hash}/{size}` and Write of
//! `{instance}/uploads/{uuid}/blobs/{hash}/{size}` in chunks of 1 MiB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bazel_remote_apis::google::bytestream::byte_stream_client::ByteStreamClient;
use bazel_remote_apis::google::bytestream::{ReadRequest, WriteRequest};
use tonic::transport::Channel;
use tonic::Code;

use super::GrpcTransport;
use crate::exec::remote::transport::WireDigest;
use crate::exec::store::{FaultKind, Fetch, StoreFault};

/// Largest chunk of one WriteRequest (servers commonly accept up to 4 MiB
/// messages; 1 MiB keeps memory and flow control smooth).
const CHUNK: usize = 1 << 20;

/// Throughput granted beyond the call deadline: one more second per this
/// many bytes, so a large blob on a slow link is not cut off.
const BYTES_PER_EXTRA_SECOND: u64 = 4 << 20;

impl GrpcTransport {
    fn byte_stream(&self) -> ByteStreamClient<Channel> {
        ByteStreamClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_message)
            .max_encoding_message_size(self.max_message)
    }

    /// The call deadline plus the allowance for `size` bytes.
    fn stream_deadline(&self, size: u64) -> Duration {
        self.timeout + Duration::from_secs(size / BYTES_PER_EXTRA_SECOND)
    }

    /// `{instance}/` or nothing for the empty instance name.
    fn resource_prefix(&self) -> String {
        if self.instance.is_empty() {
            String::new()
        } else {
            format!("{}/", self.instance)
        }
    }
}

/// Reads one blob whole (`Miss` on NOT_FOUND); more bytes than its digest
/// says is a fault, not a memory hog.
pub(super) fn read(t: &GrpcTransport, digest: &WireDigest) -> Fetch<Vec<u8>> {
    let what = "ByteStream.Read";
    let Ok(size) = u64::try_from(digest.size_bytes) else {
        return Fetch::Fault(StoreFault::new(
            FaultKind::Io,
            format!("{}: {what}: negative blob size", t.location),
        ));
    };
    let deadline = t.stream_deadline(size);
    let resource_name = format!("{}blobs/{}/{}", t.resource_prefix(), digest.hash, size);
    let message = ReadRequest {
        resource_name,
        read_offset: 0,
        read_limit: 0,
    };
    let outcome = t.run(what, deadline, async {
        let request = t.request(message, deadline);
        let mut stream = match t.byte_stream().read(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(t.status_fault(what, &status)),
        };
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(64 << 20));
        loop {
            match stream.message().await {
                Ok(Some(chunk)) => {
                    if data.len() as u64 + chunk.data.len() as u64 > size {
                        return Err(StoreFault::new(
                            FaultKind::Corrupt,
                            format!(
                                "{}: {what}: blob {} is longer than {size} bytes",
                                t.location, digest.hash
                            ),
                        ));
                    }
                    data.extend_from_slice(&chunk.data);
                }
                Ok(None) => return Ok(Some(data)),
                Err(status) if status.code() == Code::NotFound => return Ok(None),
                Err(status) => return Err(t.status_fault(what, &status)),
            }
        }
    });
    match outcome {
        Ok(Some(data)) => Fetch::Hit(data),
        Ok(None) => Fetch::Miss,
        Err(fault) => Fetch::Fault(fault),
    }
}

/// Writes one blob in 1 MiB chunks; the server must commit all of it (or
/// say at once that it already has it, with the full size).
pub(super) fn write(t: &GrpcTransport, digest: &WireDigest, data: &[u8]) -> Result<(), StoreFault> {
    let what = "ByteStream.Write";
    let size = data.len() as u64;
    let deadline = t.stream_deadline(size);
    let resource_name = format!(
        "{}uploads/{}/blobs/{}/{}",
        t.resource_prefix(),
        upload_id(),
        digest.hash,
        size
    );
    let requests = chunks(resource_name, data);
    let committed = t.run(what, deadline, async {
        let request = t.request(tonic::codegen::tokio_stream::iter(requests), deadline);
        match t.byte_stream().write(request).await {
            Ok(response) => Ok(response.into_inner().committed_size),
            Err(status) => Err(t.status_fault(what, &status)),
        }
    })?;
    if u64::try_from(committed).ok() != Some(size) {
        return Err(StoreFault::new(
            FaultKind::RpcStatus(Code::DataLoss as i32),
            format!(
                "{}: {what}: the server committed {committed} of {size} bytes of blob {}",
                t.location, digest.hash
            ),
        ));
    }
    Ok(())
}

/// The WriteRequests of one upload: the resource name on the first, offsets
/// on all, `finish_write` on the last (a single empty one for no bytes).
fn chunks(resource_name: String, data: &[u8]) -> Vec<WriteRequest> {
    let mut requests: Vec<WriteRequest> = Vec::with_capacity(data.len() / CHUNK + 1);
    let mut offset = 0i64;
    for piece in data.chunks(CHUNK) {
        requests.push(WriteRequest {
            resource_name: String::new(),
            write_offset: offset,
            finish_write: false,
            data: piece.to_vec(),
        });
        offset += i64::try_from(piece.len()).unwrap_or(i64::MAX);
    }
    if requests.is_empty() {
        requests.push(WriteRequest::default());
    }
    requests[0].resource_name = resource_name;
    if let Some(last) = requests.last_mut() {
        last.finish_write = true;
    }
    requests
}

/// A fresh UUID (version 4 layout) for an upload name: REAPI wants one per
/// upload so concurrent writes of one blob never mix.
fn upload_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&std::process::id().to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(format!("{:?}", std::thread::current().id()).as_bytes());
    let hash = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash.as_bytes()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_chunked_with_offsets() {
        let data = vec![7u8; 2 * CHUNK + 5];
        let reqs = chunks("r".into(), &data);
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].resource_name, "r");
        assert!(reqs[1].resource_name.is_empty());
        let offsets: Vec<i64> = reqs.iter().map(|r| r.write_offset).collect();
        assert_eq!(offsets, vec![0, 1 << 20, 2 << 20]);
        assert!(reqs[2].finish_write && !reqs[1].finish_write);
        assert_eq!(reqs[2].data.len(), 5);
        let empty = chunks("r".into(), &[]);
        assert_eq!(empty.len(), 1);
        assert!(empty[0].finish_write && empty[0].resource_name == "r");
    }

    #[test]
    fn upload_ids_are_uuids_and_differ() {
        let (a, b) = (upload_id(), upload_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
