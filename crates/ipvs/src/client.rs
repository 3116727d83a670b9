//! A client of the kernel's IPVS family: one netlink socket, reused.

use std::collections::HashMap;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::codec;
use crate::message::{attr, Attr, Cmd, IpvsMessage};
use crate::types::{Daemon, DaemonRole, Destination, Info, Service, ServiceKey, Timeouts};
use crate::Error;

/// Receive buffer size: large dumps come in big datagrams.
const RECV_BUF: usize = 256 * 1024;
/// Requests per `sendmsg` in a batch: bounded so that even a batch where
/// every request fails cannot overflow the socket's receive queue.
const BATCH: usize = 128;

type Msg = NetlinkMessage<GenlMessage<IpvsMessage>>;

/// One change to the IPVS table, for [`Client::apply_ops`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Destination),
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, IpAddr, u16),
}

impl Op {
    fn request(&self) -> (Cmd, Vec<Attr>) {
        match self {
            Self::AddService(s) => (Cmd::NewService, vec![codec::service(s)]),
            Self::EditService(s) => (Cmd::SetService, vec![codec::service(s)]),
            Self::DelService(k) => (Cmd::DelService, vec![codec::service_key(k)]),
            Self::AddDest(k, d) => (Cmd::NewDest, vec![codec::service_key(k), codec::dest(d)]),
            Self::EditDest(k, d) => (Cmd::SetDest, vec![codec::service_key(k), codec::dest(d)]),
            Self::DelDest(k, a, p) => (
                Cmd::DelDest,
                vec![codec::service_key(k), codec::dest_key(a, *p)],
            ),
        }
    }
}

/// The IPVS client.
#[derive(Debug)]
pub struct Client {
    socket: Socket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
}

