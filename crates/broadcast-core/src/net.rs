//! Which endpoints a destination may be pointed at.
//!
//! Destinations configured by account admins through the management API must not reach the
//! service's own network: their URLs must be https and must not name or resolve to a
//! loopback, private, link-local, shared (CGNAT), unspecified, multicast or cloud metadata
//! address. [`UrlPolicy::check_url`] applies the rule to the URL text when a config is saved,
//! and [`GuardedResolver`] applies it again to every address a host name resolves to when a
//! connection is made, so a name that later points inside the network is caught too.
//! The operator can allow plain http and private addresses for self-hosted receivers and
//! tests.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use serde_json::Value;

use crate::destination::ConfigError;

/// Host names that always mean a cloud metadata service or the local machine.
const BLOCKED_HOST_NAMES: &[&str] = &["localhost", "metadata.google.internal", "metadata"];

/// Config keys that hold endpoint URLs in every destination type.
pub const URL_FIELDS: &[&str] = &["base_url", "endpoint", "url", "host"];

/// The endpoint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// Allow `http` and loopback or private addresses (self-hosted receivers, tests).
    pub allow_private: bool,
}

impl UrlPolicy {
    /// Checks one URL's text. `field` names the config key for the error.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field, the URL's host and the rule it breaks.
    pub fn check_url(&self, field: &str, text: &str) -> Result<(), ConfigError> {
        let url = Url::parse(text.trim())
            .map_err(|error| ConfigError::new(field, format!("`{text}` is not a valid URL: {error}")))?;
        if self.allow_private {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(ConfigError::new(
                field,
                format!("`{}` must use https; plain {} is allowed only when the operator sets server.allow_private_endpoints = true", url.scheme(), url.scheme()),
            ));
        }
        let Some(host) = url.host() else {
            return Err(ConfigError::new(field, "the URL has no host"));
        };
        let blocked = match host {
            url::Host::Ipv4(address) => is_blocked(IpAddr::V4(address)),
            url::Host::Ipv6(address) => is_blocked(IpAddr::V6(address)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                BLOCKED_HOST_NAMES.contains(&name.as_str()) || name.ends_with(".localhost") || name.ends_with(".internal")
            }
        };
        if blocked {
            return Err(ConfigError::new(
                field,
                format!("host `{host}` is a loopback, private, link-local or metadata address, which destinations may not reach unless the operator sets server.allow_private_endpoints = true"),
            ));
        }
        Ok(())
    }

    /// Checks every URL-valued key ([`URL_FIELDS`]) of a destination config.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn check_config(&self, config: &Value) -> Result<(), ConfigError> {
        let Some(object) = config.as_object() else {
            return Ok(());
        };
        for field in URL_FIELDS {
            if let Some(Value::String(text)) = object.get(*field) {
                self.check_url(field, text)?;
            }
        }
        Ok(())
    }
}

/// Returns whether destinations may not connect to `address`.
pub fn is_blocked(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(address) => is_blocked_v4(address),
        IpAddr::V6(address) => {
            if let Some(mapped) = address.to_ipv4_mapped() {
                return is_blocked_v4(mapped);
            }
            let first = address.segments()[0];
            address.is_loopback()
                || address.is_unspecified()
                || address.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7 (includes fd00:ec2::254)
                || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        }
    }
}

fn is_blocked_v4(address: Ipv4Addr) -> bool {
    let [first, second, ..] = address.octets();
    address.is_loopback()
        || address.is_private()
        || address.is_link_local() // 169.254.0.0/16, which includes 169.254.169.254
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || (first == 100 && (64..128).contains(&second)) // shared address space, 100.64.0.0/10
        || first == 0
}

/// Looks a host name up; replaceable so that tests resolve names without DNS.
pub type Lookup = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> + Send + Sync>;

/// The system resolver, through Tokio.
pub fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move {
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addresses.map(|address| address.ip()).collect())
        })
    })
}

/// A reqwest resolver that drops blocked addresses and fails when none is left.
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: Lookup,
}

impl GuardedResolver {
    pub fn new(lookup: Lookup) -> Self {
        GuardedResolver { lookup }
    }

    /// Resolves `host` and keeps only the addresses destinations may reach.
    ///
    /// # Errors
    /// An I/O error when the lookup fails or every address is blocked.
    pub async fn resolve_allowed(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        let addresses = (self.lookup)(host.to_string()).await?;
        let allowed: Vec<IpAddr> = addresses.into_iter().filter(|address| !is_blocked(*address)).collect();
        if allowed.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{host} resolves only to loopback, private, link-local or metadata addresses, which destinations may not reach"),
            ));
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let allowed = resolver.resolve_allowed(name.as_str()).await?;
            let addresses: Addrs = Box::new(allowed.into_iter().map(|address| SocketAddr::new(address, 0)));
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn strict() -> UrlPolicy {
        UrlPolicy { allow_private: false }
    }

    #[test]
    fn https_public_host_allowed() {
        assert!(strict().check_url("base_url", "https://api.raindrop.ai").is_ok());
    }

    #[test]
    fn plain_http_rejected() {
        let error = strict().check_url("base_url", "http://api.raindrop.ai").err();
        assert_eq!(error.map(|error| error.field), Some("base_url".to_string()));
    }

    #[test]
    fn internal_hosts_rejected() {
        for url in [
            "https://127.0.0.1:8443",
            "https://localhost/x",
            "https://api.localhost",
            "https://10.1.2.3",
            "https://172.16.0.9",
            "https://192.168.1.1",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://[::1]",
            "https://[fe80::1]",
            "https://[fd00:ec2::254]",
            "https://[::ffff:10.0.0.1]",
            "https://metadata.google.internal",
        ] {
            assert!(strict().check_url("url", url).is_err(), "{url} must be rejected");
        }
    }

    #[test]
    fn operator_setting_allows_loopback() {
        let open = UrlPolicy { allow_private: true };
        assert!(open.check_url("base_url", "http://127.0.0.1:9999").is_ok());
    }

    #[test]
    fn config_url_fields_checked() {
        let config = serde_json::json!({"write_key": "x", "endpoint": "https://10.0.0.5/v1"});
        let error = strict().check_config(&config).err();
        assert_eq!(error.map(|error| error.field), Some("endpoint".to_string()));
    }

    fn fixed_lookup(addresses: Vec<IpAddr>) -> Lookup {
        Arc::new(move |_host: String| {
            let addresses = addresses.clone();
            Box::pin(async move { Ok(addresses) })
        })
    }

    #[tokio::test]
    async fn resolver_drops_internal_addresses() {
        let public: IpAddr = "93.184.215.14".parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let resolver = GuardedResolver::new(fixed_lookup(vec![IpAddr::V4(Ipv4Addr::LOCALHOST), public]));
        let allowed = resolver.resolve_allowed("mixed.example").await.ok();
        assert_eq!(allowed, Some(vec![public]));
    }

    #[tokio::test]
    async fn resolver_rejects_metadata_only() {
        let metadata = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));
        let resolver = GuardedResolver::new(fixed_lookup(vec![metadata, IpAddr::V6(Ipv6Addr::LOCALHOST)]));
        let error = resolver.resolve_allowed("rebinding.example").await.err();
        assert_eq!(error.map(|error| error.kind()), Some(std::io::ErrorKind::PermissionDenied));
    }
}
