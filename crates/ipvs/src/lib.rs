//! The IPVS generic-netlink protocol: codec, client, batch operations and
//! desired-state apply. Filled in by the ipvs issue; empty for now.
