import Mailbox
import Testing

@Suite struct MaildirFileNameTests {
    @Test func parsesBaseAndFlags() throws {
        let name = try #require(MaildirFileName("1764230000.M1P2.host,S=10,W=12:2,FRS"))
        #expect(name.base == "1764230000.M1P2.host,S=10,W=12")
        #expect(name.flags == [.flagged, .answered, .seen])
        #expect(name.storedSize == 10 && name.wireSize == 12)
        #expect(name.curName == "1764230000.M1P2.host,S=10,W=12:2,FRS")
    }

    @Test func aNameFromNewHasNoInfo() throws {
        let name = try #require(MaildirFileName("1764230000.x.host"))
        #expect(name.flags == [] && name.wireSize == nil && name.curName == "1764230000.x.host:2,")
    }

    @Test func flagsAreWrittenInASCIIOrderAndUnknownLettersKept() throws {
        var name = try #require(MaildirFileName("b:2,Sa"))
        name.flags.insert(.draft)
        name.flags.insert(.deleted)
        #expect(name.curName == "b:2,DSTa")
        #expect(name.flags.imapNames == ["\\Deleted", "\\Seen", "\\Draft"])
    }

    @Test func dotFilesAndPathsAreNotMessages() {
        #expect(MaildirFileName(".nfs123") == nil)
        #expect(MaildirFileName("a/b") == nil)
        #expect(MaildirFileName("") == nil)
    }

    @Test func imapFlagNames() {
        #expect(MessageFlags(imapName: "\\seen") == .seen)
        #expect(MessageFlags(imapName: "\\Recent") == nil, "no one may set \\Recent")
        #expect(MessageFlags(imapName: "$Forwarded") == nil)
    }
}
