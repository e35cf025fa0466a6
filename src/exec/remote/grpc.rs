//! Placeholder until the gRPC transport lands (same session).
use super::transport::Transport;
use crate::exec::store::{FaultKind, StoreFault};

/// Where a gRPC cache is.
#[derive(Debug, Clone)]
pub struct GrpcEndpoint {
    /// grpc:// or grpcs:// URL.
    pub url: String,
    /// REAPI instance name.
    pub instance_name: String,
    /// Metadata sent with every call.
    pub headers: Vec<(String, String)>,
    /// Extra trusted root.
    pub ca_pem: Option<Vec<u8>>,
    /// Per-call deadline.
    pub timeout: std::time::Duration,
}

/// gRPC transport.
pub struct GrpcTransport;

impl GrpcTransport {
    /// Connects.
    pub fn connect(_ep: &GrpcEndpoint) -> Result<Self, StoreFault> {
        Err(StoreFault::new(FaultKind::Io, "gRPC is not available yet"))
    }
}

fn off() -> StoreFault {
    StoreFault::new(FaultKind::Io, "gRPC is not available yet")
}

impl Transport for GrpcTransport {
    fn get_action_result(
        &self,
        _: &super::transport::WireDigest,
    ) -> crate::exec::store::Fetch<super::transport::WireResult> {
        crate::exec::store::Fetch::Fault(off())
    }
    fn update_action_result(
        &self,
        _: &super::transport::WireDigest,
        _: &super::transport::WireResult,
    ) -> Result<crate::exec::store::Put, StoreFault> {
        Err(off())
    }
    fn find_missing_blobs(
        &self,
        _: &[super::transport::WireDigest],
    ) -> Result<Vec<super::transport::WireDigest>, StoreFault> {
        Err(off())
    }
    fn read_blobs(
        &self,
        b: &[super::transport::WireDigest],
    ) -> Vec<crate::exec::store::Fetch<Vec<u8>>> {
        b.iter()
            .map(|_| crate::exec::store::Fetch::Fault(off()))
            .collect()
    }
    fn write_blobs(
        &self,
        _: &[(super::transport::WireDigest, &[u8])],
    ) -> Result<crate::exec::store::Put, StoreFault> {
        Err(off())
    }
    fn location(&self) -> String {
        String::new()
    }
}
