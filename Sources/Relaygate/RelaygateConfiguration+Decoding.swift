import Delivery
import MailModel
import Server

/// Strict decoding: an unknown key or a bad value is an error that names the key (and, through
/// `ConfigurationLoader`, the file and line). A typo must never be silently ignored in a mail server's
/// configuration.
extension RelaygateConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: [
            "hostname", "spool", "users_file", "tls", "listen", "smtp", "pop3", "imap", "auth", "shutdown_grace",
            "spool_threads",
            "log_level", "routing", "upstreams", "delivery",
        ])
        hostname = try keys.value("hostname", default: hostname)
        guard Domain.isHostname(hostname) else {
            throw keys.invalid(
                "hostname", "must be a host name such as mx.example.org (letters, digits, hyphens, dots)")
        }
        spool = try keys.value("spool", default: spool)
        usersFile = try keys.value("users_file", default: usersFile)
        tls = try keys.value("tls", default: tls)
        listen = try keys.value("listen", default: listen)
        smtp = try keys.value("smtp", default: smtp)
        pop3 = try keys.mailboxAccess("pop3", default: pop3)
        imap = try keys.mailboxAccess("imap", default: imap)
        auth = try keys.value("auth", default: auth)
        shutdownGrace = try keys.value("shutdown_grace", default: shutdownGrace)
        spoolThreads = try keys.value("spool_threads", default: spoolThreads)
        guard (1...1024).contains(spoolThreads) else { throw keys.invalid("spool_threads", "must be 1 to 1024") }
        logLevel = try keys.value("log_level", default: logLevel)
        guard Self.logLevels.contains(logLevel) else {
            throw keys.invalid("log_level", "must be one of \(Self.logLevels.joined(separator: ", "))")
        }
        routing = try keys.value("routing", default: routing)
        delivery = try keys.value("delivery", default: delivery)
        upstreams = try keys.value("upstreams", default: upstreams)
        for name in upstreams.keys where Route("relay:" + name) == nil {
            throw keys.invalid("upstreams", "\"\(name)\" is not a name: use letters, digits, '.', '_' and '-'")
        }
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
}

extension RelaygateConfiguration.TLSSettings: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: ["certificate", "key"])
        certificate = try keys.value("certificate", default: certificate)
        key = try keys.value("key", default: key)
        // Point at the key that is there, and say which one is missing.
        if certificate != nil && key == nil {
            throw keys.invalid("certificate", "tls needs both certificate and key; key is missing")
        }
        if certificate == nil && key != nil {
            throw keys.invalid("key", "tls needs both certificate and key; certificate is missing")
        }
    }
}

extension RelaygateConfiguration.ListenSettings: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: ["smtp", "smtps", "pop3", "pop3s", "imap", "imaps"])
        smtp = try keys.addresses("smtp", default: [])
        smtps = try keys.addresses("smtps", default: [])
        pop3 = try keys.addresses("pop3", default: [])
        pop3s = try keys.addresses("pop3s", default: [])
        imap = try keys.addresses("imap", default: [])
        imaps = try keys.addresses("imaps", default: [])
        isDefault = false
    }
}

