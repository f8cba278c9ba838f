/// Placeholder until the libresolv resolver lands: every domain is its own mail host (the RFC 5321 5.1
/// fallback when a domain has no MX), resolved by the system when connecting.
public struct SystemMXResolver: MXResolver {
    public init() {}

    public func mailHosts(for domain: String) async -> MailHosts {
        .hosts([domain])
    }
}
