//! Blobs through ContentAddressableStorage: FindMissingBlobs, and batches
//! of reads and writes packed under the server's `max_batch_total_size_bytes`;
//! a blob too large for any batch goes through ByteStream instead.

use std::collections::HashMap;

use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;
use bazel_remote_apis::google::rpc::Status as RpcStatus;
use reapi::content_addressable_storage_client::ContentAddressableStorageClient;
use tonic::transport::Channel;

use super::{bytestream, rpc_code_name, GrpcTransport};
use crate::exec::remote::transport::WireDigest;
use crate::exec::store::{FaultKind, Fetch, StoreFault};

/// Bytes counted for each blob of a batch besides its data (digest, status
/// and protobuf framing), so many tiny blobs cannot overflow a message.
const PER_BLOB_OVERHEAD: u64 = 128;

/// Digests per FindMissingBlobs call (about 100 bytes each on the wire).
const FIND_MISSING_CHUNK: usize = 8192;

/// google.rpc code NOT_FOUND.
const NOT_FOUND: i32 = 5;

/// How blobs travel: indexes grouped into batches, and the ones to stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    pub batches: Vec<Vec<usize>>,
    pub streamed: Vec<usize>,
}

/// Packs blobs (by size) into batches of at most `budget` bytes, counting
/// [`PER_BLOB_OVERHEAD`] per blob, in order; blobs that alone exceed the
/// budget are streamed.
pub(super) fn plan(sizes: &[u64], budget: u64) -> Plan {
    let mut plan = Plan::default();
    let mut current = Vec::new();
    let mut used = 0u64;
    for (index, size) in sizes.iter().enumerate() {
        let cost = size.saturating_add(PER_BLOB_OVERHEAD);
        if cost > budget {
            plan.streamed.push(index);
            continue;
        }
        if used + cost > budget {
            plan.batches.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(index);
        used += cost;
    }
    if !current.is_empty() {
        plan.batches.push(current);
    }
    plan
}

/// A digest's size as bytes (a negative size counts as 0: the server rejects it).
fn size_of(digest: &WireDigest) -> u64 {
    u64::try_from(digest.size_bytes).unwrap_or(0)
}

impl GrpcTransport {
    fn cas(&self) -> ContentAddressableStorageClient<Channel> {
        ContentAddressableStorageClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_message)
            .max_encoding_message_size(self.max_message)
    }

    /// A fault for a blob the server answered with a non-OK status.
    fn blob_fault(&self, what: &str, digest: &WireDigest, status: &RpcStatus) -> StoreFault {
        StoreFault::new(
            FaultKind::RpcStatus(status.code),
            format!(
                "{}: {}: {} (in {what} of blob {}/{})",
                self.location,
                rpc_code_name(status.code),
                status.message,
                digest.hash,
                digest.size_bytes
            ),
        )
    }
}

/// See [`crate::exec::remote::transport::Transport::find_missing_blobs`].
pub(super) fn find_missing(
    t: &GrpcTransport,
    blobs: &[WireDigest],
) -> Result<Vec<WireDigest>, StoreFault> {
    let what = "FindMissingBlobs";
    let mut missing = Vec::new();
    for chunk in blobs.chunks(FIND_MISSING_CHUNK) {
        let message = reapi::FindMissingBlobsRequest {
            instance_name: t.instance.clone(),
            blob_digests: chunk.to_vec(),
            ..Default::default()
        };
        let found = t.run(what, t.timeout, async {
            let request = t.request(message, t.timeout);
            match t.cas().find_missing_blobs(request).await {
                Ok(response) => Ok(response.into_inner().missing_blob_digests),
                Err(status) => Err(t.status_fault(what, &status)),
            }
        })?;
        missing.extend(found);
    }
    Ok(missing)
}

/// See [`crate::exec::remote::transport::Transport::read_blobs`].
pub(super) fn read(t: &GrpcTransport, blobs: &[WireDigest]) -> Vec<Fetch<Vec<u8>>> {
    let sizes: Vec<u64> = blobs.iter().map(size_of).collect();
    let plan = plan(&sizes, t.batch_budget);
    let mut answers: Vec<Option<Fetch<Vec<u8>>>> = vec![None; blobs.len()];
    for batch in &plan.batches {
        let digests: Vec<WireDigest> = batch.iter().map(|&i| blobs[i].clone()).collect();
        match read_batch(t, &digests) {
            Ok(fetches) => {
                for (&index, fetch) in batch.iter().zip(fetches) {
                    answers[index] = Some(fetch);
                }
            }
            Err(fault) => {
                for &index in batch {
                    answers[index] = Some(Fetch::Fault(fault.clone()));
                }
            }
        }
    }
    for &index in &plan.streamed {
        answers[index] = Some(bytestream::read(t, &blobs[index]));
    }
    answers
        .into_iter()
        .map(|a| {
            a.unwrap_or_else(|| Fetch::Fault(StoreFault::new(FaultKind::Io, "blob left unread")))
        })
        .collect()
}