extension RelaygateConfiguration.SMTPSettings: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: [
            "max_message_size", "max_recipients", "max_line_length", "max_local_part", "max_errors",
            "max_received_headers", "max_connections", "max_connections_per_client", "command_timeout", "data_timeout",
            "min_data_rate",
            "relay_networks", "min_free_space",
        ])
        maxMessageSize = try keys.value("max_message_size", default: maxMessageSize)
        guard maxMessageSize.octets > 0 else { throw keys.invalid("max_message_size", "must be above 0") }
        maxRecipients = try keys.positive("max_recipients", default: maxRecipients)
        maxLineLength = try keys.value("max_line_length", default: maxLineLength)
        guard maxLineLength >= 512 else {
            throw keys.invalid("max_line_length", "must be at least 512 (RFC 5321 4.5.3.1.4)")
        }
        maxLocalPart = try keys.value("max_local_part", default: maxLocalPart)
        guard maxLocalPart >= 64 else {
            throw keys.invalid(
                "max_local_part", "must be at least 64 (RFC 5321 4.5.3.1.1: the least a server must take)")
        }
        maxErrors = try keys.positive("max_errors", default: maxErrors)
        maxReceivedHeaders = try keys.positive("max_received_headers", default: maxReceivedHeaders)
        maxConnections = try keys.positive("max_connections", default: maxConnections)
        maxConnectionsPerClient = try keys.positive("max_connections_per_client", default: maxConnectionsPerClient)
        commandTimeout = try keys.value("command_timeout", default: commandTimeout)
        dataTimeout = try keys.value("data_timeout", default: dataTimeout)
        for (name, value) in [("command_timeout", commandTimeout), ("data_timeout", dataTimeout)]
        where value.duration <= .zero {
            throw keys.invalid(name, "must be more than 0")
        }
        minDataRate = try keys.value("min_data_rate", default: minDataRate)
        relayNetworks = try keys.value("relay_networks", default: relayNetworks)
        for (index, network) in relayNetworks.enumerated() where IPNetwork(network) == nil {
            throw keys.invalid(
                "relay_networks", index: index,
                "\"\(network)\" is not a network such as 192.0.2.0/24 or 2001:db8::/32 (host bits must be zero)")
        }
        minFreeSpace = try keys.value("min_free_space", default: minFreeSpace)
    }
}

extension RelaygateConfiguration.AuthSettings: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: [
            "max_failures", "failure_window", "failure_delay", "max_delay",
        ])
        maxFailures = try keys.positive("max_failures", default: maxFailures)
        failureWindow = try keys.value("failure_window", default: failureWindow)
        failureDelay = try keys.value("failure_delay", default: failureDelay)
        maxDelay = try keys.value("max_delay", default: maxDelay)
        guard maxDelay.duration >= failureDelay.duration else {
            throw keys.invalid("max_delay", "must be at least failure_delay")
        }
    }
}

extension RelaygateConfiguration.DeliverySettings: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: [
            "enabled", "first_retry", "max_retry_interval", "lifetime", "delay_warning", "max_connections",
            "max_per_destination", "mailboxes", "dns_server", "ip_version",
        ])
        enabled = try keys.value("enabled", default: enabled)
        firstRetry = try keys.value("first_retry", default: firstRetry)
        maxRetryInterval = try keys.value("max_retry_interval", default: maxRetryInterval)
        lifetime = try keys.value("lifetime", default: lifetime)
        delayWarning = try keys.value("delay_warning", default: delayWarning)
        for (name, value) in [
            ("first_retry", firstRetry), ("max_retry_interval", maxRetryInterval), ("lifetime", lifetime),
            ("delay_warning", delayWarning),
        ] where value.duration < .seconds(1) {
            throw keys.invalid(name, "must be at least 1s")
        }
        guard maxRetryInterval.duration >= firstRetry.duration else {
            throw keys.invalid("max_retry_interval", "must not be shorter than first_retry")
        }
        maxConnections = try keys.positive("max_connections", default: maxConnections)
        maxPerDestination = try keys.positive("max_per_destination", default: maxPerDestination)
        mailboxes = try keys.value("mailboxes", default: mailboxes)
        ipVersion = try keys.value("ip_version", default: ipVersion)
        guard AddressFamilyPolicy(rawValue: ipVersion) != nil else {
            throw keys.invalid(
                "ip_version", "must be one of \(AddressFamilyPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        dnsServer = try keys.value("dns_server", default: dnsServer)
        if let server = dnsServer {
            let parts = server.split(separator: ":")
            guard parts.count == 2, IPAddress(String(parts[0]))?.isIPv4 == true, let port = Int(parts[1]),
                (1...65535).contains(port)
            else { throw keys.invalid("dns_server", "must be IPV4-ADDRESS:PORT, such as 127.0.0.1:53") }
        }
    }
}

