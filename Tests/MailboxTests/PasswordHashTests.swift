import Mailbox
import Testing

/// Hashes of "secret" made by other tools: mkpasswd (yescrypt, bcrypt), openssl passwd (SHA-512, SHA-256).
struct HashFixture: Sendable, CustomTestStringConvertible {
    let format: String
    let hash: String
    var testDescription: String { format }

    static let all = [
        HashFixture(
            format: "yescrypt", hash: "$y$j9T$zCHHV.ucn6TVf3B.IndX/0$RuQxRjCnTFqFRjgLdMSTHVJLgsnNSDWom3oF5NvR3oB"),
        HashFixture(
            format: "sha512-crypt",
            hash:
                "$6$relaygatesalt$isgq.wk2tq1CMUD5iPqOe.UhsBaepw9Rzoa63zXmA7mBFHvA/QwVA0uqj.PgHD0sI4tlWnh9tDu738Tcj64Ie0"
        ),
        HashFixture(format: "sha256-crypt", hash: "$5$relaygatesalt$y2KGkwxB7ONE1iXD804IhR984Ktu3N5GMr.iMBd94x9"),
        HashFixture(format: "bcrypt", hash: "$2b$05$BaFgA00kUWeutsurSAJcJ.XVy9vvUupR96oPuXeWMdIEKyf70Vuz6"),
        HashFixture(
            format: "dovecot-prefixed",
            hash:
                "{SHA512-CRYPT}$6$relaygatesalt$isgq.wk2tq1CMUD5iPqOe.UhsBaepw9Rzoa63zXmA7mBFHvA/QwVA0uqj.PgHD0sI4tlWnh9tDu738Tcj64Ie0"
        ),
    ]
}

@Suite struct PasswordHashTests {
    @Test(arguments: HashFixture.all)
    func verifiesHashesFromOtherTools(_ fixture: HashFixture) {
        #expect(PasswordHash.isSupported(fixture.hash))
        #expect(PasswordHash.verify("secret", against: fixture.hash))
        #expect(!PasswordHash.verify("Secret", against: fixture.hash))
        #expect(!PasswordHash.verify("", against: fixture.hash))
        #expect(!PasswordHash.verify("secret\0anything", against: fixture.hash), "crypt(3) must not see a NUL")
    }

    @Test func makesYescryptThatVerifies() throws {
        let hash = try PasswordHash.make("correct horse")
        #expect(hash.hasPrefix("$y$"))
        #expect(PasswordHash.verify("correct horse", against: hash))
        #expect(!PasswordHash.verify("correct horse ", against: hash))
        #expect(try PasswordHash.make("correct horse") != hash, "salts must differ")
    }

    @Test(arguments: ["", "!", "*", "!$6$locked", "plaintext", "$1x$bad"])
    func refusesWhatIsNotAHash(_ hash: String) {
        #expect(!PasswordHash.isSupported(hash))
        #expect(!PasswordHash.verify("", against: hash))
        #expect(!PasswordHash.verify(hash, against: hash))
    }
}