/// One BatchReadBlobs call: an answer per digest, in order.
fn read_batch(
    t: &GrpcTransport,
    digests: &[WireDigest],
) -> Result<Vec<Fetch<Vec<u8>>>, StoreFault> {
    let what = "BatchReadBlobs";
    let message = reapi::BatchReadBlobsRequest {
        instance_name: t.instance.clone(),
        digests: digests.to_vec(),
        ..Default::default()
    };
    let responses = t.run(what, t.timeout, async {
        let request = t.request(message, t.timeout);
        match t.cas().batch_read_blobs(request).await {
            Ok(response) => Ok(response.into_inner().responses),
            Err(status) => Err(t.status_fault(what, &status)),
        }
    })?;
    let mut by_hash: HashMap<String, reapi::batch_read_blobs_response::Response> = responses
        .into_iter()
        .filter_map(|r| Some((r.digest.as_ref()?.hash.clone(), r)))
        .collect();
    // A digest asked twice is answered once: the last asker takes it.
    let mut askers: HashMap<&str, usize> = HashMap::new();
    for digest in digests {
        *askers.entry(digest.hash.as_str()).or_default() += 1;
    }
    let fetches = digests
        .iter()
        .map(|digest| {
            let left = askers.entry(digest.hash.as_str()).or_default();
            *left = left.saturating_sub(1);
            let response = if *left == 0 {
                by_hash.remove(&digest.hash)
            } else {
                by_hash.get(&digest.hash).cloned()
            };
            match response {
                Some(response) => batch_answer(t, digest, response),
                None => Fetch::Fault(t.left_out(what, digest)),
            }
        })
        .collect();
    Ok(fetches)
}

/// What one blob's part of a BatchReadBlobs answer says.
fn batch_answer(
    t: &GrpcTransport,
    digest: &WireDigest,
    response: reapi::batch_read_blobs_response::Response,
) -> Fetch<Vec<u8>> {
    match response.status {
        Some(s) if s.code == NOT_FOUND => Fetch::Miss,
        Some(s) if s.code != 0 => Fetch::Fault(t.blob_fault("BatchReadBlobs", digest, &s)),
        _ if response.compressor != 0 => Fetch::Fault(StoreFault::new(
            FaultKind::Corrupt,
            format!(
                "{}: BatchReadBlobs: blob {} came compressed, unasked",
                t.location, digest.hash
            ),
        )),
        _ => Fetch::Hit(response.data),
    }
}

impl GrpcTransport {
    /// A fault for a blob a batch answer left out.
    fn left_out(&self, what: &str, digest: &WireDigest) -> StoreFault {
        StoreFault::new(
            FaultKind::RpcStatus(tonic::Code::Internal as i32),
            format!(
                "{}: {what}: the answer left out blob {}/{}",
                self.location, digest.hash, digest.size_bytes
            ),
        )
    }
}

/// See [`crate::exec::remote::transport::Transport::write_blobs`]: stops at
/// the first failure.
pub(super) fn write(t: &GrpcTransport, blobs: &[(WireDigest, &[u8])]) -> Result<(), StoreFault> {
    let sizes: Vec<u64> = blobs.iter().map(|(_, data)| data.len() as u64).collect();
    let plan = plan(&sizes, t.batch_budget);
    for batch in &plan.batches {
        let requests = batch
            .iter()
            .map(|&i| reapi::batch_update_blobs_request::Request {
                digest: Some(blobs[i].0.clone()),
                data: blobs[i].1.to_vec(),
                ..Default::default()
            })
            .collect();
        write_batch(t, requests)?;
    }
    for &index in &plan.streamed {
        let (digest, data) = &blobs[index];
        bytestream::write(t, digest, data)?;
    }
    Ok(())
}

/// One BatchUpdateBlobs call; every blob must come back OK.
fn write_batch(
    t: &GrpcTransport,
    requests: Vec<reapi::batch_update_blobs_request::Request>,
) -> Result<(), StoreFault> {
    let what = "BatchUpdateBlobs";
    let message = reapi::BatchUpdateBlobsRequest {
        instance_name: t.instance.clone(),
        requests,
        ..Default::default()
    };
    let responses = t.run(what, t.timeout, async {
        let request = t.request(message, t.timeout);
        match t.cas().batch_update_blobs(request).await {
            Ok(response) => Ok(response.into_inner().responses),
            Err(status) => Err(t.status_fault(what, &status)),
        }
    })?;
    for response in responses {
        if let Some(status) = response.status.as_ref().filter(|s| s.code != 0) {
            let digest = response.digest.unwrap_or_default();
            return Err(t.blob_fault(what, &digest, status));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_fill_batches_in_order_and_stream_the_big_ones() {
        let budget = 1000;
        let p = plan(&[100, 100, 700, 5000, 0, 871], budget);
        // Costs 228, 228, 828, (5128), 128, 999: 228 + 228 + 828 > 1000.
        assert_eq!(p.batches, vec![vec![0, 1], vec![2, 4], vec![5]]);
        assert_eq!(p.streamed, vec![3]);
        assert_eq!(plan(&[], budget), Plan::default());
        assert_eq!(plan(&[872], budget).batches, vec![vec![0]]);
        assert_eq!(plan(&[873], budget).streamed, vec![0]);
    }
}
