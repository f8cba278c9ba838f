import Foundation
import MailModel
import Testing

@testable import Routing

@Suite struct SRSTests {
    let srs = SRS(secrets: [Array("test-secret".utf8)])
    let day = 20_784
    let alice = try! EmailAddress(parsing: "alice@example.org")

    @Test func roundTrip() throws {
        let rewritten = srs.forward(alice, through: "shop.example", day: day)
        #expect(rewritten.domain.name == "shop.example")
        #expect(rewritten.localPart.hasPrefix("SRS0="))
        #expect(rewritten.localPart.hasSuffix("=JQ=example.org=alice"))
        #expect(try srs.reverse(rewritten.localPart, day: day) == alice)
    }

    @Test func forwardingAnSRS0AddressMakesSRS1ThatLeadsBackToIt() throws {
        let first = SRS(secrets: [Array("first-hop".utf8)]).forward(alice, through: "one.example", day: day)
        let second = srs.forward(first, through: "two.example", day: day)
        #expect(second.localPart.hasPrefix("SRS1="))
        #expect(second.localPart.contains("=one.example=="))
        #expect(try srs.reverse(second.localPart, day: day) == first)
        // And an SRS1 forwarded again stays SRS1, re-signed, still pointing at the first hop.
        let third = SRS(secrets: [Array("third".utf8)]).forward(second, through: "three.example", day: day)
        #expect(third.localPart.hasPrefix("SRS1="))
        #expect(third.localPart.contains("=one.example=="))
    }

    @Test func expiresAfterMaxAgeIncludingAcrossTheTimestampWrap() throws {
        for start in [day, 1023, 1020] {
            let rewritten = srs.forward(alice, through: "shop.example", day: start).localPart
            #expect(try srs.reverse(rewritten, day: start + 21) == alice)
            #expect(throws: SRS.ReverseError.expired) { try srs.reverse(rewritten, day: start + 22) }
            #expect(throws: SRS.ReverseError.expired) { try srs.reverse(rewritten, day: start - 1) }
        }
    }

    @Test func forgedHashIsRefused() {
        let rewritten = srs.forward(alice, through: "shop.example", day: day).localPart
        let fields = rewritten.split(separator: "=", omittingEmptySubsequences: false)
        let forgedUser = fields.dropLast().joined(separator: "=") + "=mallory"
        #expect(throws: SRS.ReverseError.badHash) { try srs.reverse(forgedUser, day: day) }
        let otherKey = SRS(secrets: [Array("not-ours".utf8)])
        #expect(throws: SRS.ReverseError.badHash) { try otherKey.reverse(rewritten, day: day) }
        #expect(throws: SRS.ReverseError.malformed) { try srs.reverse("SRS0=abcd=JQ", day: day) }
        #expect(throws: SRS.ReverseError.notSRS) { try srs.reverse("alice", day: day) }
    }

    @Test func caseChangesStillVerify() throws {
        let rewritten = srs.forward(alice, through: "shop.example", day: day).localPart
        #expect(try srs.reverse(rewritten.lowercased(), day: day) == (try EmailAddress(parsing: "alice@example.org")))
        #expect(try srs.reverse(rewritten.uppercased(), day: day).description.lowercased() == "alice@example.org")
    }

    @Test func longLocalPartsSurvive() throws {
        let long = try EmailAddress(parsing: String(repeating: "a", count: 64) + "@" + "sub.example.org")
        let rewritten = srs.forward(long, through: "shop.example", day: day)
        #expect(try srs.reverse(rewritten.localPart, day: day) == long)
        // Separators inside the original local part belong to it.
        let tricky = try EmailAddress(parsing: "a=b=c@example.org")
        #expect(try srs.reverse(srs.forward(tricky, through: "shop.example", day: day).localPart, day: day) == tricky)
    }

    /// What SRS writes must come back in through our own SMTP grammar and intake limit: a bounce to it is
    /// a RCPT like any other. A quoted sender gives a quoted SRS address; a long one, a long SRS address.
    @Test(arguments: [
        "\"alice smith\"@example.org", "\"a\\\"b\"@example.org",
        "010001890abcdef0-12345678-9abc-def0-1234-56789abcdef0-000000@amazonses.com",
        String(repeating: "a", count: 64) + "@" + String(repeating: "d", count: 60) + ".example.org",
        // The longest sender MAIL takes, at the longest domain.
        String(repeating: "m", count: 512) + "@" + Array(repeating: String(repeating: "d", count: 63), count: 4)
            .joined(separator: "."),
    ])
    func whatSRSWritesParsesAndReturns(_ text: String) throws {
        let sender = try EmailAddress(parsingPath: "<\(text)>", limits: .intake)
        let rewritten = srs.forward(sender, through: "shop.example", day: day)
        let parsed = try EmailAddress(parsingPath: "<\(rewritten)>", limits: AddressLimits.intake.forRecipients)
        #expect(parsed == rewritten)
        #expect(try srs.reverse(parsed.localPart, day: day) == sender)
        // Forwarded once more (SRS1), it still parses and still leads back.
        let again = srs.forward(rewritten, through: "two.example", day: day)
        #expect(try EmailAddress(parsingPath: "<\(again)>", limits: AddressLimits.intake.forRecipients) == again)
        #expect(try srs.reverse(again.localPart, day: day) == rewritten)
    }

    @Test func aQuotedSenderIsRewrittenOnItsContent() throws {
        let rewritten = srs.forward(try EmailAddress(parsing: "\"alice smith\"@example.org"), through: "shop.example", day: day)
        #expect(rewritten.localPart.hasPrefix("\"SRS0="))
        #expect(rewritten.localPart.hasSuffix("=JQ=example.org=alice smith\""))
    }

    @Test func rotatedSecretsStillVerify() throws {
        let old = SRS(secrets: [Array("old".utf8)])
        let rotated = SRS(secrets: [Array("new".utf8), Array("old".utf8)])
        let signedByOld = old.forward(alice, through: "shop.example", day: day).localPart
        #expect(try rotated.reverse(signedByOld, day: day) == alice)
        #expect(rotated.forward(alice, through: "shop.example", day: day).localPart != signedByOld, "the first key signs")
    }

    // MARK: Cross-check with Mail::SRS (Debian's `srs` command), in both directions

    static let srsCommand = "/usr/bin/srs"
    var today: Int { Int(Date().timeIntervalSince1970 / 86400) }

    func perlSRS(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.srsCommand)
        process.arguments = ["--secret=test-secret"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: srsCommand)))
    func ourAddressesAreTheirsAndReverseInTheirs() throws {
        for sender in ["alice@example.org", "Bob.Smith+x@Sub.Example.ORG", "SRS0=abcd=JQ=example.org=carol@hop.example"] {
            let address = try EmailAddress(parsing: sender)
            let ours = srs.forward(address, through: "shop.example", day: today).description
            let theirs = try perlSRS(["--address=\(sender)", "--alias=shop.example"])
            #expect(ours == theirs, "forward \(sender)")
            let back = try perlSRS(["--reverse", ours])
            let expected = ours.hasPrefix("SRS1") ? "SRS0=abcd=JQ=example.org=carol@hop.example" : sender
            #expect(back == expected, "their reverse of our \(ours)")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: srsCommand)))
    func theirAddressesReverseInOurs() throws {
        let theirs = try perlSRS(["--address=dave@example.org", "--alias=shop.example"])
        let address = try EmailAddress(parsing: theirs)
        #expect(try srs.reverse(address.localPart, day: today) == (try EmailAddress(parsing: "dave@example.org")))
    }
}
