import Foundation
import MailModel

/// Every setting, with its embedded default: no file is needed to start. The optional file
/// `rules/relaygate.yaml` overrides any of them (keys below, in snake_case); the command line overrides the
/// file for the settings people change most. Relative paths are relative to the working directory, like the
/// defaults `rules/` and `spool/`.
///
///     hostname: mx.example.org
///     spool: /var/spool/relaygate
///     users_file: /etc/relaygate/users
///     tls:
///       certificate: /etc/letsencrypt/live/mx.example.org/fullchain.pem
///       key: /etc/letsencrypt/live/mx.example.org/privkey.pem
///     listen:
///       smtp: ["0.0.0.0:25", "[::]:25", "0.0.0.0:2525", "[::]:2525"]
///       smtps: ["0.0.0.0:465", "[::]:465"]
///       pop3: ["0.0.0.0:110", "[::]:110"]
///       pop3s: ["0.0.0.0:995", "[::]:995"]
///       imap: ["0.0.0.0:143", "[::]:143"]
///       imaps: ["0.0.0.0:993", "[::]:993"]
///     smtp:
///       max_message_size: 50MiB
///       relay_networks: [127.0.0.0/8, "::1/128", 10.0.0.0/8]
///
/// See docs/configuration.md for every key.
public struct RelaygateConfiguration: Sendable, Equatable {
    /// The name in the greeting, the EHLO reply and the Received header; the name the generated certificate is
    /// for. Defaults to the system's host name.
    public var hostname: String = RelaygateConfiguration.systemHostname()
    /// The spool directory: the queue, the generated TLS certificate.
    public var spool: String = "spool"
    /// The users file for SMTP AUTH, POP3 and IMAP. Defaults to `users` in the rules directory.
    public var usersFile: String?
    public var tls = TLSSettings()
    public var listen = ListenSettings()
    public var smtp = SMTPSettings()
    public var pop3 = MailboxAccessSettings.pop3
    public var imap = MailboxAccessSettings.imap
    public var auth = AuthSettings()
    /// How long a stop waits for transactions in flight before closing them.
    public var shutdownGrace = TimeSpan(.seconds(10))
    /// Threads that do the spool's blocking file work (writes, fsync). Concurrent commits share directory
    /// syncs, so this should be at least the number of sessions expected to send at once.
    public var spoolThreads = 32
    /// trace, debug, info, notice, warning, error or critical.
    public var logLevel = "info"
    public var routing = RoutingSettings()
    public var delivery = DeliverySettings()
    /// Named smarthosts that `route … relay:NAME` lines send mail through.
    public var upstreams: [String: Upstream] = [:]

    public init() {}

    public struct DeliverySettings: Sendable, Equatable {
        /// False: accept and queue only, deliver nothing (while migrating, or to inspect the queue).
        public var enabled = true
        /// The first retry after a temporary failure; later ones wait twice as long, up to `maxRetryInterval`.
        public var firstRetry = TimeSpan(.seconds(300))
        public var maxRetryInterval = TimeSpan(.seconds(3600))
        /// How long a message may stay queued before its pending recipients fail for good.
        public var lifetime = TimeSpan(.seconds(5 * 86400))
        /// After this long queued, the sender hears once that the message is delayed.
        public var delayWarning = TimeSpan(.seconds(4 * 3600))
        public var maxConnections = 100
        public var maxPerDestination = 20
        /// Where `mailbox:NAME` Maildirs live. Defaults to `mailboxes` in the spool.
        public var mailboxes: String?
        /// One IPv4 name server (`ADDRESS:PORT`) for MX lookups instead of /etc/resolv.conf's.
        public var dnsServer: String?
        /// any, ipv4, ipv6, prefer-ipv4 or prefer-ipv6: which addresses of a next hop are tried, in what order.
        public var ipVersion = "any"
    }

    public struct RoutingSettings: Sendable, Equatable {
        /// `user+tag@d` falls back to `user@d`; empty turns subaddresses off.
        public var subaddressDelimiter = "+"
        /// SRS keys, one per line, the first signs; made on first start (0600) when absent. Defaults to
        /// `srs-secrets` in the spool.
        public var srsSecretFile: String?
        /// How long an SRS bounce address stays valid.
        public var srsMaxAge = TimeSpan(.seconds(21 * 86400))
    }

    /// A smarthost: its hosts are tried in order.
    public struct Upstream: Sendable, Equatable {
        public enum TLSMode: String, Sendable, Equatable, CaseIterable {
            case starttls, implicit, none
        }

