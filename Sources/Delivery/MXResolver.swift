import MailModel
import NIOCore

/// Finds the hosts that take mail for a domain (RFC 5321 5.1): its MX hosts in preference order, or the
/// domain itself when it has none; a null MX (RFC 7505) or a domain that does not exist is a permanent
/// failure, a resolver that cannot answer a temporary one.
public protocol MXResolver: Sendable {
    func mailHosts(for domain: String) async -> MailHosts
    /// The TCP addresses of a mail host, or whether it is known not to have any.
    func addresses(of host: String, port: Int) async -> HostAddresses
}

public enum MailHosts: Sendable, Equatable {
    case hosts([String])
    /// `status` is the RFC 3463 code a bounce gives (5.1.2 no such domain, 5.1.10 null MX).
    case failure(String, permanent: Bool, status: EnhancedStatusCode? = nil)
}

public enum HostAddresses: Sendable, Equatable {
    case addresses([SocketAddress])
    /// The name does not exist (NXDOMAIN), or has neither A nor AAAA records: no retry will change that
    /// soon, and a domain whose every mail host is so is bounced (5.4.4), as Postfix does.
    case notFound
    /// The lookup did not answer (a resolver that is down, a time-out): try again later.
    case unavailable
}