extension RelaygateConfiguration.RoutingSettings: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: ["subaddress_delimiter", "srs_secret_file", "srs_max_age"])
        subaddressDelimiter = try keys.value("subaddress_delimiter", default: subaddressDelimiter)
        guard subaddressDelimiter.count <= 1,
            !subaddressDelimiter.contains(where: { $0 == "@" || $0 == "\"" || $0.isWhitespace })
        else { throw keys.invalid("subaddress_delimiter", "must be one character such as + or -, or empty for none") }
        srsSecretFile = try keys.value("srs_secret_file", default: srsSecretFile)
        srsMaxAge = try keys.value("srs_max_age", default: srsMaxAge)
        guard srsMaxAge.duration >= .seconds(86400) else {
            throw keys.invalid("srs_max_age", "must be at least 1d (SRS timestamps count days)")
        }
    }
}

extension RelaygateConfiguration.Upstream: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init()
        let keys = try decoder.strictContainer(allowing: [
            "hosts", "tls", "username", "password", "password_env", "password_file", "verify_certificate",
            "tls_ca_file", "tls_fingerprint", "allow_plaintext_auth",
        ])
        hosts = try keys.value("hosts", default: hosts)
        guard !hosts.isEmpty else {
            throw keys.invalid("hosts", "give at least one HOST:PORT, such as smtp.example.com:587")
        }
        for (index, host) in hosts.enumerated() where !Self.isHostAndPort(host) {
            throw keys.invalid("hosts", index: index, "\"\(host)\" is not HOST:PORT, such as smtp.example.com:587")
        }
        let mode = try keys.value("tls", default: tls.rawValue)
        guard let parsed = TLSMode(rawValue: mode) else {
            throw keys.invalid("tls", "must be starttls, implicit (port 465) or none")
        }
        tls = parsed
        username = try keys.value("username", default: username)
        password = try keys.value("password", default: password)
        passwordEnvironment = try keys.value("password_env", default: passwordEnvironment)
        passwordFile = try keys.value("password_file", default: passwordFile)
        let sources = [password, passwordEnvironment, passwordFile].compactMap { $0 }
        guard sources.count <= 1 else {
            throw keys.invalid("password", "give the password one way: password, password_env or password_file")
        }
        if username != nil && sources.isEmpty {
            throw keys.invalid("username", "a username needs password, password_env or password_file")
        }
        if username == nil && !sources.isEmpty {
            throw keys.invalid("username", "a password needs a username")
        }
        verifyCertificate = try keys.value("verify_certificate", default: verifyCertificate)
        tlsCAFile = try keys.value("tls_ca_file", default: tlsCAFile)
        let fingerprints: String? = try keys.value("tls_fingerprint", default: nil)
        if let fingerprints {
            tlsFingerprints = try fingerprints.split(whereSeparator: { $0 == "," || $0 == " " }).map {
                guard let octets = Self.fingerprint($0) else {
                    throw keys.invalid(
                        "tls_fingerprint",
                        "\"\($0)\" is not a SHA-256 fingerprint (64 hex digits, colons allowed); get the certificate's with "
                            + "`openssl s_client -connect HOST:PORT -starttls smtp </dev/null | openssl x509 -noout -fingerprint -sha256`"
                    )
                }
                return octets
            }
        }
        allowPlaintextAuth = try keys.value("allow_plaintext_auth", default: allowPlaintextAuth)
        if tlsCAFile != nil && !tlsFingerprints.isEmpty {
            throw keys.invalid("tls_fingerprint", "give tls_ca_file or tls_fingerprint, not both: a pin needs no CA")
        }
        if (tlsCAFile != nil || !tlsFingerprints.isEmpty) && !verifyCertificate {
            throw keys.invalid(
                "verify_certificate",
                "false turns checking off, and tls_ca_file or tls_fingerprint say how to check: drop one")
        }
        if (tlsCAFile != nil || !tlsFingerprints.isEmpty) && tls == .none {
            throw keys.invalid("tls", "is none, so tls_ca_file and tls_fingerprint have nothing to check")
        }
        if username != nil && tls == .none && !allowPlaintextAuth {
            throw keys.invalid(
                "tls",
                "is none, so the password would cross the network in plaintext: use starttls or implicit, "
                    + "or set allow_plaintext_auth: true if the path to the upstream is yours")
        }
    }

    /// 32 octets from 64 hex digits, colons allowed between them, an optional `sha256:` in front.
    static func fingerprint(_ text: Substring) -> [UInt8]? {
        var digits = text.lowercased()
        if digits.hasPrefix("sha256:") { digits.removeFirst(7) }
        digits.removeAll { $0 == ":" }
        guard digits.count == 64 else { return nil }
        var octets: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let octet = UInt8(digits[index..<next], radix: 16) else { return nil }
            octets.append(octet)
            index = next
        }
        return octets
    }

    /// `host:port` or `[ipv6]:port`.
    static func isHostAndPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return false }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return IPAddress(host) != nil || Domain.isHostname(host)
    }
}

