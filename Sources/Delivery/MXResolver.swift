/// Finds the hosts that take mail for a domain (RFC 5321 5.1): its MX hosts in preference order, or the
/// domain itself when it has none; a null MX (RFC 7505) or a domain that does not exist is a permanent
/// failure, a resolver that cannot answer a temporary one.
public protocol MXResolver: Sendable {
    func mailHosts(for domain: String) async -> MailHosts
}

public enum MailHosts: Sendable, Equatable {
    case hosts([String])
    case failure(String, permanent: Bool)
}
