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
            abstract: "Add a user, or set a user's password.",
            discussion: """
                The password is read from standard input: typed twice without echo on a terminal, or the first \
                line of a pipe (`echo secret | relaygate users add alice`). It is stored as a yescrypt hash.
                """)
        @OptionGroup var common: CommonOptions
        @Argument(help: "The user name (what clients log in as).") var name: String

        func run() throws {
            guard UsersFile.isValidName(name) else {
                throw ValidationError("\"\(name)\" is not a valid user name (no spaces, no colon)")
            }
            let settings = try common.settings()
            var users = try loadUsers(settings)
            let existed = users.hash(for: name) != nil
            let password = try PasswordPrompt.read(for: name)
            users.set(name, hash: try PasswordHash.make(password))
            try users.save()
            print("\(existed ? "set the password of" : "added") \(name) in \(settings.usersFile)")
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
        throw ValidationError("\(error)")
    }
}

/// Reads a password from standard input without echoing it on a terminal.
enum PasswordPrompt {
    static func read(for name: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("no password on standard input")
            }
            return line
        }
        let first = try readHidden(prompt: "Password for \(name): ")
        guard !first.isEmpty else { throw ValidationError("empty password") }
        let second = try readHidden(prompt: "Again: ")
        guard first == second else { throw ValidationError("the passwords differ") }
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
        guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password given") }
        return line
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("relaygate: \(message)\n".utf8))
}
