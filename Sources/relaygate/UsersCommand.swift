import ArgumentParser
import Foundation
import Mailbox
import Relaygate

struct UsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the users file (SMTP AUTH and POP3 logins).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user, or set a user's password and settings.",
            discussion: """
                The password is read from standard input: typed twice without echo on a terminal, or the first \
                line of a pipe (`echo secret | relaygate users add alice`). It is stored as a yescrypt hash.

                Who may send as whom: a user who logs in over SMTP (AUTH) may use any envelope sender, because \
                apps and servers that use Relaygate as their smarthost send as many addresses. --send-as limits \
                that to a list; any other sender gets 553 5.7.1. Bounces (MAIL FROM:<>) are always allowed.
                """)
        @OptionGroup var common: CommonOptions
        @Argument(help: "The user name (what clients log in as).") var name: String

        @Option(
            help: ArgumentHelp(
                "The mailbox the user reads over POP3 and IMAP (default: the one named like the user).",
                valueName: "name"))
        var mailbox: String?

        @Option(
            name: .customLong("send-as"),
            help: ArgumentHelp(
                "The only envelope senders the user may use over SMTP, comma-separated; *@example.org allows a "
                    + "domain. Default: any sender. An empty value removes the limit.",
                valueName: "list"))
        var sendAs: String?

        func run() throws {
            guard UsersFile.isValidName(name) else {
                throw ValidationError("\"\(name)\" is not a valid user name (no spaces, no colon)")
            }
            let settings = try common.settings()
            var users = try loadUsers(settings)
            let existed = users.hash(for: name) != nil
            // The settings are checked before the password is asked for, so a typo costs no typing.
            var check = users
            check.set(name, hash: users.hash(for: name) ?? "")
            do {
                try applySettings(to: &check)
            } catch {
                throw ValidationError("\(error.message)")
            }
            let password = try PasswordPrompt.read(for: name)
            users.set(name, hash: try PasswordHash.make(password))
            try applySettings(to: &users)
            do {
                try users.save()
            } catch {
                throw RuntimeError("cannot write \(settings.usersFile): \(error)")
            }
            print("\(existed ? "set the password of" : "added") \(name) in \(settings.usersFile)")
        }

        private func applySettings(to users: inout UsersFile) throws(UsersFile.ParseError) {
            if let mailbox { try users.setSetting("mailbox", to: mailbox.isEmpty ? nil : mailbox, for: name) }
            if let sendAs { try users.setSetting("send_as", to: sendAs.isEmpty ? nil : sendAs, for: name) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() throws {
            let settings = try common.settings()
            var users = try loadUsers(settings)
            guard users.remove(name) else {
                printError("no user \(name) in \(settings.usersFile)")
                throw ExitCode.failure
            }
            try users.save()
            print("removed \(name) from \(settings.usersFile)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List user names.")
        @OptionGroup var common: CommonOptions

        func run() throws {
            for entry in try loadUsers(try common.settings()).entries { print(entry.name) }
        }
    }
}

private func loadUsers(_ settings: Settings) throws -> UsersFile {
    do {
        return try UsersFile.load(path: settings.usersFile)
    } catch {
        throw RuntimeError("\(error)")
    }
}

/// Reads a password from standard input without echoing it on a terminal.
enum PasswordPrompt {
    static func read(for name: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw RuntimeError("no password on standard input")
            }
            return line
        }
        let first = try readHidden(prompt: "Password for \(name): ")
        guard !first.isEmpty else { throw RuntimeError("empty password") }
        let second = try readHidden(prompt: "Again: ")
        guard first == second else { throw RuntimeError("the passwords differ") }
        return first
    }

    /// Turns echo off before the prompt appears, so nothing typed after it can be echoed, and without
    /// discarding what was typed ahead (TCSANOW, not TCSAFLUSH).
    private static func readHidden(prompt: String) throws -> String {
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var hidden = saved
        hidden.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &hidden)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        guard let line = readLine(strippingNewline: true) else { throw RuntimeError("no password given") }
        return line
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("relaygate: \(message)\n".utf8))
}
