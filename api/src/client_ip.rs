//! Client addresses: the TCP peer, or the `X-Forwarded-For` hop a trusted
//! proxy wrote; and the IP ranges (`PAAS_TRUSTED_PROXIES`) those proxies are in.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// An IP address or a CIDR range (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(net).into(), u32::from(ip).into(), 32, self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), u128::from(ip), 128, self.prefix),
            _ => false,
        }
    }
}

fn masked(net: u128, ip: u128, bits: u8, prefix: u8) -> bool {
    let shift = u32::from(bits - prefix.min(bits));
    net.checked_shr(shift).unwrap_or(0) == ip.checked_shr(shift).unwrap_or(0)
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Text that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("not an IP address or CIDR range")]
pub struct BadIpRange;

impl FromStr for IpRange {
    type Err = BadIpRange;

    fn from_str(text: &str) -> Result<IpRange, Self::Err> {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let net = canonical(addr.trim().parse::<IpAddr>().map_err(|_| BadIpRange)?);
        let bits = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            "" => bits,
            p => p.trim().parse::<u8>().ok().filter(|p| *p <= bits).ok_or(BadIpRange)?,
        };
        Ok(IpRange { net, prefix })
    }
}

/// The address of the client: the TCP peer, or, when the peer is a trusted
/// proxy, the nearest `X-Forwarded-For` hop that is not one.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().map(canonical))
        .collect::<Vec<_>>();
    // Walk from the nearest hop; stop at the first one not written by a trusted proxy.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpRange> = ["10.0.0.0/8", "::1"].iter().map(|s| s.parse().unwrap()).collect();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.2.3".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_ip(ip("192.0.2.1"), &headers, &trusted), ip("192.0.2.1"));
        assert_eq!(client_ip(ip("10.9.9.9"), &headers, &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("::1"), &headers, &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.9.9.9"), &HeaderMap::new(), &trusted), ip("10.9.9.9"));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("::ffff:10.0.0.1".parse::<IpRange>().unwrap().contains(ip("10.0.0.1")));
    }
}