impl Client {
    /// Opens a socket and resolves the IPVS family id (once).
    pub fn new() -> Result<Self, Error> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Error ACKs without the request echoed back: smaller, and a failed
        // batch cannot fill the receive queue.
        let _ = socket.set_cap_ack(true);
        // Generic netlink handles a request synchronously inside sendmsg, so
        // its replies are queued when send returns (and each dump chunk is
        // produced during the previous recvmsg). Reading non-blocking turns
        // a reply the kernel never sends into an error instead of a hang:
        // it skips the ACK when a handler returns -EINTR (DEL_DAEMON does
        // when the sync thread had not started yet).
        socket.set_non_blocking(true)?;
        let mut c = Self {
            socket,
            family: 0,
            seq: 0,
            buf: vec![0; RECV_BUF],
        };
        c.family = c.resolve_family()?;
        Ok(c)
    }

    fn resolve_family(&mut self) -> Result<u16, Error> {
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(crate::message::FAMILY.to_owned())],
        };
        let mut msg = NetlinkMessage::from(GenlMessage::from_payload(ctrl));
        msg.header.flags = NLM_F_REQUEST;
        self.seq += 1;
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let mut out = vec![0; msg.buffer_len()];
        msg.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let want = self.seq;
        loop {
            let n = self.recv(Cmd::GetInfo)?;
            let mut off = 0;
            while off < n {
                let len = frame_len(&self.buf[off..n])?;
                let m =
                    NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&self.buf[off..off + len])
                        .map_err(|e| Error::Decode(e.to_string()))?;
                off += len;
                if m.header.sequence_number != want {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(g) => {
                        for nla in &g.payload.nlas {
                            if let GenlCtrlAttrs::FamilyId(id) = nla {
                                return Ok(*id);
                            }
                        }
                        return Err(Error::FamilyNotFound);
                    }
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(Error::FamilyNotFound)
                    }
                    _ => {}
                }
            }
        }
    }

    fn frame(&mut self, cmd: Cmd, attrs: Vec<Attr>, flags: u16, out: &mut Vec<u8>) -> u32 {
        let mut genl = GenlMessage::from_payload(IpvsMessage::new(cmd, attrs));
        genl.set_resolved_family_id(self.family);
        let mut msg: Msg =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(genl));
        msg.header.flags = flags;
        self.seq = self.seq.wrapping_add(1);
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let at = out.len();
        out.resize(at + msg.buffer_len(), 0);
        msg.serialize(&mut out[at..]);
        self.seq
    }

    /// Sends one request with ACK and waits for it.
    fn request(&mut self, cmd: Cmd, attrs: Vec<Attr>) -> Result<(), Error> {
        let mut out = Vec::new();
        self.frame(cmd, attrs, NLM_F_REQUEST | NLM_F_ACK, &mut out);
        self.socket.send(&out, 0)?;
        let mut result = None;
        self.receive(cmd, |_, m| match m {
            Reply::Ack(r) => {
                result = Some(r.map_err(|errno| Error::Kernel { cmd, errno }));
                true
            }
            Reply::Data(..) | Reply::Done => false,
        })?;
        result.unwrap_or(Ok(()))
    }

    /// Sends a request and collects its data replies until DONE (dump) or
    /// the ACK (plain get).
    fn collect(
        &mut self,
        cmd: Cmd,
        attrs: Vec<Attr>,
        dump: bool,
    ) -> Result<Vec<IpvsMessage>, Error> {
        self.collect_with(cmd, attrs, dump, |genl_cmd, payload| {
            Ok(IpvsMessage {
                cmd: genl_cmd,
                attrs: Vec::new(),
                payload: payload.to_vec(),
            })
        })
    }

    /// [`Self::collect`], each reply's attributes decoded by `decode`
    /// straight from the receive buffer (nothing copied per reply). Reads
    /// to the end of the reply even after a decode error, then returns it.
    fn collect_with<T>(
        &mut self,
        cmd: Cmd,
        attrs: Vec<Attr>,
        dump: bool,
        mut decode: impl FnMut(u8, &[u8]) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let flags = NLM_F_REQUEST | NLM_F_ACK | if dump { NLM_F_DUMP } else { 0 };
        self.frame(cmd, attrs, flags, &mut out);
        self.socket.send(&out, 0)?;
        let mut data = Vec::new();
        let mut failure = None;
        self.receive(cmd, |_, m| match m {
            Reply::Data(genl_cmd, payload) => {
                match decode(genl_cmd, payload) {
                    Ok(v) => data.push(v),
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
                false
            }
            Reply::Done | Reply::Ack(Ok(())) => true,
            Reply::Ack(Err(errno)) => {
                failure.get_or_insert(Error::Kernel { cmd, errno });
                true
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(data),
        }
    }

    /// One datagram into `self.buf`; [`Error::NoReply`] when none is queued.
    fn recv(&mut self, cmd: Cmd) -> Result<usize, Error> {
        match self.socket.recv(&mut &mut self.buf[..], 0) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(Error::NoReply { cmd }),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads datagrams, handing each message to `f` until it returns true.
    /// Messages are read in place: a reply's attributes are a slice of the
    /// receive buffer.
    fn receive(
        &mut self,
        cmd: Cmd,
        mut f: impl FnMut(u32, Reply<'_>) -> bool,
    ) -> Result<(), Error> {
        loop {
            let n = self.recv(cmd)?;
            let mut off = 0;
            let mut finished = false;
            while off < n {
                let len = frame_len(&self.buf[off..n])?;
                let nl = NetlinkBuffer::new_checked(&self.buf[off..off + len])
                    .map_err(|e| Error::Decode(e.to_string()))?;
                off += len;
                let payload = nl.payload();
                let reply = match nl.message_type() {
                    NLMSG_DONE => Reply::Done,
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .and_then(|b| b.try_into().ok())
                            .map(i32::from_ne_bytes)
                            .ok_or_else(|| Error::Decode("short NLMSG_ERROR".into()))?;
                        Reply::Ack(if code == 0 { Ok(()) } else { Err(-code) })
                    }
                    t if t == self.family => {
                        // The generic netlink header: cmd, version, 2 reserved.
                        let (Some(&genl_cmd), Some(attrs)) = (payload.first(), payload.get(4..))
                        else {
                            return Err(Error::Decode("short generic netlink message".into()));
                        };
                        Reply::Data(genl_cmd, attrs)
                    }
                    _ => continue,
                };
                finished |= f(nl.sequence_number(), reply);
            }
            if finished {
                return Ok(());
            }
        }
    }

    /// Applies `ops` pipelined: up to 128 requests per `sendmsg`, only the
    /// last of each group asking for an ACK (the kernel answers errors
    /// regardless, in order). Returns one result per op, in order; a failed
    /// op does not stop the others.
    pub fn apply_ops(&mut self, ops: &[Op]) -> Vec<Result<(), Error>> {
        let mut results = Vec::with_capacity(ops.len());
        for chunk in ops.chunks(BATCH) {
            let mut out = Vec::with_capacity(chunk.len() * 128);
            let mut seqs = HashMap::with_capacity(chunk.len());
            for (i, op) in chunk.iter().enumerate() {
                let (cmd, attrs) = op.request();
                let last = i + 1 == chunk.len();
                let flags = NLM_F_REQUEST | if last { NLM_F_ACK } else { 0 };
                let seq = self.frame(cmd, attrs, flags, &mut out);
                seqs.insert(seq, (i, cmd));
            }
            let mut chunk_results: Vec<Result<(), Error>> =
                (0..chunk.len()).map(|_| Ok(())).collect();
            if let Err(e) = self.socket.send(&out, 0) {
                let kind = e.kind();
                results.extend((0..chunk.len()).map(|_| Err(Error::Io(kind.into()))));
                continue;
            }
            let last_seq = self.seq;
            let outcome = self.receive(Cmd::NewService, |seq, m| {
                if let Reply::Ack(r) = m {
                    if let (Err(errno), Some(&(i, cmd))) = (r, seqs.get(&seq)) {
                        chunk_results[i] = Err(Error::Kernel { cmd, errno });
                    }
                    return seq == last_seq;
                }
                false
            });
            if let Err(e) = outcome {
                let text = e.to_string();
                chunk_results = (0..chunk.len())
                    .map(|_| Err(Error::Decode(text.clone())))
                    .collect();
            }
            results.extend(chunk_results);
        }
        results
    }

    // ---- the commands ----

    pub fn info(&mut self) -> Result<Info, Error> {
        let reply = self.collect(Cmd::GetInfo, vec![], false)?;
        let m = reply
            .first()
            .ok_or_else(|| Error::Decode("no GET_INFO reply".into()))?;
        codec::decode_info(&m.payload)
    }

    /// Every service (dump).
    pub fn services(&mut self) -> Result<Vec<Service>, Error> {
        self.collect_with(Cmd::GetService, vec![], true, |_, payload| {
            let inner = crate::message::find(payload, attr::CMD_SERVICE)
                .ok_or_else(|| Error::Decode("no service".into()))?;
            codec::decode_service(inner)
        })
    }

    /// One service.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Service, Error> {
        let reply = self.collect(Cmd::GetService, vec![codec::service_key(key)], false)?;
        let m = reply
            .first()
            .ok_or_else(|| Error::Decode("no GET_SERVICE reply".into()))?;
        let inner = m
            .find(attr::CMD_SERVICE)
            .ok_or_else(|| Error::Decode("no service".into()))?;
        codec::decode_service(inner)
    }

    /// The destinations of one service (dump).
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, Error> {
        let family = key.family();
        let request = vec![codec::service_key(key)];
        self.collect_with(Cmd::GetDest, request, true, |_, payload| {
            let inner = crate::message::find(payload, attr::CMD_DEST)
                .ok_or_else(|| Error::Decode("no dest".into()))?;
            codec::decode_dest(inner, family)
        })
    }

    pub fn add_service(&mut self, s: &Service) -> Result<(), Error> {
        self.request(Cmd::NewService, vec![codec::service(s)])
    }
    pub fn edit_service(&mut self, s: &Service) -> Result<(), Error> {
        self.request(Cmd::SetService, vec![codec::service(s)])
    }
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        self.request(Cmd::DelService, vec![codec::service_key(key)])
    }
    pub fn add_dest(&mut self, key: &ServiceKey, d: &Destination) -> Result<(), Error> {
        self.request(Cmd::NewDest, vec![codec::service_key(key), codec::dest(d)])
    }
    pub fn edit_dest(&mut self, key: &ServiceKey, d: &Destination) -> Result<(), Error> {
        self.request(Cmd::SetDest, vec![codec::service_key(key), codec::dest(d)])
    }
    pub fn del_dest(&mut self, key: &ServiceKey, addr: &IpAddr, port: u16) -> Result<(), Error> {
        self.request(
            Cmd::DelDest,
            vec![codec::service_key(key), codec::dest_key(addr, port)],
        )
    }

    /// Deletes every service.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.request(Cmd::Flush, vec![])
    }

    /// Zeroes the counters of one service, or of all.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), Error> {
        let attrs = key.map(codec::service_key).into_iter().collect();
        self.request(Cmd::Zero, attrs)
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, Error> {
        let reply = self.collect(Cmd::GetConfig, vec![], false)?;
        let m = reply
            .first()
            .ok_or_else(|| Error::Decode("no GET_CONFIG reply".into()))?;
        codec::decode_timeouts(&m.payload)
    }

    /// Sets the non-zero timeouts.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), Error> {
        self.request(Cmd::SetConfig, codec::timeouts(t))
    }

    /// Running sync daemons (dump).
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, Error> {
        self.collect(Cmd::GetDaemon, vec![], true)?
            .iter()
            .map(|m| {
                let inner = m
                    .find(attr::CMD_DAEMON)
                    .ok_or_else(|| Error::Decode("no daemon".into()))?;
                codec::decode_daemon(inner)
            })
            .collect()
    }

    pub fn start_daemon(&mut self, d: &Daemon) -> Result<(), Error> {
        self.request(Cmd::NewDaemon, vec![codec::daemon(d)])
    }

    /// Stops the daemon of `role`. The kernel sends no reply when it stops a
    /// sync thread that had not started running yet (`kthread_stop` gives
    /// -EINTR, and netlink skips the ACK for -EINTR); then the daemon list
    /// decides: gone means stopped.
    pub fn stop_daemon(&mut self, role: DaemonRole) -> Result<(), Error> {
        match self.request(Cmd::DelDaemon, vec![codec::daemon_role(role)]) {
            Err(Error::NoReply { cmd }) => {
                if self.daemons()?.iter().any(|d| d.role == role) {
                    Err(Error::NoReply { cmd })
                } else {
                    Ok(())
                }
            }
            other => other,
        }
    }
}

enum Reply<'a> {
    /// A message of the IPVS family: its command and attributes.
    Data(u8, &'a [u8]),
    Done,
    /// An ACK (`Ok`) or an error with its errno.
    Ack(Result<(), i32>),
}

/// `NLMSG_ERROR` and `NLMSG_DONE`.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// Length of the netlink message at the start of `buf`, aligned.
fn frame_len(buf: &[u8]) -> Result<usize, Error> {
    let nl = NetlinkBuffer::new_checked(buf).map_err(|e| Error::Decode(e.to_string()))?;
    let len = nl.length() as usize;
    Ok(len.div_ceil(4).saturating_mul(4).min(buf.len()).max(len))
}
