//! Networks: bridges, veth pairs, addresses, NAT and published ports, name resolution.