/// A YAML mapping key by name.
struct ConfigurationKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A position inside a list, for error paths.
struct ConfigurationIndex: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

extension Decoder {
    /// The mapping at this point, refusing any key not in `allowing`.
    func strictContainer(allowing allowed: [String]) throws -> KeyedDecodingContainer<ConfigurationKey> {
        let container = try container(keyedBy: ConfigurationKey.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath + [key],
                    debugDescription: "unknown key; expected one of: \(allowed.joined(separator: ", "))"))
        }
        return container
    }
}

extension KeyedDecodingContainer where Key == ConfigurationKey {
    func value<T: Decodable>(_ name: String, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: ConfigurationKey(name)) ?? fallback
    }

    func positive(_ name: String, default fallback: Int) throws -> Int {
        let number = try value(name, default: fallback)
        guard number > 0 else { throw invalid(name, "must be a whole number above 0") }
        return number
    }

    /// A `pop3:` or `imap:` section: its keys override the protocol's own defaults.
    func mailboxAccess(_ name: String, default fallback: RelaygateConfiguration.MailboxAccessSettings) throws
        -> RelaygateConfiguration.MailboxAccessSettings
    {
        guard contains(ConfigurationKey(name)) else { return fallback }
        let keys = try superDecoder(forKey: ConfigurationKey(name)).strictContainer(allowing: [
            "idle_timeout", "login_timeout", "max_connections", "max_connections_per_client",
        ])
        var settings = fallback
        settings.idleTimeout = try keys.value("idle_timeout", default: settings.idleTimeout)
        guard settings.idleTimeout.duration > .zero else { throw keys.invalid("idle_timeout", "must be above 0") }
        settings.loginTimeout = try keys.value("login_timeout", default: settings.loginTimeout)
        guard settings.loginTimeout.duration > .zero else { throw keys.invalid("login_timeout", "must be above 0") }
        settings.maxConnections = try keys.positive("max_connections", default: settings.maxConnections)
        settings.maxConnectionsPerClient = try keys.positive(
            "max_connections_per_client", default: settings.maxConnectionsPerClient)
        return settings
    }

    func addresses(_ name: String, default fallback: [String]) throws -> [String] {
        let list = try value(name, default: fallback)
        for (index, text) in list.enumerated() where ListenAddress(text) == nil {
            throw invalid(name, index: index, "\"\(text)\" is not ADDRESS:PORT, such as 0.0.0.0:25 or [::]:465")
        }
        return list
    }

    func invalid(_ name: String, index: Int? = nil, _ message: String) -> DecodingError {
        var path = codingPath + [ConfigurationKey(name)] as [any CodingKey]
        if let index { path.append(ConfigurationIndex(index)) }
        return DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: message))
    }
}
