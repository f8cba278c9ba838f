// swift-tools-version: 6.2
import PackageDescription

/// Our own targets treat warnings as errors; dependencies are built as their authors ship them.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "Relaygate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "relaygate", targets: ["relaygate"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // Shared vocabulary. No dependencies.
        .target(name: "MailModel", swiftSettings: strict),

        // Pure pieces the SMTP, POP3 and IMAP protocols share: CRLF line framing, dot-stuffing, SASL PLAIN.
        .target(
            name: "ProtocolSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),

        // Pure SMTP protocol: framing, parsing, session state machine. ByteBuffer only, no sockets.
        .target(
            name: "SMTPProtocol",
            dependencies: ["MailModel", "ProtocolSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),

        // Pure POP3 session (RFC 1939 + CAPA, STLS, SASL PLAIN). ByteBuffer only, no sockets.
        .target(
            name: "POP3Protocol",
            dependencies: ["ProtocolSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),

        // Pure IMAP: command framing with literals, the parser, the session state machine.
        .target(
            name: "IMAPProtocol",
            dependencies: ["ProtocolSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),

        // Pure policy: which recipients a client may hand us.
        .target(
            name: "Routing",
            dependencies: ["MailModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),

        // The POSIX file calls the spool and the mailboxes make, with errors that name the path.
        .target(name: "FileSupport", swiftSettings: strict),

        // The durable on-disk queue. Files only.
        .target(
            name: "Spool",
            dependencies: ["MailModel", "FileSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),

        // crypt(3) from libxcrypt: yescrypt, SHA-512-crypt, bcrypt.
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),

        // Maildir mailboxes, and the users and their password hashes.
        .target(name: "Mailbox", dependencies: ["MailModel", "FileSupport", "CCrypt"], swiftSettings: strict),

        // SwiftNIO listeners and connection drivers; TLS setup.
        .target(
            name: "Server",
            dependencies: [
                "MailModel", "ProtocolSupport", "SMTPProtocol", "POP3Protocol", "IMAPProtocol", "Routing", "Spool",
                "Mailbox", "FileSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Load generator for `relaygate bench send` (the sink lives in Server: it is the SMTP server without a spool).
        // libresolv, the system's DNS resolver library: MX lookups without a DNS client of our own.
        .systemLibrary(name: "CResolv"),
        .target(
            name: "Delivery",
            dependencies: [
                "MailModel", "ProtocolSupport", "SMTPProtocol", "Spool", "Mailbox", "CResolv",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(
            name: "Bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // Composition root: configuration, service wiring, start/stop.
        .target(
            name: "Relaygate",
            dependencies: [
                "MailModel", "SMTPProtocol", "POP3Protocol", "IMAPProtocol", "Routing", "Spool", "Mailbox", "Server",
                "Delivery", "FileSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),

        // The command-line executable. Thin.
        .executableTarget(
            name: "relaygate",
            dependencies: [
                "Relaygate", "Bench", "Server", "Spool", "Mailbox", "MailModel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // libFuzzer's target for the IMAP command framer, parser and pre-login session (scripts/fuzz-imap.sh
        // builds it with -sanitize=fuzzer,address). Built normally, it replays the inputs it is given, so a
        // crash file can be rerun under the debugger.
        .executableTarget(
            name: "imap-fuzz",
            dependencies: ["IMAPProtocol", .product(name: "NIOCore", package: "swift-nio")],
            path: "Sources/IMAPFuzz",
            swiftSettings: strict
        ),

        // Dialog fixtures shared by the pure session tests and the end-to-end tests.
        .target(name: "TranscriptSupport", path: "Tests/TranscriptSupport", swiftSettings: strict),
        // What several test targets share that is not a dialog: a seeded random generator.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "MailModelTests", dependencies: ["MailModel"], swiftSettings: strict),
        .testTarget(
            name: "ProtocolSupportTests",
            dependencies: ["ProtocolSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "POP3ProtocolTests",
            dependencies: ["POP3Protocol", "ProtocolSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "IMAPProtocolTests",
            dependencies: ["IMAPProtocol", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "SMTPProtocolTests",
            dependencies: [
                "SMTPProtocol", "ProtocolSupport", "MailModel", "Routing", "TranscriptSupport", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DeliveryTests",
            dependencies: [
                "Delivery", "MailModel", "SMTPProtocol", "Spool", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Peers"],
            swiftSettings: strict),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "MailModel"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(
            name: "SpoolTests",
            dependencies: [
                "Spool", "FileSupport", "MailModel", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .testTarget(name: "FileSupportTests", dependencies: ["FileSupport"], swiftSettings: strict),
        .testTarget(name: "MailboxTests", dependencies: ["Mailbox", "FileSupport", "MailModel"], swiftSettings: strict),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "SMTPProtocol", "IMAPProtocol", "MailModel", "Routing", "Mailbox", "FileSupport",
                "TranscriptSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "RelaygateTests", dependencies: ["Relaygate", "Spool", "MailModel"], swiftSettings: strict),
        // End to end: runs the built `relaygate` executable and talks to it with real clients over loopback.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "relaygate", "Spool", "MailModel", "TranscriptSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Peers"],
            swiftSettings: strict
        ),
    ]
)
