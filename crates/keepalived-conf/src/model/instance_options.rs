//! The less common vrrp_instance keywords of keepalived.conf(5), typed.

use serde::{Deserialize, Serialize};

use super::Builder;
use crate::tree::Node;
use crate::values;

/// Optional vrrp_instance settings; `None`/`false` means keepalived's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per keepalived on/off keyword"
)]
pub struct InstanceOptions {
    /// `use_vmac_addr`: use the VMAC address for the instance.
    pub use_vmac_addr: bool,
    /// `vmac_xmit_base`: send adverts on the base interface.
    pub vmac_xmit_base: bool,
    /// `use_ipvlan [NAME] [bridge|private|vepa]`.
    pub use_ipvlan: Option<Vec<String>>,
    pub track_src_ip: bool,
    pub dont_track_primary: bool,
    pub skip_check_adv_addr: Option<bool>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub down_timer_adverts: Option<u64>,
    pub kernel_rx_buf_size: Option<String>,
    pub notify_priority_changes: Option<bool>,
    pub smtp_alert: Option<bool>,
    pub debug: Option<u64>,
    pub unicast_ttl: Option<u64>,
    pub mcast_dst_ip: Option<String>,
    pub vrf: Option<String>,
    pub native_ipv6: bool,
    pub check_unicast_src: bool,
    pub unicast_fault_no_peer: bool,
    /// `old_unicast_checksum [never]`.
    pub old_unicast_checksum: Option<Vec<String>>,
    pub promote_secondaries: bool,
    pub garp_lower_prio_delay: Option<u64>,
    pub garp_lower_prio_repeat: Option<u64>,
    /// `garp_extra_if [all] DELAY` (alias `vmac_garp_intvl`).
    pub garp_extra_if: Option<Vec<String>>,
    pub linkbeat_use_polling: bool,
}

/// A flag with an optional on/off word; absent means on.
fn flag(c: &Node) -> bool {
    c.arg(0).and_then(values::parse_bool).unwrap_or(true)
}

impl InstanceOptions {
    /// Takes keyword `c` if it is one of these; returns false otherwise.
    pub(crate) fn set(&mut self, b: &mut Builder<'_>, c: &Node) -> bool {
        let args = || c.args().to_vec();
        let max = u64::from(u32::MAX);
        match c.keyword() {
            "use_vmac_addr" => self.use_vmac_addr = true,
            "vmac_xmit_base" => self.vmac_xmit_base = true,
            "use_ipvlan" => self.use_ipvlan = Some(args()),
            "track_src_ip" => self.track_src_ip = true,
            "dont_track_primary" => self.dont_track_primary = true,
            "skip_check_adv_addr" => self.skip_check_adv_addr = Some(flag(c)),
            "lower_prio_no_advert" => self.lower_prio_no_advert = Some(flag(c)),
            "higher_prio_send_advert" => self.higher_prio_send_advert = Some(flag(c)),
            "down_timer_adverts" => self.down_timer_adverts = b.unsigned(c, 0, 1, 100),
            "kernel_rx_buf_size" => self.kernel_rx_buf_size = c.arg(0).map(str::to_string),
            "notify_priority_changes" => self.notify_priority_changes = Some(flag(c)),
            "smtp_alert" => self.smtp_alert = Some(flag(c)),
            "debug" => self.debug = b.unsigned(c, 0, 0, 4),
            "unicast_ttl" => self.unicast_ttl = b.unsigned(c, 0, 1, 255),
            "mcast_dst_ip" => self.mcast_dst_ip = c.arg(0).map(str::to_string),
            "vrf" => self.vrf = c.arg(0).map(str::to_string),
            "native_ipv6" => self.native_ipv6 = true,
            "check_unicast_src" => self.check_unicast_src = true,
            "unicast_fault_no_peer" => self.unicast_fault_no_peer = true,
            "old_unicast_checksum" => self.old_unicast_checksum = Some(args()),
            "promote_secondaries" => self.promote_secondaries = true,
            "garp_lower_prio_delay" => self.garp_lower_prio_delay = b.unsigned(c, 0, 0, max),
            "garp_lower_prio_repeat" => self.garp_lower_prio_repeat = b.unsigned(c, 0, 0, max),
            "garp_extra_if" | "vmac_garp_intvl" => self.garp_extra_if = Some(args()),
            "linkbeat_use_polling" => self.linkbeat_use_polling = true,
            _ => return false,
        }
        true
    }
}
