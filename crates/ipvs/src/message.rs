//! The generic-netlink "IPVS" family message: a command and its attributes.

use netlink_packet_core::{
    DecodeError, Emitable, Nla, NlaBuffer, NlasIterator, ParseableParametrized, NLA_F_NESTED,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

/// Family name and version (`IPVS_GENL_NAME`, `IPVS_GENL_VERSION`).
pub const FAMILY: &str = "IPVS";
pub const VERSION: u8 = 1;

/// `IPVS_CMD_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cmd {
    NewService = 1,
    SetService = 2,
    DelService = 3,
    GetService = 4,
    NewDest = 5,
    SetDest = 6,
    DelDest = 7,
    GetDest = 8,
    NewDaemon = 9,
    DelDaemon = 10,
    GetDaemon = 11,
    SetConfig = 12,
    GetConfig = 13,
    SetInfo = 14,
    GetInfo = 15,
    Zero = 16,
    Flush = 17,
}

/// Attribute numbers of `include/uapi/linux/ip_vs.h`.
pub mod attr {
    pub const CMD_SERVICE: u16 = 1;
    pub const CMD_DEST: u16 = 2;
    pub const CMD_DAEMON: u16 = 3;
    pub const CMD_TIMEOUT_TCP: u16 = 4;
    pub const CMD_TIMEOUT_TCP_FIN: u16 = 5;
    pub const CMD_TIMEOUT_UDP: u16 = 6;

    pub const SVC_AF: u16 = 1;
    pub const SVC_PROTOCOL: u16 = 2;
    pub const SVC_ADDR: u16 = 3;
    pub const SVC_PORT: u16 = 4;
    pub const SVC_FWMARK: u16 = 5;
    pub const SVC_SCHED_NAME: u16 = 6;
    pub const SVC_FLAGS: u16 = 7;
    pub const SVC_TIMEOUT: u16 = 8;
    pub const SVC_NETMASK: u16 = 9;
    pub const SVC_STATS: u16 = 10;
    pub const SVC_PE_NAME: u16 = 11;
    pub const SVC_STATS64: u16 = 12;

    pub const DEST_ADDR: u16 = 1;
    pub const DEST_PORT: u16 = 2;
    pub const DEST_FWD_METHOD: u16 = 3;
    pub const DEST_WEIGHT: u16 = 4;
    pub const DEST_U_THRESH: u16 = 5;
    pub const DEST_L_THRESH: u16 = 6;
    pub const DEST_ACTIVE_CONNS: u16 = 7;
    pub const DEST_INACT_CONNS: u16 = 8;
    pub const DEST_PERSIST_CONNS: u16 = 9;
    pub const DEST_STATS: u16 = 10;
    pub const DEST_ADDR_FAMILY: u16 = 11;
    pub const DEST_STATS64: u16 = 12;
    pub const DEST_TUN_TYPE: u16 = 13;
    pub const DEST_TUN_PORT: u16 = 14;
    pub const DEST_TUN_FLAGS: u16 = 15;

    pub const DAEMON_STATE: u16 = 1;
    pub const DAEMON_MCAST_IFN: u16 = 2;
    pub const DAEMON_SYNC_ID: u16 = 3;
    pub const DAEMON_SYNC_MAXLEN: u16 = 4;
    pub const DAEMON_MCAST_GROUP: u16 = 5;
    pub const DAEMON_MCAST_GROUP6: u16 = 6;
    pub const DAEMON_MCAST_PORT: u16 = 7;
    pub const DAEMON_MCAST_TTL: u16 = 8;

    pub const STATS_CONNS: u16 = 1;
    pub const STATS_INPKTS: u16 = 2;
    pub const STATS_OUTPKTS: u16 = 3;
    pub const STATS_INBYTES: u16 = 4;
    pub const STATS_OUTBYTES: u16 = 5;
    pub const STATS_CPS: u16 = 6;
    pub const STATS_INPPS: u16 = 7;
    pub const STATS_OUTPPS: u16 = 8;
    pub const STATS_INBPS: u16 = 9;
    pub const STATS_OUTBPS: u16 = 10;

    pub const INFO_VERSION: u16 = 1;
    pub const INFO_CONN_TAB_SIZE: u16 = 2;
}

/// One attribute: bytes, or nested attributes (flagged `NLA_F_NESTED`, as
/// ipvsadm 1.31 with libnl 3 sends them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    Bytes(u16, Vec<u8>),
    /// Kind, children, and the children's encoded length (computed once
    /// by [`Attr::nested`], not at every level of every emit).
    Nested(u16, Vec<Attr>, usize),
}

impl Attr {
    /// Nested attributes.
    pub fn nested(kind: u16, children: Vec<Attr>) -> Self {
        let len = children.as_slice().buffer_len();
        Self::Nested(kind, children, len)
    }

    pub fn u8(kind: u16, v: u8) -> Self {
        Self::Bytes(kind, vec![v])
    }
    pub fn u16(kind: u16, v: u16) -> Self {
        Self::Bytes(kind, v.to_ne_bytes().to_vec())
    }
    pub fn be16(kind: u16, v: u16) -> Self {
        Self::Bytes(kind, v.to_be_bytes().to_vec())
    }
    pub fn u32(kind: u16, v: u32) -> Self {
        Self::Bytes(kind, v.to_ne_bytes().to_vec())
    }
    /// A NUL-terminated string.
    pub fn string(kind: u16, s: &str) -> Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        Self::Bytes(kind, b)
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match self {
            Self::Bytes(_, b) => b.len(),
            Self::Nested(_, _, len) => *len,
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Bytes(k, _) => *k,
            Self::Nested(k, _, _) => *k | NLA_F_NESTED,
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            Self::Bytes(_, b) => buffer[..b.len()].copy_from_slice(b),
            Self::Nested(_, v, _) => v.as_slice().emit(buffer),
        }
    }
}

/// A message of the IPVS family. Parsed messages keep their attributes as
/// raw bytes (`payload`), decoded on demand by [`crate::codec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    pub cmd: u8,
    pub attrs: Vec<Attr>,
    pub payload: Vec<u8>,
}

impl IpvsMessage {
    pub fn new(cmd: Cmd, attrs: Vec<Attr>) -> Self {
        Self {
            cmd: cmd as u8,
            attrs,
            payload: Vec::new(),
        }
    }

    /// The top-level attributes of a parsed message.
    pub fn attributes(&self) -> NlasIterator<&[u8]> {
        NlasIterator::new(&self.payload)
    }

    /// The value of the first top-level attribute `kind`.
    pub fn find(&self, kind: u16) -> Option<&[u8]> {
        find(&self.payload, kind)
    }
}

/// The value of the first attribute `kind` in `buf` (malformed attributes
/// end the search).
pub fn find(buf: &[u8], kind: u16) -> Option<&[u8]> {
    for nla in NlasIterator::new(buf) {
        let nla: NlaBuffer<&[u8]> = nla.ok()?;
        if nla.kind() == kind {
            let len = nla.value_length();
            return nla.into_inner().get(4..4 + len);
        }
    }
    None
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(Self {
            cmd: header.cmd,
            attrs: Vec::new(),
            payload: buf.to_vec(),
        })
    }
}