        public var hosts: [String] = []
        public var tls = TLSMode.starttls
        public var username: String?
        /// At most one of these three says where the password is.
        public var password: String?
        public var passwordEnvironment: String?
        public var passwordFile: String?
        /// Verify the upstream's certificate against the system trust store (or `tlsCAFile`).
        public var verifyCertificate = true
        /// PEM file of the CAs to verify the upstream's certificate against, instead of the system's.
        public var tlsCAFile: String?
        /// SHA-256 fingerprints (32 octets each) of the upstream's certificate or of its public key: the
        /// certificate is accepted when one matches, and no CA is asked (a self-signed upstream).
        public var tlsFingerprints: [[UInt8]] = []
        /// Send the password without TLS: refused unless this says the network is trusted.
        public var allowPlaintextAuth = false
    }

    public struct TLSSettings: Sendable, Equatable {
        /// PEM chain, leaf first. With neither set, a self-signed certificate is made under the spool.
        public var certificate: String?
        public var key: String?
    }

    public struct ListenSettings: Sendable, Equatable {
        /// Plain SMTP listeners; they offer STARTTLS.
        public var smtp = ["0.0.0.0:25", "[::]:25", "0.0.0.0:2525", "[::]:2525"]
        /// Implicit-TLS listeners (RFC 8314).
        public var smtps = ["0.0.0.0:465", "[::]:465"]
        /// POP3 listeners offering STLS, and implicit-TLS POP3 listeners.
        public var pop3 = ["0.0.0.0:110", "[::]:110"]
        public var pop3s = ["0.0.0.0:995", "[::]:995"]
        /// IMAP listeners offering STARTTLS, and implicit-TLS IMAP listeners.
        public var imap = ["0.0.0.0:143", "[::]:143"]
        public var imaps = ["0.0.0.0:993", "[::]:993"]
        /// True while these are the embedded defaults, so an IPv6 listener may be skipped on hosts without IPv6.
        public var isDefault = true
    }

    public struct SMTPSettings: Sendable, Equatable {
        public var maxMessageSize = ByteSize(octets: 50 << 20)
        public var maxRecipients = 1000
        public var maxLineLength = 2048
        /// Longest local part taken on MAIL, in octets (RCPT more: `AddressLimits.forRecipients`). Above RFC
        /// 5321's 64 on purpose: SRS addresses of long senders pass it. Lowering it never affects mail
        /// already queued.
        public var maxLocalPart = AddressLimits.intake.maxLocalPart
        public var maxErrors = 10
        public var maxReceivedHeaders = 50
        public var maxConnections = 1000
        public var maxConnectionsPerClient = 50
        public var commandTimeout = TimeSpan(.seconds(300))
        public var dataTimeout = TimeSpan(.seconds(300))
        /// Octets per second a client must average during DATA, once DATA has lasted 30 s; 0 turns it off.
        public var minDataRate = ByteSize(octets: 1024)
        /// Clients that may relay without AUTH. Loopback only by default: no open relay unless configured.
        public var relayNetworks = ["127.0.0.0/8", "::1/128"]
        /// Below this much free space in the spool, MAIL is answered 452 4.3.1.
        public var minFreeSpace = ByteSize(octets: 64 << 20)
    }

    /// The `pop3:` and `imap:` sections: how long a silent session lives and how many may be open.
    public struct MailboxAccessSettings: Sendable, Equatable {
        public var idleTimeout: TimeSpan
        /// How long a session that has not logged in lives without completing a command (a stalled TLS
        /// handshake included). Short, so silent connections cannot hold every slot; Dovecot's is 3 minutes.
        public var loginTimeout = TimeSpan(.seconds(180))
        public var maxConnections: Int
        public var maxConnectionsPerClient: Int

        /// RFC 1939 3 asks for at least 10 minutes.
        public static let pop3 = Self(
            idleTimeout: TimeSpan(.seconds(600)), maxConnections: 500, maxConnectionsPerClient: 20)
        /// RFC 3501 5.4 asks for at least 30 minutes; mail clients keep a connection or more open per device.
        public static let imap = Self(
            idleTimeout: TimeSpan(.seconds(1800)), maxConnections: 1000, maxConnectionsPerClient: 50)
    }

    public struct AuthSettings: Sendable, Equatable {
        /// Recent failures (of a client, or at an account) after which every attempt waits `maxDelay`.
        public var maxFailures = 5
        public var failureWindow = TimeSpan(.seconds(900))
        /// A wrong password's reply waits at least this; the penalty starts here and doubles per failure.
        public var failureDelay = TimeSpan(.seconds(1))
        /// The longest penalty (Dovecot's is 15 s too).
        public var maxDelay = TimeSpan(.seconds(15))
    }

    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // A system name that is no valid domain (an underscore, say) cannot go into a greeting.
        return Domain.isHostname(name) ? name : "localhost"
    }
}
