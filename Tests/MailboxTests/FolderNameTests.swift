import Mailbox
import Testing

@Suite struct FolderNameTests {
    @Test func inboxIsCaseInsensitiveAndIsTheMaildirItself() throws {
        for spelling in ["INBOX", "inbox", "InBoX"] {
            let folder = try FolderName(spelling)
            #expect(folder == .inbox && folder.name == "INBOX" && folder.directory == "")
        }
    }

    @Test func foldersAreMaildirPlusPlusDirectories() throws {
        #expect(try FolderName("Sent").directory == ".Sent")
        #expect(try FolderName("Archive.2024").directory == ".Archive.2024")
        #expect(try FolderName("Archive.2024").parent == FolderName("Archive"))
        #expect(try FolderName("&AMk-t&AOk-").directory == ".&AMk-t&AOk-", "modified UTF-7 is kept as sent")
        #expect(FolderName(directory: ".Sent") == (try FolderName("Sent")))
        #expect(FolderName(directory: "cur") == nil && FolderName(directory: "..") == nil)
    }

    /// One case per way a name could try to leave the mailbox or confuse the layout.
    @Test(arguments: [
        ("", FolderName.Problem.empty),
        ("..", .emptyLevel),
        ("../other", .forbiddenCharacter("/")),
        ("/etc", .forbiddenCharacter("/")),
        ("a/b", .forbiddenCharacter("/")),
        (".hidden", .emptyLevel),
        ("trailing.", .emptyLevel),
        ("a..b", .emptyLevel),
        ("~root", .forbiddenCharacter("~")),
        ("a\u{0}b", .forbiddenCharacter("\u{0}")),
        ("a\nb", .forbiddenCharacter("\n")),
        ("a*", .forbiddenCharacter("*")),
        ("a%", .forbiddenCharacter("%")),
        ("INBOX.child", .underInbox),
        (String(repeating: "x", count: 256), .tooLong),
    ])
    func namesThatCouldEscapeAreRefused(_ name: String, _ problem: FolderName.Problem) {
        #expect(throws: problem) { try FolderName(name) }
    }

    @Test func problemsReadAsAdvice() {
        #expect("\(FolderName.Problem.forbiddenCharacter("/"))" == "folder names may not contain \"/\"")
        #expect("\(FolderName.Problem.forbiddenCharacter("\n"))" == "folder names may not contain control characters")
    }
}
