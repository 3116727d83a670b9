//! Sans-IO VRRPv2/v3: packet codec and the RFC 3768/5798 state machine.
